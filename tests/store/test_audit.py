"""The audit trail: chain verification, tamper evidence, append-only enforcement."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from clestudy.errors import AuditChainError, ClestudyError
from clestudy.store import Store, canonical_json, make_engine, verify_audit

OpenStudy = Callable[..., Store]


def _populate(open_study: OpenStudy, url: str) -> None:
    store = open_study(url, "pediatric-cle-chart-review")
    store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"}, actor="c")
    store.save_record(
        "P01",
        "initiation",
        "steroids",
        {"prednisone_mg_day": "25"},
        actor="m",
        reason="typo",
        expected_version=1,
    )
    store.save_record("P01", "month_6", "steroids", {"prednisone_mg_day": "10"}, actor="c")


def test_intact_chain_verifies(open_study: OpenStudy, db_url: str) -> None:
    _populate(open_study, db_url)
    result = verify_audit(db_url)
    assert result.ok and result.events == 5


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "'mallory'"),
        ("occurred_at", "'2020-01-01T00:00:00.000000Z'"),
        ("after_json", '\'{"values":{"prednisone_mg_day":"2.5"},"version":2,"derived":{}}\''),
        ("before_json", "NULL"),
        ("reason", "'no reason'"),
        ("action", "'create'"),
        ("entity_key", "'pediatric-cle-chart-review/P02/initiation/steroids'"),
        ("hash", "'" + "f" * 64 + "'"),
        ("prev_hash", "'" + "e" * 64 + "'"),
    ],
)
def test_editing_any_audit_column_is_detected(
    open_study: OpenStudy, sqlite_url: str, column: str, value: str
) -> None:
    _populate(open_study, sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:  # an attacker with file access drops the guard first
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute(f"UPDATE audit_event SET {column} = {value} WHERE seq = 4")
    result = verify_audit(sqlite_url)
    assert not result.ok
    assert result.first_broken_seq == 4
    with pytest.raises(AuditChainError, match=r"^audit event 4: "):
        verify_audit(sqlite_url, raise_on_error=True)


def test_deleting_an_event_is_detected(open_study: OpenStudy, sqlite_url: str) -> None:
    """Events 3-5 are P01's chain; deleting its second event leaves a gap in that chain."""
    _populate(open_study, sqlite_url)
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        conn.execute("DROP TRIGGER audit_event_no_delete")
        conn.execute("DELETE FROM audit_event WHERE seq = 4")
    result = verify_audit(sqlite_url)
    assert result.first_broken_seq == 5
    assert result.problem == "sequence gap: expected event 2, found 3"


def test_deleting_an_enrolment_breaks_the_subject_chain(
    open_study: OpenStudy, sqlite_url: str
) -> None:
    """A subject chain starts from its enrolment event's hash (event 2, in the study chain)."""
    _populate(open_study, sqlite_url)
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        conn.execute("DROP TRIGGER audit_event_no_delete")
        conn.execute("DELETE FROM audit_event WHERE seq = 2")
    result = verify_audit(sqlite_url)
    assert result.first_broken_seq == 3
    assert result.problem == "prev_hash does not match the previous event's hash"


def test_database_refuses_update_and_delete_of_audit_rows(
    open_study: OpenStudy, db_url: str
) -> None:
    _populate(open_study, db_url)
    engine = make_engine(db_url)
    try:
        for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        engine.dispose()
    assert verify_audit(db_url).ok


def test_canonical_json_refuses_floats_and_sorts_keys() -> None:
    assert canonical_json({"b": [1, True, None], "a": "é"}) == '{"a":"é","b":[1,true,null]}'
    with pytest.raises(ClestudyError, match=r"float at \$\.x is not canonical"):
        canonical_json({"x": 0.1})


def test_respaced_json_that_hashes_the_same_is_detected(
    open_study: OpenStudy, sqlite_url: str
) -> None:
    """Verification hashes the parsed JSON; the stored text must also be what clestudy wrote."""
    _populate(open_study, sqlite_url)
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("UPDATE audit_event SET after_json = ' ' || after_json WHERE seq = 3")
    result = verify_audit(sqlite_url)
    assert result.first_broken_seq == 3
    assert result.problem == (
        "after_json is not the canonical JSON clestudy writes (edited outside clestudy)"
    )


def test_a_record_row_edited_behind_the_store_is_detected(
    open_study: OpenStudy, sqlite_url: str
) -> None:
    _populate(open_study, sqlite_url)
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        conn.execute(
            'UPDATE form_record SET values_json = \'{"prednisone_mg_day":"5"}\' '
            "WHERE visit_key = 'month_6'"
        )
    result = verify_audit(sqlite_url)
    assert not result.ok and result.first_broken_seq is None
    assert result.mismatched_record == "pediatric-cle-chart-review/P01/month_6/steroids"
    with pytest.raises(
        AuditChainError,
        match=r"^form record pediatric-cle-chart-review/P01/month_6/steroids: the row's values "
        r"differ from those its newest audit event \(5\) records: edited outside clestudy$",
    ):
        verify_audit(sqlite_url, raise_on_error=True)


def test_deleting_a_records_newest_event_from_the_end_is_detected(
    open_study: OpenStudy, sqlite_url: str
) -> None:
    """The chain without its last event is still a valid chain; the record row shows the gap."""
    store = open_study(sqlite_url, "pediatric-cle-chart-review")
    _populate(open_study, sqlite_url)
    store.save_record(
        "P01", "month_6", "steroids", {"prednisone_mg_day": "7.5"},
        actor="m", reason="correction", expected_version=1,
    )  # fmt: skip
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        conn.execute("DROP TRIGGER audit_event_no_delete")
        conn.execute("DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)")
    result = verify_audit(sqlite_url)
    assert result.first_broken_seq is None and result.events == 5
    assert result.mismatched_record == "pediatric-cle-chart-review/P01/month_6/steroids"
    assert result.problem is not None
    assert result.problem.startswith(
        "the row is at version 2 but its newest audit event (5) records version 1"
    )
