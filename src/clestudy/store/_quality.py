"""Data-quality runs over the whole study, one discrepancy list, and exclusions.

:meth:`Store.run_quality_rules` reads the study once (its subjects, every current record and the
save-time discrepancies: four queries whatever the study's size), runs the pure rules of
:func:`clestudy.protocol.run_quality_rules` and stores the run: its time, actor, the date it
judged by (``as_of``), the protocol version, a SHA-256 of the data it read (each subject's id and
site, each record's key, version and values), its findings as canonical JSON and their SHA-256,
and counts. Audited: ``entity_type = "dq_run"``, ``entity_key = STUDY@dq-run:N``, action ``run``,
``after = {"run", "as_of", "protocol_version", "data_sha256", "findings_sha256", "counts"}``.

**One list.** :meth:`Store.data_quality` merges the save-time discrepancies (``source =
"edit-check"``: a warning that fired on save, open until resolved; live) with the findings of the
latest run (``source = "dq-rule"``: as of that run). An edit check that a record already carries
as a save-time discrepancy (open or resolved) is not listed again from the run, so a warning
resolved with a reason stays resolved. Statuses: ``open``, ``resolved`` (edit-check) and
``excluded`` (dq-rule).

**Exclusions.** :meth:`Store.exclude_finding` confirms a finding of the latest run as correct,
with a reason; the exclusion keeps the finding's ``data_sha256``, so a later run that finds the
same key over the same data lists it as ``excluded``, and one over changed data lists it ``open``
again ("the data changed since the exclusion"). :meth:`Store.revoke_exclusion` takes it back,
with a reason. Audited: ``entity_type = "dq_exclusion"``, ``entity_key = STUDY/FINDING_KEY``
(which starts with ``STUDY/SUBJECT/VISIT/FORM``), actions ``exclude`` and ``revoke``, ``after =
{"finding", "rule", "data_sha256", "status", "reason"}``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import InputError, NotFoundError
from clestudy.protocol import QualityFinding, QualityRecord, run_quality_rules
from clestudy.protocol._quality import VISIT_WINDOW
from clestudy.store._audit import canonical_json
from clestudy.store._chain import lock_subjects
from clestudy.store._schema import QualityExclusionRow, QualityRunRow

if TYPE_CHECKING:
    from clestudy.store._service import Store

__all__ = [
    "QUALITY_CSV_COLUMNS",
    "QUALITY_STATUSES",
    "QualityItem",
    "QualityMixin",
    "QualityRun",
    "exclusion_state",
    "quality_csv",
    "run_entity_key",
    "run_state",
]

#: The statuses of the discrepancy list.
QUALITY_STATUSES = ("open", "resolved", "excluded")
_SOURCES = ("edit-check", "dq-rule")


@dataclass(frozen=True)
class QualityRun:
    """A stored data-quality run."""

    run: int
    run_at: str
    run_by: str
    as_of: str
    protocol_version: str
    data_sha256: str
    findings_sha256: str
    counts: dict[str, int]


@dataclass(frozen=True)
class QualityItem:
    """One line of the discrepancy list: a save-time discrepancy or a finding of the latest run.

    ``key`` is ``SUBJECT/VISIT/FORM[#N]/RULE[/FIELD]``; ``detail`` the resolution, the exclusion's
    reason, or why an exclusion no longer holds; ``run`` the run a dq-rule finding comes from.
    """

    key: str
    source: str
    rule: str
    category: str
    severity: str
    site: str
    subject_id: str
    visit_id: str
    form_id: str
    instance: int
    fields: tuple[str, ...]
    message: str
    status: str
    detail: str | None
    run: int | None

    @property
    def record(self) -> str:
        """``SUBJECT/VISIT/FORM[#N]``."""
        suffix = f"#{self.instance}" if self.instance != 1 else ""
        return f"{self.subject_id}/{self.visit_id}/{self.form_id}{suffix}"


def run_entity_key(study: str, run: int) -> str:
    """The audit entity key of a run (on the study chain): ``STUDY@dq-run:N``."""
    return f"{study}@dq-run:{run}"


def findings_sha256(findings_json: str) -> str:
    """The SHA-256 of a run's stored findings text."""
    return hashlib.sha256(findings_json.encode("utf-8")).hexdigest()


def run_state(row: QualityRunRow) -> dict[str, Any]:
    """What a run's audit event records (``findings_sha256`` recomputed from the stored text)."""
    return {
        "run": row.id,
        "as_of": row.as_of,
        "protocol_version": row.protocol_version,
        "data_sha256": row.data_sha256,
        "findings_sha256": findings_sha256(row.findings_json),
        "counts": json.loads(row.counts_json),
    }


def exclusion_state(row: QualityExclusionRow) -> dict[str, Any]:
    """What an exclusion's audit events record."""
    return {
        "finding": row.finding_key,
        "rule": row.rule,
        "data_sha256": row.data_sha256,
        "status": row.status,
        "reason": row.reason,
    }


def _finding_dict(finding: QualityFinding) -> dict[str, Any]:
    return {
        "key": finding.key,
        "rule": finding.rule,
        "category": finding.category,
        "severity": finding.severity,
        "subject": finding.subject_id,
        "visit": finding.visit_id,
        "form": finding.form_id,
        "instance": finding.instance,
        "field": finding.field,
        "fields": list(finding.fields),
        "message": finding.message,
        "data_sha256": finding.data_sha256,
    }


def _data_sha256(subjects: Sequence[tuple[str, str]], records: Sequence[Any]) -> str:
    data = {
        "subjects": sorted([list(s) for s in subjects]),
        "records": sorted([r.key, r.version, r.values] for r in records),
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _run_of(row: QualityRunRow) -> QualityRun:
    return QualityRun(
        row.id, row.run_at, row.run_by, row.as_of, row.protocol_version, row.data_sha256,
        row.findings_sha256, json.loads(row.counts_json),
    )  # fmt: skip


def _carried(finding: QualityFinding, carried: set[tuple[str, str]]) -> bool:
    """Whether the record already carries the finding as a save-time discrepancy (any status);
    ``dq.visit_window`` is the save-time ``builtin.visit_window`` with today's baseline."""
    if finding.category == "edit-check":
        return (finding.record, finding.rule) in carried
    return finding.rule == VISIT_WINDOW and (finding.record, "builtin.visit_window") in carried


def run_quality(store: Store, *, actor: str) -> QualityRun:
    """Run every data-quality rule over the study and store the run (audited ``run``)."""
    if not actor:
        raise InputError("every change needs an actor (who made it)")
    subjects = [(s.subject_id, s.site) for s in store.subjects()]
    records = store.records()
    carried = {(d.record, d.check_id) for d in store.discrepancies()}
    as_of = store.clock().date()
    plain = [
        QualityRecord(r.subject_id, r.visit_id, r.form_id, r.instance, r.values) for r in records
    ]
    found = run_quality_rules(store.protocol, [s for s, _ in subjects], plain, today=as_of)
    findings = [f for f in found if not _carried(f, carried)]
    text = canonical_json([_finding_dict(f) for f in findings])
    counts = dict(sorted(Counter(f.category for f in findings).items()))
    counts |= {"findings": len(findings), "subjects": len(subjects), "records": len(records)}
    with store._write() as session:
        row = QualityRunRow(
            study_id=store.study_pk, run_at=store._now(), run_by=actor, as_of=as_of.isoformat(),
            protocol_version=store.protocol.version, data_sha256=_data_sha256(subjects, records),
            findings_sha256=findings_sha256(text), counts_json=canonical_json(counts),
            findings_json=text,
        )  # fmt: skip
        session.add(row)
        session.flush()
        store._append_audit(
            session,
            actor=actor,
            action="run",
            entity_type="dq_run",
            entity_key=run_entity_key(store.protocol.id, row.id),
            before=None,
            after=run_state(row),
            reason=None,
        )
        return _run_of(row)


def _latest_row(store: Store, session: Session) -> QualityRunRow | None:
    return session.scalars(
        select(QualityRunRow)
        .where(QualityRunRow.study_id == store.study_pk)
        .order_by(QualityRunRow.id.desc())
        .limit(1)
    ).first()


def _exclusions(store: Store, session: Session) -> dict[str, QualityExclusionRow]:
    rows = session.scalars(
        select(QualityExclusionRow).where(QualityExclusionRow.study_id == store.study_pk)
    )
    return {row.finding_key: row for row in rows}


def _run_item(
    found: dict[str, Any], site: str, run: int, exclusion: QualityExclusionRow | None
) -> QualityItem:
    status, detail = "open", None
    if exclusion is not None and exclusion.status == "excluded":
        if exclusion.data_sha256 == found["data_sha256"]:
            status, detail = "excluded", exclusion.reason
        else:
            detail = (
                f"excluded by {exclusion.updated_by} ({exclusion.reason}), but the data changed "
                "since"
            )
    return QualityItem(
        found["key"], "dq-rule", found["rule"], found["category"], found["severity"], site,
        found["subject"], found["visit"], found["form"], found["instance"],
        tuple(found["fields"]), found["message"], status, detail, run,
    )  # fmt: skip


def _order(store: Store) -> Any:
    visits = {v.id: (i, v.forms) for i, v in enumerate(store.protocol.visits)}

    def key(item: QualityItem) -> tuple[object, ...]:
        index, forms = visits.get(item.visit_id, (len(visits), ()))
        form = forms.index(item.form_id) if item.form_id in forms else len(forms)
        return (item.subject_id, index, form, item.instance, item.key)

    return key


def quality_items(
    store: Store, *, sites: Collection[str] | None = None, site: str | None = None,
    subject_id: str | None = None, form_id: str | None = None, rule: str | None = None,
    status: str | None = None, source: str | None = None,
) -> list[QualityItem]:  # fmt: skip
    """The discrepancy list (see the module docstring), filtered; ``sites`` limits it to the
    subjects of those sites (``None``: every site)."""
    if status is not None and status not in QUALITY_STATUSES:
        raise InputError(f"status {status!r} is not one of {', '.join(QUALITY_STATUSES)}")
    if source is not None and source not in _SOURCES:
        raise InputError(f"source {source!r} is not one of {', '.join(_SOURCES)}")
    site_of = {s.subject_id: s.site for s in store.subjects()}
    items: list[QualityItem] = []
    for d in store.discrepancies(subject_id=subject_id):
        subject, visit, rest = d.record.split("/", 2)
        form, _, instance = rest.partition("#")
        item = QualityItem(
            f"{d.record}/{d.check_id}", "edit-check", d.check_id, "edit-check", d.severity,
            site_of.get(subject, ""), subject, visit, form, int(instance or 1), d.fields,
            d.message, d.status, d.resolution, None,
        )  # fmt: skip
        items.append(item)
    with Session(store.engine) as session:
        latest = _latest_row(store, session)
        exclusions = _exclusions(store, session)
        if latest is not None:
            for entry in json.loads(latest.findings_json):
                site_code = site_of.get(entry["subject"], "")
                excluded = exclusions.get(entry["key"])
                items.append(_run_item(entry, site_code, latest.id, excluded))
    wanted = [
        item
        for item in items
        if item.subject_id in site_of  # a subject deleted since the run
        and (sites is None or item.site in sites)
        and (site is None or item.site == site)
        and (subject_id is None or item.subject_id == subject_id)
        and (form_id is None or item.form_id == form_id)
        and (rule is None or item.rule == rule)
        and (status is None or item.status == status)
        and (source is None or item.source == source)
    ]
    return sorted(wanted, key=_order(store))


def _checked(
    store: Store, key: str, reason: str, actor: str, sites: Collection[str] | None, what: str
) -> tuple[str, str, str]:
    """``(subject, site, reason)`` of an exclusion or revocation, once actor and reason are given
    and the finding's subject is visible: an unknown subject and one of a site not in ``sites``
    get the same :class:`~clestudy.errors.NotFoundError`."""
    if not actor:
        raise InputError("every change needs an actor (who made it)")
    if not (reason and reason.strip()):
        raise InputError(f"{what} {key}: a reason is required")
    subject = key.split("/", 1)[0]
    found = store.subject(subject)
    if found is None or (sites is not None and found.site not in sites):
        raise NotFoundError(f"no data-quality finding {key}")
    return subject, found.site, reason.strip()


def _audit_exclusion(
    store: Store, session: Session, row: QualityExclusionRow, action: str,
    before: dict[str, Any] | None,
) -> None:  # fmt: skip
    session.flush()
    store._append_audit(
        session, actor=row.updated_by, action=action, entity_type="dq_exclusion",
        entity_key=f"{store.protocol.id}/{row.finding_key}", before=before,
        after=exclusion_state(row), reason=row.reason,
    )  # fmt: skip


def exclude_finding(
    store: Store, key: str, *, reason: str, actor: str, sites: Collection[str] | None = None
) -> QualityItem:
    """Confirm a finding of the latest run as correct, with a reason (audited ``exclude``)."""
    subject, site, reason = _checked(store, key, reason, actor, sites, "excluding")
    if any(f"{d.record}/{d.check_id}" == key for d in store.discrepancies(subject_id=subject)):
        raise InputError(
            f"{key} is a save-time discrepancy: resolve it with a reason "
            "(clestudy discrepancy resolve)"
        )
    with store._write() as session:
        lock_subjects(session, store.protocol.id, [subject])
        latest = _latest_row(store, session)
        entries = json.loads(latest.findings_json) if latest is not None else []
        entry = next((e for e in entries if e["key"] == key), None)
        if entry is None or latest is None:
            run = f"run {latest.id}" if latest is not None else "no run yet"
            raise NotFoundError(f"no data-quality finding {key} in the latest run ({run})")
        row = _exclusions(store, session).get(key)
        before = None if row is None else exclusion_state(row)
        if row is not None and row.status == "excluded" and row.data_sha256 == entry["data_sha256"]:
            raise InputError(f"{key} is already excluded ({row.reason})")
        if row is None:
            row = QualityExclusionRow(study_id=store.study_pk, finding_key=key, subject_key=subject)
            session.add(row)
        row.rule, row.data_sha256, row.status = entry["rule"], entry["data_sha256"], "excluded"
        row.reason, row.updated_at, row.updated_by = reason, store._now(), actor
        _audit_exclusion(store, session, row, "exclude", before)
        return _run_item(entry, site, latest.id, row)


def revoke_exclusion(
    store: Store, key: str, *, reason: str, actor: str, sites: Collection[str] | None = None
) -> None:
    """Take back an exclusion, with a reason (audited ``revoke``): the finding is open again."""
    subject, _, reason = _checked(store, key, reason, actor, sites, "revoking the exclusion of")
    with store._write() as session:
        lock_subjects(session, store.protocol.id, [subject])
        row = _exclusions(store, session).get(key)
        if row is None or row.status != "excluded":
            raise NotFoundError(f"no exclusion of {key} to revoke")
        before = exclusion_state(row)
        row.status, row.reason = "revoked", reason
        row.updated_at, row.updated_by = store._now(), actor
        _audit_exclusion(store, session, row, "revoke", before)


#: The columns of the CSV export, in order.
QUALITY_CSV_COLUMNS = (
    "key", "source", "rule", "category", "severity", "status", "site", "subject", "visit",
    "form", "instance", "fields", "message", "detail", "run",
)  # fmt: skip


def _cell(value: str) -> str:
    # a spreadsheet runs a cell starting with = + - @ as a formula (OWASP "CSV injection")
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def quality_csv(items: Sequence[QualityItem]) -> str:
    """The list as CSV text (RFC 4180, header row :data:`QUALITY_CSV_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(QUALITY_CSV_COLUMNS)
    for i in items:
        writer.writerow([
            i.key, i.source, i.rule, i.category, i.severity, i.status, i.site, i.subject_id,
            i.visit_id, i.form_id, i.instance, ";".join(i.fields), _cell(i.message),
            _cell(i.detail or ""), "" if i.run is None else i.run,
        ])  # fmt: skip
    return out.getvalue()


class QualityMixin:
    """The data-quality runs, list and exclusions of :class:`~clestudy.store.Store`."""

    def run_quality_rules(self, *, actor: str) -> QualityRun:
        """Run every data-quality rule over the study; store and audit the run."""
        return run_quality(cast("Store", self), actor=actor)

    def quality_runs(self) -> list[QualityRun]:
        """The study's data-quality runs, oldest first."""
        store = cast("Store", self)
        with Session(store.engine) as session:
            rows = session.scalars(
                select(QualityRunRow)
                .where(QualityRunRow.study_id == store.study_pk)
                .order_by(QualityRunRow.id)
            )
            return [_run_of(row) for row in rows]

    def data_quality(
        self, *, sites: Collection[str] | None = None, site: str | None = None,
        subject_id: str | None = None, form_id: str | None = None, rule: str | None = None,
        status: str | None = None, source: str | None = None,
    ) -> list[QualityItem]:  # fmt: skip
        """The one discrepancy list: save-time discrepancies and the latest run's findings."""
        return quality_items(
            cast("Store", self), sites=sites, site=site, subject_id=subject_id, form_id=form_id,
            rule=rule, status=status, source=source,
        )  # fmt: skip

    def exclude_finding(
        self, key: str, *, reason: str, actor: str, sites: Collection[str] | None = None
    ) -> QualityItem:
        """Confirm a finding of the latest run as correct, with a reason (audited)."""
        return exclude_finding(cast("Store", self), key, reason=reason, actor=actor, sites=sites)

    def revoke_exclusion(
        self, key: str, *, reason: str, actor: str, sites: Collection[str] | None = None
    ) -> None:
        """Revoke an exclusion, with a reason (audited)."""
        revoke_exclusion(cast("Store", self), key, reason=reason, actor=actor, sites=sites)
