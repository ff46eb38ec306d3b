"""Queries in the store: the life cycle, the append-only thread, auto-raise from edit checks,
filters and days open, locked records, and ``audit verify`` over both tables."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from clestudy.errors import InputError, NotFoundError
from clestudy.protocol import load_protocol
from clestudy.store import (
    TRANSITIONS,
    QueryTransitionError,
    Store,
    audit_events,
    make_engine,
    verify_audit,
)
from clestudy.store._queries import thread_digest

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"
VS = {"vsdat": "2025-01-06", "weight": "70"}


class Clock:
    """A store clock moved by hand, after the real registration time."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)

    def __call__(self) -> dt.datetime:
        return self.now


def _store(open_study: OpenStudy, url: str, *, auto: bool = False) -> tuple[Store, Clock]:
    protocol = load_protocol(STUDY)
    if auto:
        settings = {**protocol.settings, "queries_from_edit_checks": True}
        protocol = protocol.model_copy(update={"settings": settings})
    store = open_study(url, protocol)
    clock = Clock()
    store.clock = clock
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record("L01", "week_0", "vs", VS, actor="coordinator")
    return store, clock


def test_a_query_goes_open_answered_closed_with_a_thread_and_an_event_each(
    open_study: OpenStudy, db_url: str
) -> None:
    store, clock = _store(open_study, db_url)
    raised = store.query_action(
        "raise", "L01", "week_0", "vs", "weight", text="Source says 72 kg?", actor="monitor"
    )
    assert (raised.status, raised.origin, raised.raised_by, raised.days_open) == (
        "open", "manual", "monitor", 0,
    )  # fmt: skip
    clock.now += dt.timedelta(days=3, hours=1)
    answered = store.query_action(
        "answer", "L01", "week_0", "vs", "weight", text="70 is right", actor="coordinator"
    )
    assert (answered.status, answered.days_open) == ("answered", 3)
    clock.now += dt.timedelta(days=1)
    closed = store.query_action(
        "close", "L01", "week_0", "vs", "weight", text=None, actor="monitor"
    )
    assert closed.status == "closed" and closed.closed_at is not None
    clock.now += dt.timedelta(days=10)  # a closed query's days open stop at its close
    assert store.query("L01", "week_0", "vs", "weight").days_open == 4
    thread = store.query("L01", "week_0", "vs", "weight").messages
    assert [(m.seq, m.action, m.status, m.author, m.text) for m in thread] == [
        (1, "raise", "open", "monitor", "Source says 72 kg?"),
        (2, "answer", "answered", "coordinator", "70 is right"),
        (3, "close", "closed", "monitor", ""),
    ]
    events = [e for e in audit_events(db_url) if e["entity_type"] == "query"]
    assert [e["action"] for e in events] == ["raise", "answer", "close"]
    assert {e["entity_key"] for e in events} == {f"{STUDY}/L01/week_0/vs/weight"}
    assert events[0]["before"] is None
    first_after = events[0]["after"]
    assert isinstance(first_after, dict)
    assert events[1]["before"] == {k: v for k, v in first_after.items() if k != "message"}
    assert events[2]["after"] == {
        "field": "weight", "status": "closed", "origin": "manual", "messages": 3,
        "thread_sha256": thread_digest(thread),
        "message": {"seq": 3, "action": "close", "author": "monitor", "at": thread[2].at,
                    "text": ""},
    }  # fmt: skip
    assert events[0]["reason"] == "Source says 72 kg?" and events[2]["reason"] is None
    assert verify_audit(db_url).ok


def test_send_back_and_reopen_and_every_refused_transition_writes_nothing(
    open_study: OpenStudy, db_url: str
) -> None:
    store, _ = _store(open_study, db_url)
    where = ("L01", "week_0", "vs", "vsdat")
    with pytest.raises(QueryTransitionError, match=r"cannot answer: the field has no query"):
        store.query_action("answer", *where, text="x", actor="c")
    store.query_action("raise", *where, text="date?", actor="m")
    with pytest.raises(
        QueryTransitionError,
        match=re.escape(
            "query on L01/week_0/vs/vsdat: cannot raise: the field holds a query that is open "
            "(raise is allowed from none)"
        ),
    ):
        store.query_action("raise", *where, text="again", actor="m")
    with pytest.raises(
        QueryTransitionError, match=r"cannot return: .* is open \(return is allowed"
    ):
        store.query_action("return", *where, text="more", actor="m")
    store.query_action("answer", *where, text="checked", actor="c")
    store.query_action("return", *where, text="please attach the source", actor="m")
    store.query_action("answer", *where, text="attached", actor="c")
    store.query_action("close", *where, text="fine", actor="m")
    with pytest.raises(QueryTransitionError, match=r"cannot answer: .* is closed"):
        store.query_action("answer", *where, text="late", actor="c")
    before = len(audit_events(db_url))
    with pytest.raises(InputError, match=r"'reopen' needs a message text"):
        store.query_action("reopen", *where, text="  ", actor="m")
    assert len(audit_events(db_url)) == before
    again = store.query_action("reopen", *where, text="new source found", actor="m")
    assert again.status == "open" and again.closed_at is None
    assert [m.action for m in again.messages] == [
        "raise", "answer", "return", "answer", "close", "reopen",
    ]  # fmt: skip
    with pytest.raises(InputError, match=r"query action 'delete' is not one of"):
        store.query_action("delete", *where, text="x", actor="m")
    assert verify_audit(db_url).ok


def test_unknown_fields_unsaved_records_and_long_texts_are_refused(
    open_study: OpenStudy, db_url: str
) -> None:
    store, _ = _store(open_study, db_url)
    with pytest.raises(NotFoundError, match=r"form 'vs' has no field 'nope'"):
        store.query_action("raise", "L01", "week_0", "vs", "nope", text="x", actor="m")
    with pytest.raises(NotFoundError, match=r"subject 'L99' is not enrolled"):
        store.query_action("raise", "L99", "week_0", "vs", "weight", text="x", actor="m")
    with pytest.raises(QueryTransitionError, match=r"the record is not saved"):
        store.query_action("raise", "L01", "week_6", "vs", "weight", text="x", actor="m")
    with pytest.raises(InputError, match=r"the message has 10001 characters; at most 10000"):
        store.query_action("raise", "L01", "week_0", "vs", "weight", text="x" * 10_001, actor="m")
    with pytest.raises(InputError, match=r"every change needs an actor"):
        store.query_action("raise", "L01", "week_0", "vs", "weight", text="x", actor="")
    none = store.query("L01", "week_6", "vs", "weight")
    assert (none.status, none.messages, none.days_open) == ("none", (), None)
    assert store.queries() == []


def test_queries_are_raised_and_answered_on_a_locked_record_without_changing_it(
    open_study: OpenStudy, db_url: str
) -> None:
    store, _ = _store(open_study, db_url)
    locked = store.lock_record("L01", "week_0", "vs", expected_version=1, actor="admin")
    store.query_action("raise", "L01", "week_0", "vs", "weight", text="72?", actor="m")
    store.query_action("answer", "L01", "week_0", "vs", "weight", text="yes 72", actor="c")
    (record,) = store.records()
    assert (record.status, record.version, record.values) == (
        "locked", locked.version, locked.values,
    )  # fmt: skip
    assert verify_audit(db_url).ok


def test_lists_filter_by_site_subject_status_form_and_field(
    open_study: OpenStudy, db_url: str
) -> None:
    store, _ = _store(open_study, db_url)
    store.add_subject("L02", arm="lenalidomide", site="site01", actor="c")
    store.save_record("L02", "week_0", "vs", VS, actor="c")
    store.query_action("raise", "L01", "week_0", "vs", "weight", text="a", actor="m")
    store.query_action("raise", "L01", "week_0", "vs", "vsdat", text="b", actor="m")
    store.query_action("raise", "L02", "week_0", "vs", "weight", text="c", actor="m")
    store.query_action("answer", "L02", "week_0", "vs", "weight", text="d", actor="c")
    assert [q.key for q in store.queries()] == [
        "L01/week_0/vs/weight", "L01/week_0/vs/vsdat", "L02/week_0/vs/weight",
    ]  # fmt: skip
    assert [q.key for q in store.queries(subject_id="L02")] == ["L02/week_0/vs/weight"]
    assert [q.key for q in store.queries(status="answered")] == ["L02/week_0/vs/weight"]
    assert [q.key for q in store.queries(field_id="vsdat")] == ["L01/week_0/vs/vsdat"]
    assert len(store.queries(form_id="vs", visit_id="week_0")) == 3
    assert store.queries(form_id="labs") == []
    assert store.queries(sites=["site02"]) == [] and len(store.queries(sites=["site01"])) == 3
    assert [len(q.messages) for q in store.queries()] == [1, 1, 2]
    with pytest.raises(InputError, match=r"query status 'new' is not one of"):
        store.queries(status="new")
    # a deleted record hides its queries (and refuses actions) until it is restored
    store.delete_record("L02", "week_0", "vs", actor="dm", reason="wrong subject")
    assert [q.subject_id for q in store.queries()] == ["L01", "L01"]
    assert store.query("L02", "week_0", "vs", "weight").status == "none"
    with pytest.raises(QueryTransitionError, match=r"the record is deleted; restore it before"):
        store.query_action("close", "L02", "week_0", "vs", "weight", text=None, actor="m")
    store.restore_record("L02", "week_0", "vs", actor="dm", reason="right subject after all")
    assert store.query("L02", "week_0", "vs", "weight").status == "answered"


def test_auto_raise_is_off_by_default(open_study: OpenStudy, db_url: str) -> None:
    store, _ = _store(open_study, db_url)
    store.save_record("L01", "week_12", "vs", {"vsdat": "2025-01-01"}, actor="c")
    assert [d.status for d in store.discrepancies()] == ["open"]
    assert store.queries() == []


def test_a_warning_raises_a_query_on_its_first_field_when_the_study_says_so(
    open_study: OpenStudy, db_url: str
) -> None:
    store, _ = _store(open_study, db_url, auto=True)
    store.save_record("L01", "week_12", "vs", {"vsdat": "2025-01-01"}, actor="coordinator")
    (query,) = store.queries()
    assert (query.key, query.status, query.origin, query.raised_by) == (
        "L01/week_12/vs/vsdat", "open", "edit-check:builtin.visit_window", "coordinator",
    )  # fmt: skip
    assert query.messages[0].text.startswith(
        "Raised automatically: edit check builtin.visit_window"
    )
    # a save where it still fires does not raise it twice; a closed query is re-opened when the
    # discrepancy re-opens (the warning fires again on a different value)
    store.save_record("L01", "week_12", "vs", {"weight": "71"}, actor="c", reason="r",
                      expected_version=1)  # fmt: skip
    assert len(store.queries()[0].messages) == 1
    store.query_action("close", "L01", "week_12", "vs", "vsdat", text="ok", actor="monitor")
    store.save_record("L01", "week_12", "vs", {"vsdat": "2025-03-31"}, actor="c", reason="r",
                      expected_version=2)  # fmt: skip
    store.save_record("L01", "week_12", "vs", {"vsdat": "2025-01-02"}, actor="c", reason="r",
                      expected_version=3)  # fmt: skip
    (query,) = store.queries()
    assert [m.action for m in query.messages] == ["raise", "close", "reopen"]
    assert query.status == "open"
    assert verify_audit(db_url).ok


def test_the_transition_table_is_documented_in_security_md() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text("utf-8")
    section = doc.split("### Query life cycle", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([a-z, ]+) \| (\w+) \| (yes|no) \| ([a-z-]+) \|$",
                      section, re.MULTILINE)  # fmt: skip
    assert {
        action: (tuple(f.split(", ")), to, needed == "yes", right)
        for action, f, to, needed, right in rows
    } == {
        action: (t.allowed_from, t.to, t.text_required, t.right)
        for action, t in TRANSITIONS.items()
    }


def _sql(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_thread_messages_cannot_be_edited_or_deleted(open_study: OpenStudy, db_url: str) -> None:
    store, _ = _store(open_study, db_url)
    store.query_action("raise", "L01", "week_0", "vs", "weight", text="why?", actor="m")
    for statement in (
        "UPDATE data_query_message SET text = 'nothing'",
        "DELETE FROM data_query_message",
    ):
        with pytest.raises(DatabaseError, match=r"data_query_message is append-only"):
            _sql(db_url, statement)
    assert store.query("L01", "week_0", "vs", "weight").messages[0].text == "why?"


def _drop_guards(url: str) -> str:
    return (
        "ALTER TABLE data_query_message DISABLE TRIGGER USER"
        if url.startswith("postgresql")
        else "DROP TRIGGER data_query_message_no_update; DROP TRIGGER data_query_message_no_delete"
    )


#: SQL tampering behind the store's back -> what plain ``audit verify`` reports.
TAMPERINGS = {
    "status rewritten": (
        "UPDATE data_query SET status = 'closed'",
        r"query .*/L01/week_0/vs/weight: the row's status \"closed\" differs",
    ),
    "updated_by rewritten": (
        "UPDATE data_query SET updated_by = 'mallory'",
        r"names 'mallory' as its last editor",
    ),
    "message text edited": (
        "UPDATE data_query_message SET text = 'all fine' WHERE seq = 2",
        r"query thread .*/L01/week_0/vs/weight: the row's thread_sha256",
    ),
    "message deleted": (
        "DELETE FROM data_query_message WHERE seq = 2",
        r"query thread .*weight: the row's messages 1 differs from the messages its newest",
    ),
    "query row deleted": (
        "DELETE FROM data_query_message; DELETE FROM data_query",
        r"query .*/L01/week_0/vs/weight: its audit events \(newest \d+, answer\) record it but "
        r"the row is missing",
    ),
    "query inserted without an event": (
        "INSERT INTO data_query (record_id, field_id, status, origin, raised_at, raised_by, "
        "updated_at, updated_by) SELECT record_id, 'vsdat', 'open', 'manual', raised_at, "
        "'m', updated_at, 'm' FROM data_query",
        r"query .*/L01/week_0/vs/vsdat: no audit event records it",
    ),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_audit_verify_detects_tampering_with_queries_and_threads(
    open_study: OpenStudy, db_url: str, name: str
) -> None:
    store, _ = _store(open_study, db_url)
    store.query_action("raise", "L01", "week_0", "vs", "weight", text="why?", actor="m")
    store.query_action("answer", "L01", "week_0", "vs", "weight", text="because", actor="c")
    assert verify_audit(db_url).ok
    statement, expected = TAMPERINGS[name]
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            for part in f"{_drop_guards(db_url)}; {statement}".split("; "):
                conn.exec_driver_sql(part)
    finally:
        engine.dispose()
    result = verify_audit(db_url)
    assert not result.ok
    assert re.search(expected, result.describe()), result.describe()
