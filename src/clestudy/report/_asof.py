"""The data as they stood at a cut-off time, rebuilt from the audit trail (``report --as-of``).

Every change to a subject, a form record or a discrepancy is an audit event carrying the entity's
state after the change (docs/architecture.md, "Agreed shapes"); the newest event of each entity
at or before the cut-off is its state then, and an entity whose newest event deletes it (or that
has no event yet) did not exist. Subjects keep their enrolment order and records their creation
order, the order the store itself returns them in, so a report of the replayed data is the report
that was (or would have been) generated at the cut-off. The audit chain itself is verified first
(:func:`clestudy.store.verify_audit`): a trail that does not verify is no basis for a replay.

The protocol is the one in force at the cut-off: the newest ``register`` or ``amend`` event of
the study at or before it names the version, and the store's snapshot of that version
(:meth:`clestudy.store.Store.protocol_snapshot`) is used, after checking that its hash is the one
the event recorded. A study amended since the cut-off is thus reported against the protocol it
ran on then, never the newer one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from clestudy.errors import InputError
from clestudy.report._data import StudyData, study_data
from clestudy.store import RecordState, Store, audit_events

__all__ = ["AuditCut", "audit_cut", "parse_as_of", "replay_study"]


def parse_as_of(text: str) -> str:
    """The cut-off as the audit trail's timestamp text (UTC, microseconds, ``Z``).

    A date alone means the end of that day (UTC).

    >>> parse_as_of("2026-01-31")
    '2026-01-31T23:59:59.999999Z'
    >>> parse_as_of("2026-01-31T10:00:00+01:00")
    '2026-01-31T09:00:00.000000Z'
    """
    try:
        if len(text) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time.max, dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
    except ValueError:
        raise InputError(
            f"--as-of {text!r}: expected a date (2026-01-31) or an ISO date-time "
            "(2026-01-31T10:00:00Z)"
        ) from None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AuditCut:
    """The audit trail up to the cut-off: its events, newest hash and newest time."""

    events: list[dict[str, object]]
    head_hash: str
    last_at: str


def audit_cut(url: str, as_of: str | None) -> AuditCut:
    """The events at or before ``as_of`` (all of them when ``None``)."""
    events = audit_events(url)
    if as_of is not None:
        events = [e for e in events if str(e["occurred_at"]) <= as_of]
    if not events:
        raise InputError(f"the audit trail has no event at or before {as_of}")
    return AuditCut(events, str(events[-1]["hash"]), str(events[-1]["occurred_at"]))


def _gone(event: dict[str, object]) -> bool:
    after = event["after"]
    return event["action"] == "delete" or not isinstance(after, dict) or bool(after.get("deleted"))


def replay_study(store: Store, cut: AuditCut) -> tuple[StudyData, list[dict[str, str]]]:
    """The study of ``store`` as it stood at the cut, and its open discrepancies then."""
    protocol = store.protocol
    prefix = f"{protocol.id}/"
    versions = [e for e in cut.events if e["entity_type"] == "protocol"
                and str(e["entity_key"]).startswith(f"{protocol.id}@")]  # fmt: skip
    if not versions:
        raise InputError(f"study {protocol.id} was not registered yet at the cut-off")
    in_force = str(versions[-1]["entity_key"]).split("@", 1)[1]
    if in_force != protocol.version:
        protocol, sha256 = store.protocol_snapshot(in_force)
        recorded = cast(dict[str, Any], versions[-1]["after"] or {}).get("sha256")
        if sha256 != recorded:
            raise InputError(
                f"study {protocol.id}: the stored snapshot of protocol version {in_force} "
                f"(sha256 {sha256}) is not the one its audit event recorded ({recorded})"
            )
    newest: dict[tuple[str, str], dict[str, object]] = {}
    first: dict[tuple[str, str], int] = {}
    for event in cut.events:
        key = str(event["entity_key"])
        if not key.startswith(prefix):
            continue
        entity = (str(event["entity_type"]), key[len(prefix) :])
        newest[entity] = event
        first.setdefault(entity, int(cast(int, event["seq"])))
    subjects = [k for (t, k), e in newest.items() if t == "subject" and not _gone(e)]
    subjects.sort(key=lambda k: first["subject", k])
    order = {s: i for i, s in enumerate(subjects)}
    records: list[tuple[int, int, RecordState]] = []
    for (kind, key), event in newest.items():
        if kind != "form_record" or _gone(event):
            continue
        subject, visit, form = key.split("/", 2)
        if subject not in order:
            continue
        form, _, instance = form.partition("#")
        after = cast(dict[str, Any], event["after"])
        state = RecordState(
            subject_id=subject,
            visit_id=visit,
            form_id=form,
            instance=int(instance or 1),
            values=dict(after.get("values") or {}),
            derived=dict(after.get("derived") or {}),
            version=int(after.get("version") or 1),
            status=str(after.get("status") or "complete"),
            updated_at=str(event["occurred_at"]),
            updated_by=str(event["actor"]),
        )
        records.append((order[subject], first[kind, key], state))
    records.sort(key=lambda item: item[:2])
    data = study_data(protocol, subjects, [r for _, _, r in records])
    found_open: list[tuple[tuple[int, int, int], dict[str, str]]] = []
    for (kind, key), event in newest.items():
        found = event["after"]
        if kind != "discrepancy" or not isinstance(found, dict) or found.get("status") != "open":
            continue
        after = cast(dict[str, Any], found)
        record, _, check = key.rpartition("/")
        subject = record.split("/", 1)[0]
        if subject not in order:
            continue
        # the store's order: subject, then record, then discrepancy, each by creation
        rank = (order[subject], first.get(("form_record", record), 0), first[kind, key])
        found_open.append(
            (
                rank,
                {
                    "record": record,
                    "check": str(after.get("check", check)),
                    "fields": ", ".join(str(f) for f in after.get("fields") or ()),
                    "message": str(after.get("message", "")),
                },
            )
        )
    discrepancies = [d for _, d in sorted(found_open, key=lambda item: item[0])]
    return data, discrepancies
