"""Randomization in the store: the concealed allocation list, allocation and unblinding.

* **The list.** :meth:`RandomizationMixin.generate_allocation` generates a stratified
  permuted-block list (:func:`clestudy.randomization.permuted_blocks`) from a seed given by an
  admin, or from 128 random bits when none is given. The seed is returned once and never stored:
  the store keeps the generated list and a SHA-256 commitment to the seed (in the
  ``allocation_table`` event), so whoever holds the sealed seed can later prove it generated the
  list. :meth:`~RandomizationMixin.upload_allocation` stores an uploaded table instead, checked
  by :func:`clestudy.randomization.parse_allocation_table`. Either replaces an unused list; once
  the first subject is randomized the list is frozen.
* **Concealment.** No method returns an unused row: a user learns an arm only by randomizing a
  subject, and the balance report counts used rows only.
* **Allocation.** :meth:`~RandomizationMixin.randomize` takes the next unused row of the
  subject's stratum in one transaction. The row is claimed with a conditional
  ``UPDATE allocation SET subject_id = ... WHERE id = ... AND subject_id IS NULL``: on
  PostgreSQL a concurrent claimant waits on the row lock and, when the first commits, finds the
  row taken and moves to the next one (in sequence order, nothing skipped); SQLite serialises
  writers. ``UNIQUE(subject_id)`` and ``UNIQUE(study_id, stratum, sequence)`` are the safety net.
* **Audit.** ``allocation_table`` (``generate``/``upload``, key: the study), ``randomization``
  (key ``STUDY/SUBJECT/randomization``) with a subject ``update`` event that sets the arm, and
  ``unblinding`` (key ``STUDY/SUBJECT/unblinding``, with its reason).
* **The scheme is frozen by the first randomization** (:func:`scheme_changes`): an amendment may
  then change ``blinded_roles`` only. Every other key of the section (method, ratio, visit, form,
  strata, block sizes), and the strata the stratification fields' codes define, describe how the
  assignments already made were generated; the allocation list cannot be replaced any more, so a
  changed scheme would leave the protocol misdescribing the list in use (ICH E9 section 2.3.2:
  the randomisation schedule documents the allocation; CONSORT 2010 items 8b and 3b: the type of
  randomisation and any restriction are reported, and a change of methods after the trial began
  is reported with its reason: Schulz KF, Altman DG, Moher D, BMJ 2010;340:c332,
  doi:10.1136/bmj.c332). A new scheme needs a new list, i.e. a new study.
* **Stratification errors are recorded, not corrected** (:class:`StratumGuard`): a save that
  changes a randomized subject's stratification field so that its stratum differs from the one
  it was randomized in keeps the assignment and the stored stratum, and opens the warning
  discrepancy ``randomization.stratum`` ("stratum at randomization was ..."); the live preview
  of the form (``Store.preview_record``) shows the same warning before the save. Yelland LN et al.,
  "Applying the intention-to-treat principle in practice: guidance on handling randomisation
  errors", Clin Trials 2015;12(4):418-423, doi:10.1177/1740774515588097: when a participant is
  randomised with incorrect baseline information, accept the randomisation and record the
  correct baseline data; Yelland LN et al., Stat Med 2023;42(19):3529-3546,
  doi:10.1002/sim.9818, table 5: record the updated strata in a new field and leave the
  randomisation strata unchanged.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session

from clestudy.errors import InputError, NotFoundError
from clestudy.protocol import EditFinding
from clestudy.randomization import (
    Allocation,
    list_sha256,
    parse_allocation_table,
    permuted_blocks,
    seed_commitment,
    strata_fields,
    strata_of,
    stratum_key,
)
from clestudy.store._chain import lock_subjects
from clestudy.store._schema import AllocationRow, RecordRow, SubjectRow

if TYPE_CHECKING:
    from clestudy.protocol import Protocol, RandomizationSpec
    from clestudy.store._service import Store

__all__ = [
    "STRATUM_CHECK",
    "AllocationSummary",
    "ArmBalance",
    "RandomizationMixin",
    "StratumGuard",
    "SubjectRandomization",
    "allocation_rows",
    "randomization_number",
    "randomized_count",
    "scheme_changes",
]

#: The arm of a subject of a randomized study who is enrolled but not yet randomized.
NOT_RANDOMIZED = ""

#: The discrepancy a stratification value changed after randomization opens.
STRATUM_CHECK = "randomization.stratum"

#: The one key of the randomization section an amendment may change once a subject is randomized:
#: who is blinded changes no assignment.
_AMENDABLE_AFTER_RANDOMIZATION = frozenset({"blinded_roles"})


@dataclass(frozen=True)
class AllocationSummary:
    """What a generation or an upload stored (never the arms).

    ``seed`` is set only by a generation, returned this once: keep it sealed.
    """

    method: str
    rows: int
    strata: int
    sha256: str
    seed_sha256: str | None = None
    seed: int | None = None


@dataclass(frozen=True)
class SubjectRandomization:
    """A subject's allocation: its randomization number (shown to everyone) and arm (not)."""

    subject_id: str
    number: str
    stratum: str
    arm: str
    randomized_at: str
    randomized_by: str


@dataclass(frozen=True)
class ArmBalance:
    """One stratum of the balance report: used rows per arm, and how many rows are left."""

    stratum: str
    used: dict[str, int] = field(default_factory=dict)
    remaining: int = 0


def randomization_number(strata: list[str], stratum: str, sequence: int) -> str:
    """The randomization number of a row: the stratum's position and the sequence, e.g. ``2-007``.

    >>> randomization_number(["sex=F", "sex=M"], "sex=M", 7)
    '2-007'
    """
    position = strata.index(stratum) + 1 if stratum in strata else 0
    return f"{position}-{sequence:03d}"


def allocation_rows(session: Session, study_pk: int) -> list[Allocation]:
    """The study's stored list, as :class:`~clestudy.randomization.Allocation` rows."""
    query = select(AllocationRow).where(AllocationRow.study_id == study_pk)
    return [
        Allocation(r.stratum, r.sequence, r.arm, r.block, r.block_size)
        for r in session.scalars(query.order_by(AllocationRow.stratum, AllocationRow.sequence))
    ]


def randomized_count(session: Session, study_pk: int) -> int:
    """How many subjects of the study are randomized (used rows of its allocation list)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(AllocationRow)
            .where(AllocationRow.study_id == study_pk, AllocationRow.subject_id.is_not(None))
        )
        or 0
    )


def scheme_changes(old: Protocol, new: Protocol) -> list[str]:
    """What ``new`` changes in ``old``'s randomization that could alter an assignment.

    Everything but ``blinded_roles``: the section's other keys, and the strata (the product of
    the stratification fields' codes, which a change of a field's choices alters). Empty when
    ``old`` is not randomized. See the module docstring for the sources.

    >>> from clestudy.protocol import load_protocol
    >>> p = load_protocol("pediatric-cle-chart-review")
    >>> scheme_changes(p, p)
    []
    """
    before = old.randomization
    if before is None:
        return []
    after = new.randomization
    if after is None:
        return ["the randomization section is removed"]
    keys = sorted(
        name
        for name in type(before).model_fields
        if name not in _AMENDABLE_AFTER_RANDOMIZATION
        and getattr(before, name) != getattr(after, name)
    )
    found = [f"changes {', '.join(keys)}"] if keys else []
    try:
        old_strata, new_strata = strata_of(old), strata_of(new)
    except InputError as exc:
        return [*found, str(exc)]
    if old_strata != new_strata:
        found.append(f"turns strata {', '.join(old_strata)} into {', '.join(new_strata)}")
    return found


def _stratum_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class StratumGuard:
    """The stratification-error check of a save (see the module docstring).

    A batch save makes one; :meth:`findings` reads the batch's randomized subjects once (one
    query, only when a record of the stratification form is saved in a randomized study) and
    returns the ``randomization.stratum`` warning of a record whose stratification values no
    longer give the stratum its subject was randomized in. Like any warning, it opens a
    discrepancy, and a later save where it no longer fires resolves it.
    """

    def __init__(self, protocol: Protocol, conn: Connection, study_pk: int) -> None:
        self.protocol, self.conn, self.study_pk = protocol, conn, study_pk
        self.spec = protocol.randomization
        self._taken: dict[int, tuple[str, int]] | None = None

    def findings(
        self, batch_subjects: Callable[[], list[int]], subject_pk: int, visit_id: str,
        form_id: str, instance: int, values: Mapping[str, object],
    ) -> list[EditFinding]:  # fmt: skip
        """The warning for one record about to be saved (empty for most saves).

        ``batch_subjects`` gives the ids of the batch's subjects; it is called once, by the
        first save of the randomization form, not by every save.
        """
        spec = self.spec
        if spec is None or (visit_id, form_id, instance) != (spec.visit, spec.form, 1):
            return []
        if self._taken is None:
            query = select(
                AllocationRow.subject_id, AllocationRow.stratum, AllocationRow.sequence
            ).where(
                AllocationRow.study_id == self.study_pk,
                AllocationRow.subject_id.in_(batch_subjects()),
            )
            self._taken = {
                pk: (stratum, seq)
                for pk, stratum, seq in self.conn.execute(query)
                if pk is not None
            }
        taken = self._taken.get(subject_pk)
        if taken is None:
            return []
        stratum, sequence = taken
        at_randomization = dict(part.split("=", 1) for part in stratum.split(";") if "=" in part)
        fields = strata_fields(self.protocol)
        changed = [
            f.id
            for f in fields
            if f.id in at_randomization
            and _stratum_text(values.get(f.id)) != at_randomization[f.id]
        ]
        if not changed:
            return []
        empty = [name for name in changed if values.get(name) is None]
        now = (
            f"{', '.join(empty)} now hold{'s' if len(empty) == 1 else ''} no value"
            if empty
            else "the values now give "
            + ";".join(f"{f.id}={_stratum_text(values.get(f.id))}" for f in fields)
        )
        number = randomization_number(strata_of(self.protocol), stratum, sequence)
        message = (
            f"stratum at randomization was {stratum} (number {number}); {now}: the assignment "
            "stands and the stratum it was made in is kept (a stratification error is "
            "recorded, not corrected)"
        )
        return [EditFinding(STRATUM_CHECK, "warning", message, tuple(changed))]


class RandomizationMixin:
    """The randomization methods of :class:`~clestudy.store.Store`."""

    def _randomization_spec(self) -> RandomizationSpec:
        store = cast("Store", self)
        spec = store.protocol.randomization
        if spec is None:
            raise InputError(
                f"study {store.protocol.id} is not randomized: its protocol has no randomization "
                "section (arms are assigned at enrolment)"
            )
        return spec

    # -- the list ----------------------------------------------------------------------------

    def generate_allocation(
        self, *, per_stratum: int, actor: str, seed: int | None = None
    ) -> AllocationSummary:
        """Generate and store the permuted-block list (method ``permuted_blocks``).

        Parameters
        ----------
        per_stratum : int
            The least number of allocations per stratum (whole blocks are generated).
        actor : str
            Who generates it (audited).
        seed : int, optional
            The sealed seed; by default 128 random bits from :mod:`secrets`. A guessable seed
            (a date, 1234) lets anyone who guesses it regenerate the list, so prefer the default.

        Raises
        ------
        InputError
            For a study not randomized by permuted blocks, or whose list is frozen.
        """
        store = cast("Store", self)
        spec = store._randomization_spec()
        if spec.method != "permuted_blocks":
            raise InputError(
                f"study {store.protocol.id} is randomized from an uploaded table "
                "(method: table); upload it instead of generating one"
            )
        if seed is None:
            seed = secrets.randbits(128)
        rows = permuted_blocks(
            spec.ratio, spec.block_sizes, strata_of(store.protocol), per_stratum, seed
        )
        summary = store._store_list(rows, actor=actor, action="generate", seed=seed)
        return summary

    def upload_allocation(
        self, text: str, *, actor: str, source: str = "table"
    ) -> AllocationSummary:
        """Check and store an uploaded allocation table (CSV, see
        :func:`clestudy.randomization.parse_allocation_table`).

        Raises
        ------
        InputError
            Listing every problem of the table (line and column), or when the list is frozen.
        """
        store = cast("Store", self)
        if store._randomization_spec().method != "table":
            raise InputError(
                f"study {store.protocol.id} is randomized by permuted blocks generated from a "
                "seed (method: permuted_blocks); generate the list instead of uploading one"
            )
        rows = parse_allocation_table(text, store.protocol, source)
        return store._store_list(rows, actor=actor, action="upload", seed=None)

    def _store_list(
        self, rows: list[Allocation], *, actor: str, action: str, seed: int | None
    ) -> AllocationSummary:
        store = cast("Store", self)
        if not actor:
            raise InputError("every change needs an actor (who made it)")
        strata = len({r.stratum for r in rows})
        summary = AllocationSummary(
            method=store._randomization_spec().method,
            rows=len(rows),
            strata=strata,
            sha256=list_sha256(rows),
            seed_sha256=None if seed is None else seed_commitment(seed),
            seed=seed,
        )
        with store._write() as session:
            old = allocation_rows(session, store.study_pk)
            # an unused list is replaced; a used row is never deleted (the WHERE skips it even if
            # a concurrent randomization just claimed it), and then the replacement is refused
            session.execute(
                delete(AllocationRow).where(
                    AllocationRow.study_id == store.study_pk, AllocationRow.subject_id.is_(None)
                )
            )
            used = session.scalar(
                select(func.count())
                .select_from(AllocationRow)
                .where(AllocationRow.study_id == store.study_pk)
            )
            if used:
                raise InputError(
                    f"the allocation list of {store.protocol.id} is frozen: {used} subject(s) "
                    "are randomized from it"
                )
            session.add_all(
                AllocationRow(
                    study_id=store.study_pk,
                    stratum=r.stratum,
                    sequence=r.sequence,
                    arm=r.arm,
                    block=r.block,
                    block_size=r.block_size,
                )
                for r in rows
            )
            session.flush()
            store._append_audit(
                session,
                actor=actor,
                action=action,
                entity_type="allocation_table",
                entity_key=store.protocol.id,
                before=None if not old else {"rows": len(old), "sha256": list_sha256(old)},
                after={
                    "method": summary.method,
                    "rows": summary.rows,
                    "strata": summary.strata,
                    "sha256": summary.sha256,
                    "seed_sha256": summary.seed_sha256,
                },
                reason=None,
            )
        return summary

    # -- allocation --------------------------------------------------------------------------

    def randomize(self, subject_id: str, *, actor: str) -> SubjectRandomization:
        """Allocate a subject: the next unused row of its stratum (audited, once per subject).

        The stratum comes from the stratification fields of the baseline form, which must all
        hold a value. The subject's arm is set through a subject ``update`` event.

        Raises
        ------
        NotFoundError
            For a subject that is not enrolled.
        InputError
            For a study without randomization, a subject already randomized, incomplete
            stratification (naming the fields), or no list or no row left in the stratum.
        """
        store = cast("Store", self)
        spec = store._randomization_spec()
        if not actor:
            raise InputError("every change needs an actor (who made it)")
        with store._write() as session:
            lock_subjects(session, store.protocol.id, [subject_id])
            subject = store._subject_row(session, subject_id)
            if subject is None or subject.deleted:
                raise NotFoundError(
                    f"subject '{subject_id}' is not enrolled in {store.protocol.id}"
                )
            strata = strata_of(store.protocol)
            taken = session.scalars(
                select(AllocationRow).where(AllocationRow.subject_id == subject.id)
            ).first()
            if taken is not None or subject.arm != NOT_RANDOMIZED:
                number = (
                    randomization_number(strata, taken.stratum, taken.sequence) if taken else "-"
                )
                raise InputError(
                    f"subject {subject_id} is already randomized (number {number}); a subject "
                    "is randomized once"
                )
            values = session.scalar(
                select(RecordRow.values_json).where(
                    RecordRow.subject_id == subject.id,
                    RecordRow.visit_key == spec.visit,
                    RecordRow.form_key == spec.form,
                    RecordRow.instance == 1,
                    RecordRow.deleted.is_(False),
                )
            )
            try:
                stratum = stratum_key(
                    store.protocol, None if values is None else json.loads(values)
                )
            except InputError as exc:
                raise InputError(f"subject {subject_id}: {exc}") from None
            row = _claim(session, store.study_pk, stratum, subject.id, store._now(), actor)
            if row is None:
                raise InputError(store._exhausted(session, stratum))
            number = randomization_number(strata, stratum, row.sequence)
            state = {"arm": subject.arm, "site": subject.site, "status": subject.status}
            subject.arm = row.arm
            session.flush()
            store._append_audit(
                session,
                actor=actor,
                action="update",
                entity_type="subject",
                entity_key=f"{store.protocol.id}/{subject_id}",
                before=state,
                after={**state, "arm": row.arm},
                reason=f"randomized (number {number})",
            )
            store._append_audit(
                session,
                actor=actor,
                action="randomize",
                entity_type="randomization",
                entity_key=f"{store.protocol.id}/{subject_id}/randomization",
                before=None,
                after={
                    "number": number,
                    "stratum": stratum,
                    "sequence": row.sequence,
                    "arm": row.arm,
                },
                reason=None,
            )
            return SubjectRandomization(
                subject_id, number, stratum, row.arm, row.used_at or "", actor
            )

    def _exhausted(self, session: Session, stratum: str) -> str:
        store = cast("Store", self)
        total = session.scalar(
            select(func.count())
            .select_from(AllocationRow)
            .where(AllocationRow.study_id == store.study_pk)
        )
        if not total:
            return (
                f"study {store.protocol.id} has no allocation list yet: an admin generates or "
                "uploads one (clestudy randomization generate|upload)"
            )
        return (
            f"the allocation list has no unused row left in stratum {stratum}: an admin must "
            "extend the study's list (a new list needs a protocol amendment once it is in use)"
        )

    def randomization(self, subject_id: str) -> SubjectRandomization | None:
        """The subject's allocation (arm included: the web layer masks it for blinded roles),
        or ``None`` when the subject is not randomized."""
        store = cast("Store", self)
        with Session(store.engine) as session:
            found = session.execute(
                select(AllocationRow)
                .join(SubjectRow, AllocationRow.subject_id == SubjectRow.id)
                .where(SubjectRow.study_id == store.study_pk, SubjectRow.subject_key == subject_id)
            ).scalar_one_or_none()
            if found is None:
                return None
            number = randomization_number(strata_of(store.protocol), found.stratum, found.sequence)
            return SubjectRandomization(
                subject_id,
                number,
                found.stratum,
                found.arm,
                found.used_at or "",
                found.used_by or "",
            )

    def unblind(self, subject_id: str, *, actor: str, reason: str) -> SubjectRandomization:
        """Reveal a randomized subject's arm to ``actor`` (emergency or final unblinding).

        Writes an ``unblinding`` event with the reason; changes no row.

        Raises
        ------
        InputError
            Without a reason or an actor, or for a subject not randomized.
        NotFoundError
            For a subject that is not enrolled.
        """
        store = cast("Store", self)
        store._randomization_spec()
        if not (reason and reason.strip()):
            raise InputError(f"subject {subject_id}: unblinding needs a reason, kept in the audit")
        if not actor:
            raise InputError("every change needs an actor (who made it)")
        if store.subject(subject_id) is None:
            raise NotFoundError(f"subject '{subject_id}' is not enrolled in {store.protocol.id}")
        found = store.randomization(subject_id)
        if found is None:
            raise InputError(f"subject {subject_id} is not randomized: there is no arm to reveal")
        with store._write() as session:
            lock_subjects(session, store.protocol.id, [subject_id])
            store._append_audit(
                session,
                actor=actor,
                action="unblind",
                entity_type="unblinding",
                entity_key=f"{store.protocol.id}/{subject_id}/unblinding",
                before=None,
                after={"number": found.number, "arm": found.arm, "revealed_to": actor},
                reason=reason.strip(),
            )
        return found

    # -- report ------------------------------------------------------------------------------

    def allocation_report(self) -> list[ArmBalance]:
        """Allocation balance by stratum: used rows per arm, and unused rows left (whose arms
        stay concealed). For unblinded roles only: the callers check the role."""
        store = cast("Store", self)
        spec = store._randomization_spec()
        with Session(store.engine) as session:
            rows = session.execute(
                select(AllocationRow.stratum, AllocationRow.arm, AllocationRow.subject_id).where(
                    AllocationRow.study_id == store.study_pk
                )
            ).all()
        used: dict[str, Counter[str]] = {}
        remaining: Counter[str] = Counter()
        for stratum, arm, subject in rows:
            if subject is None:
                remaining[stratum] += 1
            else:
                used.setdefault(stratum, Counter())[arm] += 1
        return [
            ArmBalance(
                stratum,
                {arm: used.get(stratum, Counter())[arm] for arm in spec.ratio},
                remaining[stratum],
            )
            for stratum in strata_of(store.protocol)
        ]


def _claim(
    session: Session, study_pk: int, stratum: str, subject_pk: int, now: str, actor: str
) -> AllocationRow | None:
    """Claim the lowest unused row of ``stratum`` for a subject, or ``None`` when none is left."""
    while True:
        candidate = session.scalars(
            select(AllocationRow)
            .where(
                AllocationRow.study_id == study_pk,
                AllocationRow.stratum == stratum,
                AllocationRow.subject_id.is_(None),
            )
            .order_by(AllocationRow.sequence)
            .limit(1)
            .execution_options(populate_existing=True)
        ).first()
        if candidate is None:
            return None
        claimed = session.execute(
            update(AllocationRow)
            .where(AllocationRow.id == candidate.id, AllocationRow.subject_id.is_(None))
            .values(subject_id=subject_pk, used_at=now, used_by=actor)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(candidate)
            return candidate
        # a concurrent randomization committed this row first: take the next one
