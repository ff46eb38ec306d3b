"""Protocol snapshots: registering a study and amending its protocol, each audited.

Every protocol version a study has run on is kept as a ``protocol_snapshot`` row; the study row
points at the current one (``current_snapshot_id``) and mirrors its JSON. Records keep the version
they were last saved under (``form_record.protocol_version``).

An amendment is a new version of the same study. It is refused when it would orphan saved data
(a form, visit or field that it removes, or a form it no longer collects at a visit, while
records hold values there), unless it is forced with a reason; the audit event then lists what
was orphaned. Once a subject is randomized, an amendment that changes the randomization scheme
(anything but ``blinded_roles``, or the strata) is refused, forced or not
(:func:`clestudy.store._randomization.scheme_changes`, with its sources). Events: ``entity_type = "protocol"``, ``entity_key = STUDY@VERSION``, actions
``register`` and ``amend``, ``after = {"version", "sha256"}`` (docs/architecture.md, "Agreed
shapes").
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import InputError
from clestudy.protocol import Protocol
from clestudy.protocol._missing_codes import RESERVED_KEYS, coded_fields
from clestudy.store._audit import snapshot_sha256
from clestudy.store._randomization import randomized_count, scheme_changes
from clestudy.store._schema import ProtocolSnapshotRow, RecordRow, StudyRow

if TYPE_CHECKING:
    from clestudy.store._service import Store

__all__ = ["AmendmentMixin", "amend_protocol", "orphaned_data", "register_study"]


def _add_snapshot(
    store: Store, session: Session, study: StudyRow, protocol: Protocol, actor: str
) -> ProtocolSnapshotRow:
    text = protocol.model_dump_json()
    snapshot = ProtocolSnapshotRow(
        study_id=study.id,
        version=protocol.version,
        protocol_json=text,
        sha256=snapshot_sha256(text),
        created_at=store._now(),
        created_by=actor,
    )
    session.add(snapshot)
    session.flush()
    study.current_snapshot_id = snapshot.id
    study.protocol_version = protocol.version
    study.protocol_json = text
    session.flush()
    return snapshot


def register_study(store: Store, *, actor: str) -> None:
    """Register ``store.protocol`` as a new study (or find it, if another process just did).

    Sets ``store.study_pk``; audited as ``register``.
    """
    protocol = store.protocol
    with store._write() as session:
        study = session.scalars(select(StudyRow).where(StudyRow.study_key == protocol.id)).first()
        if study is None:
            study = StudyRow(
                study_key=protocol.id,
                protocol_version=protocol.version,
                protocol_json=protocol.model_dump_json(),
                created_at=store._now(),
            )
            session.add(study)
            session.flush()
            snapshot = _add_snapshot(store, session, study, protocol, actor)
            store._append_audit(
                session,
                actor=actor,
                action="register",
                entity_type="protocol",
                entity_key=f"{protocol.id}@{protocol.version}",
                before=None,
                after={"version": protocol.version, "sha256": snapshot.sha256},
                reason=None,
            )
        store.study_pk = study.id


def orphaned_data(store: Store, session: Session, new: Protocol) -> list[str]:
    """What saved data ``new`` would leave without a place: ``["field 'labs.esr' (3 records)"]``."""
    found: Counter[str] = Counter()
    rows = session.execute(
        select(RecordRow.visit_key, RecordRow.form_key, RecordRow.values_json).where(
            RecordRow.study_id == store.study_pk
        )
    )
    for visit_id, form_id, values_json in rows:
        visit, form = new.visit(visit_id), new.form(form_id)
        if form is None:
            found[f"form '{form_id}'"] += 1
            continue
        if visit is None:
            found[f"visit '{visit_id}'"] += 1
            continue
        if form_id not in visit.forms:
            found[f"form '{form_id}' at visit '{visit_id}'"] += 1
        values = json.loads(values_json)
        for field_id in [*values, *coded_fields(values)]:  # a coded field needs its place too
            if field_id not in RESERVED_KEYS and form.field(field_id) is None:
                found[f"field '{form_id}.{field_id}'"] += 1
        for code in set(coded_fields(values).values()) - {c.code for c in new.missing_codes}:
            found[f"missing-data code '{code}'"] += 1
    return [f"{what} ({n} record{'s' if n != 1 else ''})" for what, n in sorted(found.items())]


def _check_amendment(store: Store, new: Protocol) -> None:
    old = store.protocol
    if new.id != old.id:
        raise InputError(
            f"protocol '{new.id}' is not an amendment of study '{old.id}' (the ids differ)"
        )
    if new.version == old.version:
        raise InputError(
            f"study '{old.id}': an amendment needs a new protocol version (both are "
            f"{old.version!r})"
        )


def amend_protocol(
    store: Store, new: Protocol, *, actor: str, reason: str | None, force: bool
) -> list[str]:
    """Store ``new`` as the study's current protocol; returns what it orphaned (when forced).

    Raises
    ------
    InputError
        For another study's protocol, the same version, a version already stored, or an
        amendment that orphans saved data without ``force`` and a reason.
    """
    if not actor:
        raise InputError("every change needs an actor (who made it)")
    _check_amendment(store, new)
    with store._write() as session:
        study = session.get(StudyRow, store.study_pk)
        if study is None:  # pragma: no cover - the row exists while the store is open
            raise InputError(f"study '{store.protocol.id}' is not in the database")
        used = session.scalars(
            select(ProtocolSnapshotRow.version).where(ProtocolSnapshotRow.study_id == study.id)
        ).all()
        if new.version in used:
            raise InputError(
                f"study '{new.id}': protocol version {new.version!r} is already stored; an "
                "amendment needs a new version"
            )
        changes = scheme_changes(store.protocol, new)
        randomized = randomized_count(session, study.id) if changes else 0
        if randomized:
            raise InputError(
                f"study '{new.id}': amendment to version {new.version} {'; '.join(changes)} "
                f"of the randomization, but {randomized} subject"
                f"{' is' if randomized == 1 else 's are'} randomized: the scheme is frozen by the "
                "first randomization (only blinded_roles may change; a new scheme needs a new "
                "allocation list, i.e. a new study)"
            )
        orphans = orphaned_data(store, session, new)
        if orphans and not (force and reason and reason.strip()):
            raise InputError(
                f"study '{new.id}': amendment to version {new.version} would orphan saved data: "
                f"{'; '.join(orphans)}; force it with a reason to keep those values out of the "
                "current protocol"
            )
        before = {"version": study.protocol_version, "sha256": snapshot_sha256(study.protocol_json)}
        snapshot = _add_snapshot(store, session, study, new, actor)
        after: dict[str, Any] = {"version": new.version, "sha256": snapshot.sha256}
        if orphans:
            after["orphaned"] = orphans
        store._append_audit(
            session,
            actor=actor,
            action="amend",
            entity_type="protocol",
            entity_key=f"{new.id}@{new.version}",
            before=before,
            after=after,
            reason=reason,
        )
    store.protocol = new
    return orphans


class AmendmentMixin:
    """Protocol amendments of :class:`~clestudy.store.Store`."""

    def protocol_snapshot(self, version: str) -> tuple[Protocol, str]:
        """The protocol version this study ran on at some time, and the sha256 of its stored
        JSON (recomputed, so a caller can compare it with the one its audit event recorded).

        Raises
        ------
        InputError
            When the study never had that version.
        """
        store = cast("Store", self)
        with Session(store.engine) as session:
            row = session.scalars(
                select(ProtocolSnapshotRow).where(
                    ProtocolSnapshotRow.study_id == store.study_pk,
                    ProtocolSnapshotRow.version == version,
                )
            ).first()
            if row is None:
                raise InputError(
                    f"study '{store.protocol.id}' has no stored protocol version {version!r}"
                )
            return Protocol.model_validate_json(row.protocol_json), snapshot_sha256(
                row.protocol_json
            )

    def amend_protocol(
        self, protocol: Protocol, *, actor: str, reason: str | None = None, force: bool = False
    ) -> list[str]:
        """Make ``protocol`` (a new version of this study) the current one, audited ``amend``.

        Refused when it would orphan saved data unless ``force`` and a ``reason`` are given;
        returns what a forced amendment orphaned (see the module docstring).
        """
        return amend_protocol(
            cast("Store", self), protocol, actor=actor, reason=reason, force=force
        )
