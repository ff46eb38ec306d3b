"""Electronic signatures of a subject's casebook or of one visit (21 CFR Part 11, in spirit).

An investigator signs by re-entering her own password (:meth:`SignatureMixin.sign`); the store
keeps the signature in the append-only ``signature`` table and audits it (``signature``/``sign``).

* **Manifestation** (21 CFR 11.50): the signature records the signer's user name and full name
  (as stored on her account), the time from the store clock (UTC), and the meaning of the
  signature (:data:`MEANINGS`: review, approval or authorship), together with the attestation
  text the signer was shown (the study setting ``signature_attestation``,
  :data:`~clestudy.instruments._settings.DEFAULT_SIGNATURE_ATTESTATION` by default). Pages, the
  API and ``clestudy signature list`` show all of it wherever a signature is shown (11.50(b)).
* **Linking** (21 CFR 11.70): the signature holds ``data_sha256``, the SHA-256 of exactly the data
  it covers (:func:`signed_data`): every current (not deleted) record of the subject, or of the
  visit, with its values and derived scores. A signature cannot be moved to other data: a later
  change to any covered record (a save, a replacing save, a delete or restore, a new record in
  the covered visit or casebook, the subject's deletion) voids it in the same transaction, with
  an audited ``signature``/``void`` event naming the change (:mod:`clestudy.store._signatures_void`,
  called from the one write path). ``audit verify`` recomputes the hash of every signature
  still valid and reports one whose data no longer match as tampering.
* **Components** (21 CFR 11.200(a)(1)): the user name comes from the signed-in session (web) or
  ``--actor`` (CLI) and the password is re-entered for every signature and checked by
  :meth:`~clestudy.store.Accounts.check_password_for_signing`; a wrong one counts toward the
  account lockout like a failed sign-in (11.300(d)). Only investigators sign
  (:data:`SIGNER_ROLES`), and only subjects of their own sites.

What the hash covers is deliberately the *data* (keys, values, derived scores), not each record's
status or version: verifying, locking or unlocking a record changes no value and does not void a
signature (the record versions at signing are kept in ``records`` for the reader).

The canonical serialisation (``clestudy-signature/1``), so a reviewer can recompute the hash from
``clestudy record show --json`` or from each record's newest audit event::

    SHA-256(UTF-8(canonical_json({
        "format": "clestudy-signature/1",
        "study": STUDY, "subject": SUBJECT, "visit": VISIT or null,
        "records": [{"record": "VISIT/FORM" or "VISIT/FORM#N",
                     "values": {...}, "derived": {SCORE: {"instrument", "version", "values"}}},
                    ...]  # every covered record, sorted by "record"
    })))

where ``canonical_json`` is :func:`clestudy.store.canonical_json` (sorted keys, no whitespace,
floats as their shortest ``repr`` text, a subset of RFC 8785).

References
----------
21 CFR Part 11, Electronic Records; Electronic Signatures: 11.50 (signature manifestations),
11.70 (signature/record linking), 11.100 (general requirements), 11.200 (electronic signature
components and controls), 11.300 (controls for identification codes/passwords). FDA Guidance
for Industry, Part 11, Electronic Records; Electronic Signatures -- Scope and Application (2003).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import InputError, NotFoundError
from clestudy.instruments._settings import signature_attestation
from clestudy.store._audit import canonical_json, hashable
from clestudy.store._chain import lock_subjects
from clestudy.store._schema import (
    DerivedRow,
    RecordRow,
    SignatureRow,
    SignatureVoidRow,
    SubjectRow,
)

if TYPE_CHECKING:
    from clestudy.store._accounts import Accounts
    from clestudy.store._service import Store

__all__ = [
    "MEANINGS",
    "SIGNED_DATA_FORMAT",
    "SIGNER_ROLES",
    "Covered",
    "SignatureMixin",
    "SignatureState",
    "covered_records",
    "in_scope",
    "signature_key",
    "signature_state",
    "signed_data",
    "signed_data_sha256",
]

#: What a signature means (21 CFR 11.50(a)(3)), with the sentence the signing dialog shows.
MEANINGS: dict[str, str] = {
    "review": "I have reviewed these data.",
    "approval": "I approve these data as complete and correct.",
    "authorship": "I am the author of these data.",
}
#: The roles that sign casebooks (admins manage the study; they do not sign its data).
SIGNER_ROLES = ("investigator",)
#: The name and version of the canonical serialisation hashed into ``data_sha256``.
SIGNED_DATA_FORMAT = "clestudy-signature/1"


class Covered(NamedTuple):
    """One record a signature covers: its place, version, values and derived scores."""

    visit: str
    form: str
    instance: int
    version: int
    values: dict[str, Any]
    derived: dict[str, Any]

    @property
    def name(self) -> str:
        """``VISIT/FORM`` or ``VISIT/FORM#N``."""
        return f"{self.visit}/{self.form}" + (f"#{self.instance}" if self.instance != 1 else "")


def signed_data(
    study: str, subject: str, visit: str | None, records: Iterable[Covered]
) -> dict[str, Any]:
    """The canonical object a signature's hash is computed over (see the module docstring).

    >>> signed_data("s", "P01", None, [Covered("week_0", "vs", 1, 2, {"sbp": 120}, {})])
    {'format': 'clestudy-signature/1', 'study': 's', 'subject': 'P01', 'visit': None, 'records': [{'record': 'week_0/vs', 'values': {'sbp': 120}, 'derived': {}}]}
    """
    items = [
        {"record": r.name, "values": hashable(r.values), "derived": hashable(r.derived)}
        for r in records
    ]
    items.sort(key=lambda item: str(item["record"]))
    return {
        "format": SIGNED_DATA_FORMAT,
        "study": study,
        "subject": subject,
        "visit": visit,
        "records": items,
    }


def signed_data_sha256(data: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of :func:`signed_data`'s object.

    >>> text = '{"format":"clestudy-signature/1","records":[],"study":"s","subject":"P01","visit":null}'
    >>> signed_data_sha256(signed_data("s", "P01", None, [])) == hashlib.sha256(text.encode()).hexdigest()
    True
    """
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def signature_key(study: str, subject: str, visit: str | None, signature_id: int) -> str:
    """The audit entity key: ``STUDY/SUBJECT[/VISIT]/signature-ID``.

    A form id never holds ``-``, so the key cannot name a record.

    >>> signature_key("s", "P01", "week_0", 3), signature_key("s", "P01", None, 4)
    ('s/P01/week_0/signature-3', 's/P01/signature-4')
    """
    middle = f"/{visit}" if visit is not None else ""
    return f"{study}/{subject}{middle}/signature-{signature_id}"


@dataclass(frozen=True)
class SignatureState:
    """A signature as the pages, the API and the CLI show it.

    ``status`` is ``valid`` or ``void``; a void one has ``voided_at``, ``voided_by`` (who made
    the change that voided it) and ``voided_by_event`` (``{"entity_key", "action", "version"}``
    of that change's audit event).
    """

    id: int
    key: str
    subject_id: str
    visit_id: str | None
    signer: str
    signer_name: str
    meaning: str
    attestation: str
    signed_at: str
    data_sha256: str
    records: list[dict[str, Any]]
    status: str
    voided_at: str | None = None
    voided_by: str | None = None
    voided_by_event: dict[str, Any] | None = None

    @property
    def scope(self) -> str:
        """``subject`` (the whole casebook) or ``visit``."""
        return "subject" if self.visit_id is None else "visit"

    def audit_state(self) -> dict[str, Any]:
        """The state its newest audit event's ``after`` holds (``audit verify`` compares it)."""
        state: dict[str, Any] = {
            "scope": self.scope,
            "subject": self.subject_id,
            "visit": self.visit_id,
            "signer": self.signer,
            "signer_name": self.signer_name,
            "meaning": self.meaning,
            "attestation": self.attestation,
            "signed_at": self.signed_at,
            "data_sha256": self.data_sha256,
            "records": self.records,
            "status": self.status,
        }
        if self.status == "void":
            state |= {
                "voided_at": self.voided_at,
                "voided_by": self.voided_by,
                "voided_by_event": self.voided_by_event,
            }
        return state


def signature_state(
    study: str, subject: str, row: SignatureRow, void: SignatureVoidRow | None
) -> SignatureState:
    return SignatureState(
        id=row.id,
        key=signature_key(study, subject, row.visit_key, row.id),
        subject_id=subject,
        visit_id=row.visit_key,
        signer=row.signer,
        signer_name=row.signer_name,
        meaning=row.meaning,
        attestation=row.attestation,
        signed_at=row.signed_at,
        data_sha256=row.data_sha256,
        records=json.loads(row.records_json),
        status="valid" if void is None else "void",
        voided_at=None if void is None else void.voided_at,
        voided_by=None if void is None else void.voided_by,
        voided_by_event=None if void is None else json.loads(void.cause_json),
    )


def covered_records(session: Session, subject_pks: Sequence[int]) -> dict[int, list[Covered]]:
    """The current (not deleted) records of each subject, with their derived scores (two
    queries per 500 subjects)."""
    found: dict[int, list[Covered]] = {pk: [] for pk in subject_pks}
    pks = sorted(found)
    for start in range(0, len(pks), 500):  # SQLite allows 32,766 bound parameters
        part = pks[start : start + 500]
        live = (RecordRow.subject_id.in_(part), RecordRow.deleted.is_(False))
        derived: dict[int, dict[str, Any]] = {}
        for d in session.scalars(
            select(DerivedRow).join(RecordRow, DerivedRow.record_id == RecordRow.id).where(*live)
        ):
            derived.setdefault(d.record_id, {})[d.score_key] = {
                "instrument": d.instrument,
                "version": d.instrument_version,
                "values": json.loads(d.values_json),
            }
        for r in session.scalars(select(RecordRow).where(*live).order_by(RecordRow.id)):
            found[r.subject_id].append(
                Covered(
                    r.visit_key, r.form_key, r.instance, r.version, json.loads(r.values_json),
                    derived.get(r.id, {}),
                )
            )  # fmt: skip
    return found


def in_scope(records: Iterable[Covered], visit: str | None) -> list[Covered]:
    return [r for r in records if visit is None or r.visit == visit]


# -- signing and reading -----------------------------------------------------------------------


class SignatureMixin:
    """Electronic signatures of :class:`~clestudy.store.Store` (see the module docstring)."""

    def signature_attestation(self) -> str:
        """The attestation text the signing dialog shows (study setting, documented default)."""
        store = cast("Store", self)
        return signature_attestation(store.protocol.settings)

    def sign(
        self,
        subject_id: str,
        *,
        visit_id: str | None = None,
        meaning: str,
        signer: str,
        password: str,
        accounts: Accounts,
    ) -> SignatureState:
        """Sign a subject's casebook (``visit_id=None``) or one visit, with the signer's password.

        The password is checked by ``accounts`` first (a wrong one counts toward the lockout);
        then, in one transaction, the subject's current records in scope are read, hashed
        (:func:`signed_data_sha256`) and the signature stored and audited
        (``signature``/``sign``, actor the signer).

        Raises
        ------
        AuthenticationError
            For a wrong password, or a locked, suspended or unknown account.
        InputError
            For an unknown meaning or visit, a signer who is not an investigator or does not
            work at the subject's site, or nothing to sign (no record in scope).
        NotFoundError
            When the subject is not enrolled.
        """
        store = cast("Store", self)
        where = f"subject {subject_id}" + (f" visit {visit_id}" if visit_id else "")
        if meaning not in MEANINGS:
            raise InputError(f"{where}: meaning {meaning!r} is not one of {', '.join(MEANINGS)}")
        if visit_id is not None and store.protocol.visit(visit_id) is None:
            visits = [v.id for v in store.protocol.visits]
            raise InputError(f"{where}: visit {visit_id!r} is not one of {visits}")
        subject = store.subject(subject_id)
        if subject is None:
            raise NotFoundError(f"subject '{subject_id}' is not enrolled in {store.protocol.id}")
        user = accounts.check_password_for_signing(signer, password)
        if user.role not in SIGNER_ROLES:
            raise InputError(
                f"{where}: {user.username} ({user.role}) may not sign; only "
                f"{', '.join(SIGNER_ROLES)}s sign casebooks"
            )
        if subject.site not in user.sites:
            raise InputError(
                f"{where}: {user.username} does not work at site {subject.site}; only an "
                "investigator of the subject's site signs its casebook"
            )
        attestation = self.signature_attestation()
        with store._write() as session:
            lock_subjects(session, store.protocol.id, [subject_id])
            row = store._subject_row(session, subject_id)
            if row is None or row.deleted:
                raise NotFoundError(
                    f"subject '{subject_id}' is not enrolled in {store.protocol.id}"
                )
            records = in_scope(covered_records(session, [row.id])[row.id], visit_id)
            if not records:
                raise InputError(f"{where}: nothing to sign (no record saved)")
            data = signed_data(store.protocol.id, subject_id, visit_id, records)
            signature = SignatureRow(
                study_id=store.study_pk,
                subject_id=row.id,
                visit_key=visit_id,
                signer=user.username,
                signer_name=user.full_name,
                meaning=meaning,
                attestation=attestation,
                signed_at=store._now(),
                data_sha256=signed_data_sha256(data),
                records_json=canonical_json(
                    [{"record": r.name, "version": r.version} for r in
                     sorted(records, key=lambda r: r.name)]
                ),
            )  # fmt: skip
            session.add(signature)
            session.flush()
            state = signature_state(store.protocol.id, subject_id, signature, None)
            store._append_audit(
                session,
                actor=user.username,
                action="sign",
                entity_type="signature",
                entity_key=state.key,
                before=None,
                after=state.audit_state(),
                reason=MEANINGS[meaning],
            )
        return state

    def signatures(
        self,
        *,
        subject_id: str | None = None,
        visit_id: str | None = None,
        status: str | None = None,
    ) -> list[SignatureState]:
        """The study's signatures, oldest first; optionally of one subject, those covering one
        visit (the visit's own and the casebook's), and of one status (``valid``, ``void``).

        Raises
        ------
        InputError
            For a status other than ``valid`` or ``void``.
        """
        store = cast("Store", self)
        if status not in (None, "valid", "void"):
            raise InputError(f"signature status {status!r}: use 'valid' or 'void'")
        with Session(store.engine) as session:
            query = (
                select(SignatureRow, SubjectRow.subject_key, SignatureVoidRow)
                .join(SubjectRow, SignatureRow.subject_id == SubjectRow.id)
                .outerjoin(SignatureVoidRow, SignatureVoidRow.signature_id == SignatureRow.id)
                .where(SignatureRow.study_id == store.study_pk)
                .order_by(SignatureRow.id)
            )
            if subject_id is not None:
                query = query.where(SubjectRow.subject_key == subject_id)
            if visit_id is not None:
                query = query.where(
                    (SignatureRow.visit_key == visit_id) | SignatureRow.visit_key.is_(None)
                )
            found = [
                signature_state(store.protocol.id, key, row, void)
                for row, key, void in session.execute(query)
            ]
        return [s for s in found if status is None or s.status == status]
