"""REDCap in and out: every fixture project round-trips value by value, or is refused clearly.

The fixtures are REDCapR's test projects (MIT), read from ``../shared/fixtures/redcap``.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from clestudy.errors import InputError
from clestudy.interop import export_redcap, import_redcap
from clestudy.store import audit_events, open_store

#: Projects clestudy can represent: they must round-trip with no loss.
REPRESENTABLE = (
    "arm-single-delete",
    "dag",
    "dag-write",
    "decimal-comma",
    "decimal-comma-and-dot",
    "decimal-dot",
    "multilevel-model-1",
    "nonnumeric-record-id",
    "repeating-instruments",
    "repeating-instruments-sparse",
)
#: Projects with a construct clestudy cannot hold, and the refusal that names it.
REFUSED = {
    "arm-multiple-delete": r"record '101' is in arm_1 and arm_2: a clestudy subject belongs to one arm",
    "arm-single-longitudinal": r"dictionary.csv: line 5: field 'image_profile': field type 'file'",
    "blank-for-gray-status": r"line 15: field 'mugshot': field type 'file' \(an uploaded file",
    "checkboxes-1": r"form 'form_1' holds only the record id field",
    "empty-rows": r"field 'mugshot': field type 'file'",
    "file-repo": r"field 'consent_01': field type 'descriptive'",
    "longitudinal": r"field 'patient_document': field type 'file'",
    "metadata-write": r"field 'mugshot': field type 'file'",
    "simple": r"field 'mugshot': field type 'file'",
    "single-column": r"form 'demographics' holds only the record id field",
    "survey": r"column 'redcap_survey_identifier': REDCap surveys",
    "validation-types-1": r"field 'f_descriptive': field type 'descriptive'",
    "vignette-repeating": r"field 'image_profile': field type 'file'",
}
KEY = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")


def _after_value(event: dict[str, object], field: str) -> object:
    """A field's value in an audit event's ``after`` state."""
    after = event["after"]
    assert isinstance(after, dict), event
    return after["values"][field]


def _project(fixtures: Path, name: str) -> tuple[Path, Path]:
    folder = fixtures / "redcap" / name
    dictionary = next(
        p for p in (folder / "dictionary.csv", folder / "dictionay.csv") if p.exists()
    )
    return dictionary, folder / "data.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _has_data(row: dict[str, str], record_id: str) -> bool:
    """A row holding no value (blank cells, unticked boxes, status 0) carries nothing."""
    return any(
        value.strip() not in ("", "0")
        for column, value in row.items()
        if column != record_id and column not in KEY and column != "redcap_data_access_group"
    )


def _same(exported: str, original: str) -> bool:
    if exported == original:
        return True
    try:
        return Decimal(exported) == Decimal(original.strip().replace(",", "."))
    except InvalidOperation:
        return False


def assert_round_trip(original: Path, exported: Path) -> int:
    """Every cell of ``original`` is in ``exported``, in the same row and column.

    Compared as text, except numbers, compared as numbers: clestudy stores a decimal in its
    canonical text (``' -0.119'`` becomes ``-0.119``, ``.34`` becomes ``0.34``). The form status
    ``FORM_complete`` (0, 1, 2) and missing-data codes are compared exactly, like any text; a
    blank status (REDCap's "gray", a form never saved) comes back as 0 when the row holds the
    form's record only through another form.
    """
    before, after = _rows(original), _rows(exported)
    record_id = next(iter(before[0]))
    assert list(before[0]) == list(after[0]), "columns differ"
    index = {(r[record_id], *(r.get(k, "") for k in KEY)): r for r in after}
    checked = 0
    for row in before:
        if not _has_data(row, record_id):
            continue
        twin = index[(row[record_id], *(row.get(k, "") for k in KEY))]
        for column, value in row.items():
            if column.endswith("_complete") and value == "":
                assert twin[column] in ("", "0"), (row[record_id], column, twin[column])
                continue
            assert _same(twin[column], value), (row[record_id], column, value, twin[column])
            checked += 1
    assert len(after) == sum(_has_data(r, record_id) for r in before)
    return checked


@pytest.mark.parametrize("name", REPRESENTABLE)
def test_fixture_round_trips_value_by_value(fixtures: Path, name: str, tmp_path: Path) -> None:
    dictionary, data = _project(fixtures, name)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    plan = import_redcap(url, dictionary, data, study=name, actor="importer")
    assert plan.creates and not plan.updates and plan.new_study
    with open_store(url, name) as store:
        files = export_redcap(store, tmp_path / "out")
    assert [p.name for p in files] == ["dictionary.csv", "records.csv", "manifest.json"]
    assert assert_round_trip(data, tmp_path / "out" / "records.csv") > 0
    assert _rows(tmp_path / "out" / "dictionary.csv") == _rows(dictionary)


@pytest.mark.parametrize("name", REPRESENTABLE[:3])
def test_reimport_changes_nothing(fixtures: Path, name: str, tmp_path: Path) -> None:
    dictionary, data = _project(fixtures, name)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    first = import_redcap(url, dictionary, data, study=name, actor="importer")
    events = audit_events(url)
    again = import_redcap(url, dictionary, data, study=name, actor="importer")
    assert (again.creates, again.updates, again.new_subjects) == ([], [], [])
    assert sorted(again.unchanged) == sorted(first.creates)
    assert audit_events(url) == events


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unrepresentable_fixture_is_refused_and_nothing_written(
    fixtures: Path, name: str, tmp_path: Path
) -> None:
    dictionary, data = _project(fixtures, name)
    db = tmp_path / "study.db"
    with pytest.raises(InputError, match=REFUSED[name]):
        import_redcap(f"sqlite:///{db}", dictionary, data, study=name, actor="importer")
    assert not db.exists()


def test_audit_reason_names_the_files_and_their_hashes(fixtures: Path, tmp_path: Path) -> None:
    dictionary, data = _project(fixtures, "dag")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    plan = import_redcap(url, dictionary, data, study="dag", actor="importer")
    from clestudy.interop import file_sha256

    want = f"data.csv (sha256 {file_sha256(data)})"
    assert want in plan.reason
    records = [e for e in audit_events(url) if e["entity_type"] == "form_record"]
    assert len(records) == 3 and all(e["reason"] == plan.reason for e in records)
    assert {_after_value(e, "first_name") for e in records} == {"aa", "bb", "cc"}


def _without_file_fields(fixtures: Path, name: str, out: Path) -> tuple[Path, Path]:
    """A copy of a REDCapR project without its file-upload fields (clestudy refuses those)."""
    out.mkdir(parents=True)
    dictionary, data = _project(fixtures, name)
    with dictionary.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    dropped = {r[0] for r in rows[1:] if r[3] == "file"}
    with (out / "dictionary.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([rows[0], *(r for r in rows[1:] if r[0] not in dropped)])
    with data.open(encoding="utf-8-sig", newline="") as handle:
        cells = list(csv.reader(handle))
    keep = [i for i, column in enumerate(cells[0]) if column not in dropped]
    with (out / "data.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([[r[i] for i in keep] for r in cells])
    return out / "dictionary.csv", out / "data.csv"


def test_form_status_1_unverified_round_trips(fixtures: Path, tmp_path: Path) -> None:
    """REDCap's form status is kept as imported (0, 1 and 2), not read as clestudy's status.

    ``longitudinal`` is the REDCapR project with status 1 ("Unverified") that clestudy can hold
    once its file-upload field is left out (the others with a 1 also hold values outside their
    fields' min/max, which REDCap only warns about and clestudy refuses).
    """
    dictionary, data = _without_file_fields(fixtures, "longitudinal", tmp_path / "p")
    statuses = [v for r in _rows(data) for k, v in r.items() if k.endswith("_complete")]
    assert {"0", "1", "2"} <= set(statuses)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, dictionary, data, study="longitudinal", actor="importer")
    with open_store(url, "longitudinal") as store:
        marks = [r.values["_imported"] for r in store.records()]
        assert all(isinstance(m, dict) for m in marks)
        assert {m["redcap_complete"] for m in marks if isinstance(m, dict)} == {"0", "1", "2"}
        assert "verified" not in {r.status for r in store.records()}  # REDCap's 2 is no SDV
        export_redcap(store, tmp_path / "out")
    assert assert_round_trip(data, tmp_path / "out" / "records.csv") > 0
