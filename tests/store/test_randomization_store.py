"""Randomization in the store: the list, allocation once per subject, freezing, unblinding,
audit verification and tampering, and 32 concurrent randomizations (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from clestudy.errors import InputError, NotFoundError
from clestudy.protocol import Protocol, load_protocol
from clestudy.randomization import permuted_blocks
from clestudy.store import Store, audit_events, make_engine, verify_audit

OpenStudy = Callable[..., Store]
PROTOCOL = load_protocol(Path(__file__).parents[1] / "randomization" / "randomized.yaml")
STUDY = PROTOCOL.id


def _table_protocol() -> Protocol:
    spec = PROTOCOL.randomization
    assert spec is not None
    table = spec.model_copy(update={"method": "table", "block_sizes": ()})
    return PROTOCOL.model_copy(update={"id": "randomized-table", "randomization": table})


def _enrol(store: Store, subject: str, sex: str | None = "F", site: str = "site01") -> None:
    store.add_subject(subject, arm="", site=site, actor="coordinator")
    values: dict[str, object] = {"age": 40}
    if sex is not None:
        values["sex"] = sex
    store.save_record(subject, "week_0", "dm", values, actor="coordinator")


def test_randomize_takes_the_list_in_order_and_audits(open_study: OpenStudy, db_url: str) -> None:
    store = open_study(db_url, PROTOCOL)
    summary = store.generate_allocation(per_stratum=12, actor="admin", seed=99)
    assert summary.seed == 99 and summary.seed_sha256 is not None
    assert summary.strata == 2 and summary.rows >= 24
    expected = [
        r.arm
        for r in permuted_blocks(
            {"placebo": 1, "lenalidomide": 1}, [4, 6], ["sex=F", "sex=M"], 12, 99
        )
        if r.stratum == "sex=F"
    ]
    for i in range(5):
        _enrol(store, f"R{i}")
    got = [store.randomize(f"R{i}", actor="coordinator") for i in range(5)]
    assert [g.arm for g in got] == expected[:5]
    assert [g.number for g in got] == ["1-001", "1-002", "1-003", "1-004", "1-005"]
    subject = store.subject("R0")
    assert subject is not None and subject.arm == expected[0]
    found = store.randomization("R0")
    assert found is not None and found.randomized_by == "coordinator"
    events = audit_events(db_url, entity_prefix=f"{STUDY}/R0")
    assert [(e["entity_type"], e["action"]) for e in events][-2:] == [
        ("subject", "update"),
        ("randomization", "randomize"),
    ]
    assert events[-1]["after"] == {
        "number": "1-001", "stratum": "sex=F", "sequence": 1, "arm": expected[0],
    }  # fmt: skip
    table_event = audit_events(db_url, entity_prefix=STUDY)
    generated = [e for e in table_event if e["entity_type"] == "allocation_table"]
    after = generated[0]["after"]
    assert isinstance(after, dict)
    assert after["seed_sha256"] == summary.seed_sha256
    # the seed itself is nowhere in the event
    assert set(after) == {"method", "rows", "strata", "sha256", "seed_sha256"}
    assert verify_audit(db_url).ok


def test_randomize_refuses_twice_incomplete_strata_and_no_list(
    open_study: OpenStudy, db_url: str
) -> None:
    store = open_study(db_url, PROTOCOL)
    _enrol(store, "R1")
    with pytest.raises(InputError, match="has no allocation list yet"):
        store.randomize("R1", actor="coordinator")
    store.generate_allocation(per_stratum=4, actor="admin", seed=1)
    _enrol(store, "R2", sex=None)
    with pytest.raises(InputError, match="subject R2: stratification incomplete: sex of form dm"):
        store.randomize("R2", actor="coordinator")
    store.add_subject("R3", arm="", site="site01", actor="coordinator")  # no baseline form at all
    with pytest.raises(InputError, match="subject R3: stratification incomplete: sex"):
        store.randomize("R3", actor="coordinator")
    first = store.randomize("R1", actor="coordinator")
    with pytest.raises(InputError, match=r"subject R1 is already randomized \(number 1-001\)"):
        store.randomize("R1", actor="investigator")
    with pytest.raises(InputError) as info:
        store.randomize("R1", actor="investigator")
    assert first.arm not in str(info.value)  # the refusal never names the arm
    with pytest.raises(NotFoundError, match="'R9' is not enrolled"):
        store.randomize("R9", actor="coordinator")
    with pytest.raises(InputError, match="arm is assigned by randomization"):
        store.add_subject("R4", arm="lenalidomide", site="site01", actor="coordinator")
    assert verify_audit(db_url).ok


def test_a_stratum_runs_out(open_study: OpenStudy, db_url: str) -> None:
    store = open_study(db_url, PROTOCOL)
    summary = store.generate_allocation(per_stratum=1, actor="admin", seed=5)
    taken = 0
    for i in range(summary.rows + 1):  # more subjects than the M stratum has rows
        _enrol(store, f"M{i}", sex="M")
        try:
            store.randomize(f"M{i}", actor="coordinator")
            taken += 1
        except InputError as exc:
            assert "no unused row left in stratum sex=M" in str(exc)
            break
    else:
        pytest.fail("the M stratum never ran out")
    report = {b.stratum: b for b in store.allocation_report()}
    assert sum(report["sex=M"].used.values()) == taken
    assert report["sex=M"].remaining == 0
    assert sum(report["sex=F"].used.values()) == 0 and report["sex=F"].remaining > 0
    assert taken in (4, 6)  # one block of an allowed size


def test_the_list_is_frozen_after_the_first_randomization(
    open_study: OpenStudy, db_url: str
) -> None:
    store = open_study(db_url, PROTOCOL)
    store.generate_allocation(per_stratum=4, actor="admin", seed=1)
    store.generate_allocation(per_stratum=6, actor="admin", seed=2)  # unused: replaced
    _enrol(store, "R1")
    store.randomize("R1", actor="coordinator")
    with pytest.raises(InputError, match="is frozen: 1 subject"):
        store.generate_allocation(per_stratum=6, actor="admin", seed=3)
    assert verify_audit(db_url).ok


def test_unblinding_needs_a_reason_and_is_audited(open_study: OpenStudy, db_url: str) -> None:
    store = open_study(db_url, PROTOCOL)
    store.generate_allocation(per_stratum=4, actor="admin", seed=1)
    _enrol(store, "R1")
    _enrol(store, "R2")
    with pytest.raises(InputError, match="R2 is not randomized"):
        store.unblind("R2", actor="investigator", reason="serious adverse event")
    arm = store.randomize("R1", actor="coordinator").arm
    with pytest.raises(InputError, match="unblinding needs a reason"):
        store.unblind("R1", actor="investigator", reason=" ")
    shown = store.unblind("R1", actor="investigator", reason="serious adverse event")
    assert shown.arm == arm
    event = audit_events(db_url, entity_prefix=f"{STUDY}/R1/unblinding")[-1]
    assert event["action"] == "unblind" and event["reason"] == "serious adverse event"
    assert event["after"] == {"number": "1-001", "arm": arm, "revealed_to": "investigator"}
    assert verify_audit(db_url).ok


def test_not_randomized_study_refuses(open_study: OpenStudy, sqlite_url: str) -> None:
    store = open_study(sqlite_url, "lenalidomide-cle-open-label")
    with pytest.raises(InputError, match="is not randomized"):
        store.generate_allocation(per_stratum=4, actor="admin")
    with pytest.raises(InputError, match="is not randomized"):
        store.randomize("L01", actor="coordinator")
    randomized = open_study(sqlite_url, PROTOCOL)
    with pytest.raises(InputError, match="generate the list instead of uploading one"):
        randomized.upload_allocation("sex,sequence,arm\n", actor="admin")


TABLE = "sex,sequence,arm\nF,1,placebo\nF,2,lenalidomide\nM,1,lenalidomide\nM,2,placebo\n"


def test_upload_a_table_and_randomize_from_it(open_study: OpenStudy, db_url: str) -> None:
    store = open_study(db_url, _table_protocol())
    with pytest.raises(InputError, match="upload it instead"):
        store.generate_allocation(per_stratum=4, actor="admin")
    summary = store.upload_allocation(TABLE, actor="admin", source="t.csv")
    assert (summary.method, summary.rows, summary.strata, summary.seed) == ("table", 4, 2, None)
    _enrol(store, "T1", sex="M")
    assert store.randomize("T1", actor="coordinator").arm == "lenalidomide"
    with pytest.raises(InputError, match="frozen"):
        store.upload_allocation(TABLE, actor="admin")
    assert verify_audit(db_url).ok


def test_a_bad_table_is_refused_and_nothing_stored(open_study: OpenStudy, sqlite_url: str) -> None:
    store = open_study(sqlite_url, _table_protocol())
    with pytest.raises(InputError, match=r"t\.csv:6: arm: 'drug' is not one of"):
        store.upload_allocation(TABLE + "F,3,drug\n", actor="admin", source="t.csv")
    assert store.allocation_report()[0].remaining == 0  # the whole table was refused


# -- tampering ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("UPDATE allocation SET arm = 'lenalidomide' WHERE arm = 'placebo' AND subject_id IS NULL",
         "allocation list"),
        ("UPDATE allocation SET arm = CASE arm WHEN 'lenalidomide' THEN 'placebo' ELSE 'lenalidomide' END "
         "WHERE subject_id IS NOT NULL", "allocation list"),
        ("UPDATE subject SET arm = CASE arm WHEN 'lenalidomide' THEN 'placebo' ELSE 'lenalidomide' END "
         "WHERE subject_key = 'R1'", "subject"),
        ("UPDATE allocation SET used_by = 'mallory' WHERE subject_id IS NOT NULL",
         "randomization"),
        ("DELETE FROM allocation WHERE subject_id IS NULL", "allocation list"),
    ],
)  # fmt: skip
def test_tampering_with_the_list_or_an_allocation_is_found(
    open_study: OpenStudy, db_url: str, sql: str, found: str
) -> None:
    store = open_study(db_url, PROTOCOL)
    store.generate_allocation(per_stratum=4, actor="admin", seed=1)
    _enrol(store, "R1")
    store.randomize("R1", actor="coordinator")
    assert verify_audit(db_url).ok
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()
    result = verify_audit(db_url)
    assert not result.ok
    assert result.mismatched_kind == found, result.describe()


# -- concurrency ----------------------------------------------------------------------------

N_CONCURRENT = 32


def test_32_concurrent_randomizations_never_share_a_row(open_study: OpenStudy, db_url: str) -> None:
    setup = open_study(db_url, PROTOCOL)
    setup.generate_allocation(per_stratum=N_CONCURRENT, actor="admin", seed=32)
    subjects = [f"C{i:02d}" for i in range(N_CONCURRENT)]
    for i, subject in enumerate(subjects):
        _enrol(setup, subject, sex="F" if i % 2 else "M", site="site01")
    barrier = threading.Barrier(N_CONCURRENT, timeout=60)
    outcomes: dict[str, object] = {}

    def worker(subject: str) -> None:
        try:
            store = open_study(db_url, STUDY)  # its own engine and connection
            barrier.wait()
            outcomes[subject] = store.randomize(subject, actor=f"user-{subject}")
        except BaseException as exc:  # every outcome is examined below
            outcomes[subject] = exc

    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in subjects]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a randomization still runs after 120 s"
    failed = {s: o for s, o in outcomes.items() if isinstance(o, BaseException)}
    assert not failed, f"randomizations failed: {failed!r}"
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            used = conn.execute(
                text("SELECT subject_id, stratum, sequence FROM allocation "
                     "WHERE subject_id IS NOT NULL")
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    assert len(used) == N_CONCURRENT
    assert len({u.subject_id for u in used}) == N_CONCURRENT  # each subject exactly one row
    assert len({(u.stratum, u.sequence) for u in used}) == N_CONCURRENT  # no row twice
    per_stratum = Counter(u.stratum for u in used)
    for stratum, n in per_stratum.items():  # rows taken in order, none skipped
        sequences = sorted(u.sequence for u in used if u.stratum == stratum)
        assert sequences == list(range(1, n + 1))
    assert verify_audit(db_url).ok


def test_an_import_cannot_set_the_arm_of_a_randomized_study(
    open_study: OpenStudy, sqlite_url: str
) -> None:
    from clestudy.store._import_batch import SubjectInput, save_import

    store = open_study(sqlite_url, PROTOCOL)
    arm = PROTOCOL.arms[0].id
    with pytest.raises(InputError, match="is randomized; the arm is assigned by randomization"):
        save_import(
            store, subjects=[SubjectInput("R9", arm, "site01")], actor="importer", reason="file"
        )
    assert store.subjects() == []
    save_import(store, subjects=[SubjectInput("R9", "", "site01")], actor="importer", reason="f")
    assert [s.arm for s in store.subjects()] == [""]
