"""The audit view of one record: who changed what, when, from which value to which, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clestudy.store import Store, audit_events
from clestudy.store._rows import record_entity_key

__all__ = ["Change", "HistoryEntry", "record_history"]


@dataclass(frozen=True)
class Change:
    """One field's value before and after an event (``None``: blank)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class HistoryEntry:
    """One audit event of a record."""

    occurred_at: str
    actor: str
    action: str
    reason: str | None
    status_before: str | None
    status_after: str | None
    changes: list[Change]


def _values(state: object) -> dict[str, Any]:
    if isinstance(state, dict) and isinstance(state.get("values"), dict):
        return dict(state["values"])
    return {}


def _status(state: object) -> str | None:
    return state.get("status") if isinstance(state, dict) else None


def record_history(
    store: Store, db_url: str, subject: str, visit: str, form: str, instance: int
) -> list[HistoryEntry]:
    """Every audit event of one record, oldest first, with its per-field changes."""
    key = record_entity_key(store.protocol.id, subject, visit, form, instance)
    out = []
    for event in audit_events(db_url, entity_prefix=key):
        if event["entity_key"] != key or event["entity_type"] != "form_record":
            continue
        before, after = _values(event["before"]), _values(event["after"])
        order = [f.id for f in spec.fields] if (spec := store.protocol.form(form)) else []
        names = sorted(
            before.keys() | after.keys(),
            key=lambda n: (order.index(n) if n in order else len(order), n),
        )
        changes = [
            Change(n, before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n)
        ]
        out.append(
            HistoryEntry(
                occurred_at=str(event["occurred_at"]),
                actor=str(event["actor"]),
                action=str(event["action"]),
                reason=None if event["reason"] is None else str(event["reason"]),
                status_before=_status(event["before"]),
                status_after=_status(event["after"]),
                changes=changes,
            )
        )
    return out
