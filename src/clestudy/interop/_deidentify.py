"""De-identification of any export (``clestudy export FORMAT --deidentify``).

De-identification is a transformation of the data read from the store, made before any writer
runs: the study is copied, through :meth:`~clestudy.store.Store.save_records` like every other
write, into a scratch SQLite database, transformed on the way, and the export's writer (CSV,
Parquet, SPSS, Stata, REDCap, ODM, SDTM alike) reads that copy. The copy is deleted afterwards.
On the way:

* **identifiers**: fields flagged ``identifier: true`` (REDCap's "Identifier?") are removed;
* **free text**: every ``text`` field is removed unless whitelisted (``--keep-text FIELD`` or
  ``FORM.FIELD``, or the field's annotation ``deidentify: keep`` in the protocol);
* **subject ids** become pseudonyms ``S`` + 10 hex digits of HMAC-SHA256(key, study/subject):
  stable for one key, meaningless without it. The key is a file kept apart from the export
  (``--pseudonym-key FILE``; when absent, a new random key is written beside the output folder,
  ``OUT.pseudonym-key``, never inside it);
* **dates** are shifted back by a per-subject offset of 1-364 days derived from the key (so a
  subject's intervals are kept and a second export with the same key shifts the same way), or,
  with ``--dates study-day``, replaced by the SDTM study day counted from the subject's
  reference start date (``RFSTDTC``, :func:`clestudy.interop._sdtm.reference_dates`);
* **ages** (a field with CDASH ``AGE`` or unit ``years``) become text, those over 89 grouped
  as ``90+``, and the date of birth of such a subject is removed (its year would tell the age):
  HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i)(C);
* **system timestamps and user names**: the copy's events are written by the actor
  ``deidentified`` at the fixed time :data:`SENTINEL_TIME`, so ODM audit records and creation
  times carry neither; the manifest loses ``exported_at`` and gains a ``deidentified`` section
  (method, date mode, removed fields, the key's id: the first 16 hex digits of its SHA-256).

The copy keeps record statuses (a verified record is verified again, a locked one locked) but not
the audit history (reasons for change are free text), edit checks or discrepancies.

References
----------
HIPAA Privacy Rule, de-identification by the Safe Harbor method, 45 CFR 164.514(b)(2)
(docs/references.md [HIPAA Safe Harbor]). REDCap's de-identified export offers the same options
(identifier fields, free text, hashed record ids, dates shifted by 0-364 days per record).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clestudy.errors import InputError
from clestudy.interop._manifest import MANIFEST_NAME, audit_head, staged_output
from clestudy.interop._sdtm import reference_dates
from clestudy.interop._sdtm_rules import study_day
from clestudy.protocol import FieldSpec, Protocol
from clestudy.protocol._missing_codes import IMPORTED_KEY, MISSING_KEY, coded_fields
from clestudy.store import RecordInput, RecordState, Store, open_store

__all__ = [
    "DATE_MODES",
    "SENTINEL_TIME",
    "Deidentification",
    "date_shift",
    "default_key_path",
    "deidentified_protocol",
    "deidentified_store",
    "export_deidentified",
    "load_key",
    "new_key",
    "pseudonym",
    "write_key",
]

DateMode = Literal["shift", "study-day"]
DATE_MODES: tuple[DateMode, ...] = ("shift", "study-day")
SENTINEL_TIME = dt.datetime(2999, 12, 31, tzinfo=dt.UTC)
"""The clock of the de-identified copy: every event and creation time of the export shows it."""
ACTOR = "deidentified"
AGE_TOP = 89
_KEY_BYTES = 32


@dataclass(frozen=True)
class Deidentification:
    """How to de-identify: the pseudonym key, the date mode and the free text to keep."""

    key: bytes
    dates: DateMode = "shift"
    keep_text: frozenset[str] = field(default_factory=frozenset)

    @property
    def key_id(self) -> str:
        """First 16 hex digits of the key's SHA-256: names the key without revealing it."""
        return hashlib.sha256(self.key).hexdigest()[:16]

    def _mac(self, purpose: str, study: str, subject: str) -> bytes:
        message = f"{purpose}\x00{study}\x00{subject}".encode()
        return hmac.new(self.key, message, hashlib.sha256).digest()


def default_key_path(out_dir: Path) -> Path:
    """Where the key goes when ``--pseudonym-key`` is not given: beside ``out_dir``."""
    return out_dir.parent / f"{out_dir.name}.pseudonym-key"


def load_key(path: Path, out_dir: Path) -> bytes | None:
    """The pseudonym key in ``path`` (hex), or ``None`` when the file does not exist yet.

    Raises
    ------
    InputError
        When ``path`` is inside ``out_dir`` (the key must stay apart from the export) or does not
        hold a key of at least 16 bytes in hex.
    """
    resolved, out = path.resolve(), out_dir.resolve()
    if resolved == out or out in resolved.parents:
        raise InputError(f"--pseudonym-key: {path} is inside the output folder {out_dir}")
    if not path.exists():
        return None
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise InputError(f"--pseudonym-key: {path}: line 1: not a key (32 or more hex digits)")
    return key


def new_key() -> bytes:
    """A new random pseudonym key (32 bytes from :mod:`secrets`)."""
    return secrets.token_bytes(_KEY_BYTES)


def write_key(path: Path, key: bytes) -> None:
    """Save ``key`` in ``path`` (hex, readable by its owner only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key.hex() + "\n", encoding="ascii")
    path.chmod(0o600)


def pseudonym(settings: Deidentification, study: str, subject: str) -> str:
    """The subject's pseudonym: ``S`` + 10 upper-case hex digits of an HMAC-SHA256."""
    return "S" + settings._mac("subject", study, subject).hex()[:10].upper()


def date_shift(settings: Deidentification, study: str, subject: str) -> int:
    """The subject's date offset in days: -364 to -1 (dates move back, never by 0)."""
    return -(1 + int.from_bytes(settings._mac("dates", study, subject)[:4], "big") % 364)


def _is_age(spec: FieldSpec) -> bool:
    return spec.cdash == "AGE" or (spec.unit or "").lower() in ("years", "year", "y")


def _kept(settings: Deidentification, form_id: str, spec: FieldSpec) -> bool:
    """Whether a field stays: not an identifier, and not free text unless whitelisted (on the
    command line, or by the protocol: the field's annotation ``deidentify: keep``)."""
    if spec.identifier:
        return False
    if spec.type == "text":
        listed = spec.id in settings.keep_text or f"{form_id}.{spec.id}" in settings.keep_text
        return listed or spec.annotations.get("deidentify") == "keep"
    return True


def deidentified_protocol(
    protocol: Protocol, settings: Deidentification
) -> tuple[Protocol, list[str]]:
    """The protocol of the copy, and the ``FORM.FIELD`` ids it removed."""
    data = protocol.model_dump(mode="json")
    removed: list[str] = []
    forms = []
    for form_data, form in zip(data["forms"], protocol.forms, strict=True):
        fields = []
        for field_data, spec in zip(form_data["fields"], form.fields, strict=True):
            if not _kept(settings, form.id, spec):
                removed.append(f"{form.id}.{spec.id}")
                continue
            if _is_age(spec):
                field_data.update(type="text", min=None, max=None, allowed=[])
            elif spec.type == "date" and settings.dates == "study-day":
                notes = {**spec.annotations, "study_day_of": spec.label}
                field_data.update(type="integer", unit="study day", annotations=notes)
            fields.append(field_data)
        if fields:
            ids = {f["id"] for f in fields}
            form_data["fields"] = fields
            form_data["visit_date"] = form_data["visit_date"] if form_data["visit_date"] in ids \
                else None  # fmt: skip
            forms.append(form_data)
    kept = {f["id"]: {x["id"] for x in f["fields"]} for f in forms}
    data["forms"] = forms
    for visit in data["visits"]:
        visit["forms"] = [f for f in visit["forms"] if f in kept]
    data["derived_scores"] = [d for d in data["derived_scores"] if d["form"] in kept]
    scored = {d["form"] for d in data["derived_scores"]}
    data["endpoints"] = [e for e in data["endpoints"] if e["form"] in kept
                         and (e["item"] in kept[e["form"]] or e["form"] in scored)]  # fmt: skip
    endpoints = {e["id"] for e in data["endpoints"]}
    data["analysis_plan"] = [a for a in data["analysis_plan"] if a["endpoint"] in endpoints]
    data["edit_checks"] = []
    data["reference_ranges"] = [r for r in data["reference_ranges"]
                                if r["field"] in kept.get(r["form"], set())]  # fmt: skip
    data["annotations"] = {**data["annotations"], "deidentified": settings.dates}
    return Protocol.model_validate(data), removed


def _over_age(protocol: Protocol, records: Sequence[RecordState]) -> set[str]:
    """Subjects with an age over 89 in any age field."""
    old = set()
    for record in records:
        form = protocol.form(record.form_id)
        for spec in form.fields if form else ():
            value = record.values.get(spec.id)
            if _is_age(spec) and value is not None and float(str(value)) > AGE_TOP:
                old.add(record.subject_id)
    return old


def _new_value(spec: FieldSpec, value: Any, shift: int | None, reference: str | None) -> Any:
    """The value in the copy; a ``shift`` of ``None`` means study days from ``reference``."""
    if _is_age(spec):
        return "90+" if float(str(value)) > AGE_TOP else str(value)
    if spec.type != "date":
        return value
    if shift is None:
        return study_day(str(value), reference)
    return (dt.date.fromisoformat(str(value)) + dt.timedelta(days=shift)).isoformat()


def _copy_inputs(
    store: Store, copy: Protocol, settings: Deidentification
) -> list[tuple[RecordInput, str]]:
    """Each record's de-identified input to the copy, with the record's status."""
    protocol = store.protocol
    records = store.records()
    old = _over_age(protocol, records)
    references = reference_dates(protocol, records)
    inputs = []
    for record in records:
        form, kept_form = protocol.form(record.form_id), copy.form(record.form_id)
        if form is None or kept_form is None:
            continue
        subject = record.subject_id
        study_days = settings.dates == "study-day"
        shift = None if study_days else date_shift(settings, protocol.id, subject)
        values = {}
        for spec in form.fields:
            value = record.values.get(spec.id)
            if value is None or kept_form.field(spec.id) is None:
                continue
            if spec.cdash == "BRTHDAT" and subject in old:
                continue
            new = _new_value(spec, value, shift, references.get(subject))
            if new is not None:
                values[spec.id] = new
        codes = {k: c for k, c in coded_fields(record.values).items() if kept_form.field(k)}
        if codes:  # a missing-data code says nothing of the subject: kept with its field
            values[MISSING_KEY] = codes
        if IMPORTED_KEY in record.values:
            values[IMPORTED_KEY] = record.values[IMPORTED_KEY]
        name = pseudonym(settings, protocol.id, subject)
        item = RecordInput(name, record.visit_id, record.form_id, values, instance=record.instance)
        inputs.append((item, record.status))
    return inputs


def _copy_statuses(target: Store, saved: Sequence[RecordState], statuses: Sequence[str]) -> None:
    """Verify or lock the copies of verified and locked records (a locked record is locked from
    ``complete``: its status before the lock is not part of its state)."""
    for state, status in zip(saved, statuses, strict=True):
        if status not in ("verified", "locked") or state.status != "complete":
            continue
        change = target.verify_record if status == "verified" else target.lock_record
        change(state.subject_id, state.visit_id, state.form_id, expected_version=state.version,
               actor=ACTOR, instance=state.instance)  # fmt: skip


@contextmanager
def deidentified_store(
    store: Store, settings: Deidentification
) -> Iterator[tuple[Store, list[str]]]:
    """A de-identified copy of the study in a scratch database (deleted on exit), and the
    ``FORM.FIELD`` ids removed from it."""
    copy, removed = deidentified_protocol(store.protocol, settings)
    folder = Path(tempfile.mkdtemp(prefix=".clestudy-deidentify-"))
    try:
        with open_store(f"sqlite:///{folder / 'copy.db'}", copy, actor=ACTOR) as target:
            target.clock = lambda: SENTINEL_TIME
            for subject in store.subjects():
                name = pseudonym(settings, store.protocol.id, subject.subject_id)
                target.add_subject(name, arm=subject.arm, site=subject.site, actor=ACTOR)
            inputs = _copy_inputs(store, copy, settings)
            if inputs:
                saved = target.save_records([i for i, _ in inputs], actor=ACTOR,
                                            reason="de-identified copy")  # fmt: skip
                _copy_statuses(target, saved, [status for _, status in inputs])
            yield target, removed
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _clean_manifest(
    path: Path, source: Store, settings: Deidentification, removed: list[str]
) -> None:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.pop("exported_at", None)
    manifest["audit_head"] = audit_head(source)
    manifest["deidentified"] = {
        "method": "HIPAA Safe Harbor identifiers removed, 45 CFR 164.514(b)(2)",
        "pseudonyms": "S + HMAC-SHA256(key, study/subject)[:10]",
        "key_id": settings.key_id,
        "dates": settings.dates,
        "ages_over_89": "90+",
        "removed_fields": removed,
        "kept_text": sorted(settings.keep_text),
    }
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def export_deidentified(
    store: Store,
    settings: Deidentification,
    out_dir: Path,
    write: Callable[[Store, Path], Sequence[Path]],
) -> tuple[Path, ...]:
    """Run the export ``write(store, folder)`` on a de-identified copy of ``store`` and move its
    files into ``out_dir`` (all or nothing); return their paths there."""
    with deidentified_store(store, settings) as (copy, removed), staged_output(out_dir) as scratch:
        written = write(copy, scratch / "export")
        manifest = scratch / "export" / MANIFEST_NAME
        if manifest.exists():
            _clean_manifest(manifest, store, settings, removed)
        names = [p.name for p in written]
        for path in (scratch / "export").iterdir():
            shutil.move(str(path), str(scratch / path.name))
        (scratch / "export").rmdir()
    return tuple(out_dir / name for name in names)
