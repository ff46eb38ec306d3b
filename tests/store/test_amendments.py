"""Protocol snapshots: registration and amendments are audited, and saved data is never orphaned
silently."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import ClestudyError, InputError
from clestudy.protocol import Protocol, load_protocol
from clestudy.store import Store, audit_events, open_store, verify_audit
from clestudy.store._audit import snapshot_sha256
from clestudy.store._schema import ProtocolSnapshotRow, StudyRow

OpenStudy = Callable[..., Store]
STUDY = "pediatric-cle-chart-review"
V = load_protocol(STUDY).version


def _without_esr(version: str) -> Protocol:
    """The chart review with the ESR field removed from its lab form."""
    base = load_protocol(STUDY)
    forms = tuple(
        f.model_copy(update={"fields": tuple(x for x in f.fields if x.id != "esr")})
        if f.id == "labs"
        else f
        for f in base.forms
    )
    return base.model_copy(update={"version": version, "forms": forms})


def _with_title(version: str) -> Protocol:
    return load_protocol(STUDY).model_copy(update={"version": version, "title": "Amended"})


def test_registration_is_a_protocol_event_with_the_snapshot_hash(db_url: str) -> None:
    with open_store(db_url, STUDY, actor="dm") as store:
        with Session(store.engine) as session:
            snapshot = session.scalars(select(ProtocolSnapshotRow)).one()
            study = session.scalars(select(StudyRow)).one()
        assert study.current_snapshot_id == snapshot.id
    assert snapshot.sha256 == snapshot_sha256(snapshot.protocol_json)
    assert Protocol.model_validate_json(snapshot.protocol_json) == load_protocol(STUDY)
    (event,) = audit_events(db_url)
    assert (event["action"], event["entity_type"], event["entity_key"], event["actor"]) == (
        "register", "protocol", f"{STUDY}@{V}", "dm",
    )  # fmt: skip
    assert event["after"] == {"version": V, "sha256": snapshot.sha256}


def test_an_amendment_is_a_new_snapshot_and_records_keep_their_version(
    open_study: OpenStudy, db_url: str
) -> None:
    store = open_study(db_url, STUDY)
    store.add_subject("P01", arm="lenalidomide", site="site01", actor="c")
    store.save_record("P01", "initiation", "vs", {"weight": "30"}, actor="c")
    assert store.amend_protocol(_with_title("9.2"), actor="dm", reason="title") == []
    saved = store.save_record("P01", "month_6", "vs", {"weight": "31"}, actor="c")
    old, new = sorted(store.records(), key=lambda r: r.visit_id)
    assert (old.protocol_version, new.protocol_version, saved.protocol_version) == (
        V, "9.2", "9.2",
    )  # fmt: skip
    event = audit_events(db_url)[-2]
    assert (event["action"], event["entity_key"], event["reason"]) == (
        "amend", f"{STUDY}@9.2", "title",
    )  # fmt: skip
    assert isinstance(event["before"], dict) and event["before"]["version"] == V
    reopened = open_study(db_url, STUDY)
    assert (reopened.protocol.version, reopened.protocol.title) == ("9.2", "Amended")
    with pytest.raises(ClestudyError, match=r"runs on protocol version 9.2; .* amend the study"):
        open_store(db_url, load_protocol(STUDY))
    assert verify_audit(db_url).ok


def test_an_amendment_that_orphans_values_needs_force_and_a_reason(
    open_study: OpenStudy, db_url: str
) -> None:
    store = open_study(db_url, STUDY)
    store.add_subject("P01", arm="lenalidomide", site="site01", actor="c")
    store.save_record("P01", "initiation", "labs", {"lbdat": "2011-03-01", "esr": 20}, actor="c")
    orphan = r"amendment to version 2.0 would orphan saved data: field 'labs.esr' \(1 record\)"
    with pytest.raises(InputError, match=orphan):
        store.amend_protocol(_without_esr("2.0"), actor="dm", reason="drop ESR")
    with pytest.raises(InputError, match=orphan):
        store.amend_protocol(_without_esr("2.0"), actor="dm", force=True)
    assert store.protocol.version == V
    orphans = store.amend_protocol(_without_esr("2.0"), actor="dm", reason="drop ESR", force=True)
    assert orphans == ["field 'labs.esr' (1 record)"]
    after = audit_events(db_url)[-1]["after"]
    assert isinstance(after, dict) and after["orphaned"] == orphans
    # the orphaned value stays in the record (history is never rewritten) until it is edited
    (labs,) = store.records(form_id="labs")
    assert labs.values == {"lbdat": "2011-03-01", "esr": 20}
    edited = store.save_record(
        "P01", "initiation", "labs", {"wbc": "5"}, actor="c", reason="new result",
        expected_version=1,
    )  # fmt: skip
    assert edited.values == {"lbdat": "2011-03-01", "wbc": "5"}
    assert verify_audit(db_url).ok


def test_bad_amendments_are_refused(open_study: OpenStudy, db_url: str) -> None:
    store = open_study(db_url, STUDY)
    with pytest.raises(InputError, match=rf"needs a new protocol version \(both are '{V}'\)"):
        store.amend_protocol(_with_title(V), actor="dm")
    other = load_protocol("lenalidomide-cle-open-label")
    with pytest.raises(InputError, match=r"is not an amendment of study '" + STUDY):
        store.amend_protocol(other, actor="dm")
    store.amend_protocol(_with_title("9.2"), actor="dm")
    store.amend_protocol(_with_title("9.3"), actor="dm")
    with pytest.raises(InputError, match=r"protocol version '9.2' is already stored"):
        store.amend_protocol(_with_title("9.2"), actor="dm")
