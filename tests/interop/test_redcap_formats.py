"""REDCap details: header styles, BOM, curly quotes, every field and validation type, checkboxes,
refusals naming file, line and field, dry runs and updates, and a native study's way out and back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tests.interop.test_redcap import _after_value, assert_round_trip

from clestudy.cli import main
from clestudy.demo import DEMO_SEED
from clestudy.demo._chart_review import populate_chart_review
from clestudy.errors import InputError
from clestudy.interop import export_redcap, import_redcap
from clestudy.interop._redcap_dictionary import API_COLUMNS, UI_COLUMNS
from clestudy.store import audit_events, open_store


def _write(path: Path, rows: list[list[str]], *, bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def dag(fixtures: Path) -> tuple[Path, Path]:
    folder = fixtures / "redcap" / "dag"
    return folder / "dictionary.csv", folder / "data.csv"


def test_api_header_bom_and_curly_quotes(dag: tuple[Path, Path], tmp_path: Path) -> None:
    rows = _read(dag[0])
    rows[0] = list(API_COLUMNS)
    rows[2][4] = "\u201cFirst\u201d name \u2014 as written"
    dictionary = _write(tmp_path / "metadata.csv", rows, bom=True)
    assert dictionary.read_bytes().startswith(b"\xef\xbb\xbf")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, dictionary, dag[1], study="dag", actor="importer")
    with open_store(url, "dag") as store:
        assert store.protocol.forms[0].fields[0].label == "\u201cFirst\u201d name \u2014 as written"
        assert store.protocol.forms[0].fields[0].identifier
        export_redcap(store, tmp_path / "out")
    exported = _read(tmp_path / "out" / "dictionary.csv")
    assert exported[0] == list(UI_COLUMNS)
    assert exported[1:] == rows[1:]


def _validation_project(fixtures: Path, tmp_path: Path) -> tuple[Path, Path]:
    """validation-types-1 without its four unrepresentable fields, with one row of values."""
    refused = {"f_descriptive", "f_file_upload", "f_signature", "f_sql"}
    rows = [r for r in _read(fixtures / "redcap" / "validation-types-1" / "dictionary.csv")
            if r[0] not in refused]  # fmt: skip
    values = {
        "f_calculated": "7", "f_checkbox___0": "1", "f_checkbox___1": "0", "f_checkbox___2": "1",
        "f_dropdown": "2", "f_notes": "two\nlines", "f_radio": "0", "f_slider": "-1",
        "f_text": "free text", "f_true_false": "1", "f_yes_no": "0", "v_alpha_only": "abc",
        "v_date_dmy": "2023-02-24", "v_date_mdy": "2023-02-25", "v_date_ymd": "2023-02-26",
        "v_datetime_dmy": "2023-02-24 12:04", "v_datetime_mdy": "2023-02-24 12:05",
        "v_datetime_seconds_dmy": "2023-02-24 12:40:50",
        "v_datetime_seconds_mdy": "2023-02-24 12:40:51",
        "v_datetime_seconds_ymd": "2023-02-24 12:40:52", "v_datetime_ymd": "2023-02-24 12:06",
        "v_email": "a@b.org", "v_integer": "-42", "v_mrn_10d": "0123456789",
        "v_mrn_generic": "MRN-1", "v_number": "3.14", "v_number_1dp": "1.5",
        "v_number_2dp": "1.50", "v_number_3dp": "0.125", "v_number_4dp": "2.0000",
        "v_number_comma_decimal": "3,14", "v_number_1dp_comma_decimal": "1,5",
        "v_number_2dp_comma_decimal": "1,50", "v_number_3dp_comma_decimal": "0,125",
        "v_number_4dp_comma_decimal": "2,0000", "v_phone": "(405) 321-1111",
        "v_phone_australia": "02 9999 9999", "v_postalcode_australia": "2000",
        "v_postalcode_canada": "K1A 0B1", "v_postalcode_french": "75001",
        "v_postalcode_germany": "10115", "v_ssn": "123-45-6789", "v_time_hh_mm": "12:04",
        "v_time_hh_mm_ss": "12:04:05", "v_time_mm_ss": "04:05", "v_vmrn": "12345678",
        "v_zipcode": "73104", "form_1_complete": "2",
    }  # fmt: skip
    header = ["record_id", *values]
    data = _write(tmp_path / "data.csv", [header, ["1", *values.values()]])
    return _write(tmp_path / "dictionary.csv", rows), data


def test_every_field_and_validation_type_round_trips(fixtures: Path, tmp_path: Path) -> None:
    dictionary, data = _validation_project(fixtures, tmp_path)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, dictionary, data, study="types", actor="importer")
    with open_store(url, "types") as store:
        form = store.protocol.forms[0]
        types = {f.id: f.type for f in form.fields}
        assert types["v_integer"] == "integer" and types["f_slider"] == "integer"
        assert (
            types["v_number_2dp_comma_decimal"] == "decimal" and types["f_calculated"] == "decimal"
        )
        assert types["v_date_dmy"] == "date" and types["v_email"] == "text"
        assert types["f_checkbox"] == "multiple_choice" and types["f_yes_no"] == "boolean"
        assert form.field("f_calculated").calculation == "3+4"  # type: ignore[union-attr]
        [record] = store.records()
        assert record.values["v_number_comma_decimal"] == "3.14"
        assert record.values["f_checkbox"] == ["0", "2"]
        assert record.values["f_true_false"] is True
        export_redcap(store, tmp_path / "out")
    assert assert_round_trip(data, tmp_path / "out" / "records.csv") == 49  # 48 values, 1 status
    assert _read(tmp_path / "out" / "dictionary.csv")[1:] == _read(dictionary)[1:]


def test_checkbox_codes_numeric_and_alphabetic(fixtures: Path, tmp_path: Path) -> None:
    folder = fixtures / "redcap" / "checkboxes-1"
    rows = _read(folder / "dictionary.csv")
    rows[1][1] = "form_2"  # the record id joins the form with data
    dictionary = _write(tmp_path / "dictionary.csv", rows)
    data_rows = _read(folder / "data.csv")
    drop = data_rows[0].index("form_1_complete")
    data = _write(tmp_path / "data.csv", [r[:drop] + r[drop + 1 :] for r in data_rows])
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, dictionary, data, study="boxes", actor="importer")
    with open_store(url, "boxes") as store:
        values = {r.subject_id: r.values for r in store.records()}
        assert values["1"]["check_one"] == ["1"] and values["1"]["check_two"] == ["a", "c"]
        assert "check_one" not in values["2"] and values["2"]["check_two"] == ["b", "d"]
        export_redcap(store, tmp_path / "out")
    assert assert_round_trip(data, tmp_path / "out" / "records.csv") > 10


def test_invalid_records_are_refused_whole_with_every_error(
    dag: tuple[Path, Path], tmp_path: Path
) -> None:
    rows = _read(dag[1])
    rows[1][rows[0].index("sex")] = "9"
    rows[1][rows[0].index("height")] = "300"  # a second problem in the same record
    rows[3][rows[0].index("weight")] = "heavy"
    data = _write(tmp_path / "data.csv", rows)
    db = tmp_path / "study.db"
    with pytest.raises(InputError) as caught:
        import_redcap(f"sqlite:///{db}", dag[0], data, study="dag", actor="importer")
    message = str(caught.value)
    assert message.startswith("3 problems, nothing imported:")
    assert f"{data}: line 2 (331-1/event_1_arm_1): field 'height': '300' is out of range" in message
    assert f"{data}: line 2 (331-1/event_1_arm_1): field 'sex': '9' is not one of" in message
    assert (
        f"{data}: line 4 (332-3/event_1_arm_1): field 'weight': 'heavy' is not an integer"
        in message
    )
    assert not db.exists()


def test_record_id_that_cannot_be_a_subject_id_is_refused(
    dag: tuple[Path, Path], tmp_path: Path
) -> None:
    rows = _read(dag[1])
    rows[2][0] = "331 2"
    data = _write(tmp_path / "data.csv", rows)
    with pytest.raises(
        InputError, match=r"data.csv: line 3: record id '331 2' cannot be a clestudy subject id"
    ):
        import_redcap(f"sqlite:///{tmp_path / 'x.db'}", dag[0], data, study="dag", actor="t")
    assert not (tmp_path / "x.db").exists()


def test_unknown_validation_type_names_file_line_field_and_type(
    dag: tuple[Path, Path], tmp_path: Path
) -> None:
    rows = _read(dag[0])
    rows[5][7] = "phone_mars"
    rows[6][3] = "signature_pad"
    dictionary = _write(tmp_path / "dictionary.csv", rows)
    with pytest.raises(InputError) as caught:
        import_redcap(f"sqlite:///{tmp_path / 'x.db'}", dictionary, None, actor="importer")
    assert f"{dictionary}: line 6: field 'telephone': text validation type 'phone_mars' is not supported" in str(caught.value)  # fmt: skip
    assert f"{dictionary}: line 7: field 'email': unknown field type 'signature_pad'" in str(caught.value)  # fmt: skip


def test_not_a_dictionary_is_refused(dag: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"data.csv: line 1: not a REDCap data dictionary header"):
        import_redcap(f"sqlite:///{tmp_path / 'x.db'}", dag[1], None, actor="importer")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(_read_bytes(dag[0]).replace(b"First Name", b"Pr\xe9nom"))
    with pytest.raises(InputError, match=r"latin1.csv: line 3: byte \d+ is not UTF-8"):
        import_redcap(f"sqlite:///{tmp_path / 'x.db'}", bad, None, actor="importer")


def _read_bytes(path: Path) -> bytes:
    return path.read_bytes()


def test_dry_run_then_update_then_unchanged(dag: tuple[Path, Path], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, dag[0], dag[1], study="dag", actor="importer")
    rows = _read(dag[1])
    rows[2][rows[0].index("first_name")] = "Bea"
    rows[2][rows[0].index("last_name")] = ""  # a value cleared in REDCap is cleared here too
    changed = _write(tmp_path / "changed.csv", rows)
    before = audit_events(url)
    preview = import_redcap(url, dag[0], changed, study="dag", dry_run=True, actor="importer")
    assert (preview.creates, preview.updates) == ([], ["331-2/event_1_arm_1/demographics"])
    assert len(preview.unchanged) == 2 and audit_events(url) == before
    done = import_redcap(url, dag[0], changed, study="dag", actor="importer")
    assert done.updates == preview.updates
    [event] = audit_events(url)[len(before) :]
    assert event["action"] == "update" and _after_value(event, "first_name") == "Bea"
    after = event["after"]
    assert isinstance(after, dict) and "last_name" not in after["values"]
    assert "changed.csv (sha256 " in str(event["reason"])
    assert import_redcap(url, dag[0], changed, study="dag", actor="importer").updates == []


def test_dictionary_that_differs_from_the_study_is_refused(
    dag: tuple[Path, Path], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, dag[0], dag[1], study="dag", actor="importer")
    rows = _read(dag[0])
    rows[2][4] = "Given name"
    other = _write(tmp_path / "dictionary.csv", rows)
    with pytest.raises(InputError, match=r"the project does not match study 'dag'.*forms"):
        import_redcap(url, other, dag[1], study="dag", actor="importer")


def test_native_study_exports_to_redcap_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with open_store(url, "pediatric-cle-chart-review", actor="demo") as store:
        populate_chart_review(store, np.random.default_rng(DEMO_SEED))
        original = {r.key: r.values for r in store.records()}
        statuses = {r.key: "0" if r.status == "incomplete" else "2" for r in store.records()}
        export_redcap(store, tmp_path / "out")
    back = f"sqlite:///{tmp_path / 'back.db'}"
    out = tmp_path / "out"
    import_redcap(back, out / "dictionary.csv", out / "records.csv", study="back", actor="t")
    with open_store(back, "back") as store:
        # the values come back, and with them the form status REDCap would now hold
        records = store.records()
        marks = {r.key: r.values.pop("_imported") for r in records}
        assert {r.key: r.values for r in records} == original
        assert marks == {key: {"redcap_complete": code} for key, code in statuses.items()}
        assert [v.id for v in store.protocol.visits] == ["initiation", "month_6"]


def test_cli_import_and_export(
    dag: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "study.db")
    args = ["import", "redcap", str(dag[0]), str(dag[1]), "--db", db, "--study", "dag"]
    assert main([*args, "--dry-run", "--json"]) == 0
    preview = json.loads(capsys.readouterr().out)
    assert preview["dry_run"] and len(preview["creates"]) == 3
    assert not Path(db).exists()
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(
        "imported into dag (new study): 3 new subjects, 3 records created"
    )
    assert (
        main(["export", "redcap", "--study", "dag", "--db", db, "--out", str(tmp_path / "o")]) == 0
    )
    assert (tmp_path / "o" / "records.csv").is_file()


def test_cli_bad_file_exits_2_and_writes_nothing(
    dag: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "study.db"
    code = main(["import", "redcap", str(dag[1]), "--db", str(db)])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith(f"error: {dag[1]}: line 1: not a REDCap data dictionary")
    assert not db.exists()
    code = main(["import", "redcap", str(tmp_path / "missing.csv"), "--db", str(db)])
    assert code == 2 and "missing.csv: no such file" in capsys.readouterr().err


def test_longitudinal_project_without_its_file_field_round_trips(
    fixtures: Path, tmp_path: Path
) -> None:
    """REDCap's classic demo: 2 arms, events, matrix groups, branching logic, calc, slider."""
    folder = fixtures / "redcap" / "longitudinal"
    rows = _read(folder / "dictionary.csv")
    dictionary = _write(tmp_path / "dictionary.csv", [r for r in rows if r[3] != "file"])
    data_rows = _read(folder / "data.csv")
    keep = [i for i, column in enumerate(data_rows[0]) if column != "patient_document"]
    data = _write(tmp_path / "data.csv", [[r[i] for i in keep] for r in data_rows])
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, dictionary, data, study="longitudinal", actor="importer")
    with open_store(url, "longitudinal") as store:
        protocol = store.protocol
        assert [a.id for a in protocol.arms] == ["arm_1", "arm_2"]
        assert protocol.visits[0].id == "enrollment_arm_1"
        assert protocol.visits[0].forms == ("demographics", "contact_info", "baseline_data")
        demographics = protocol.form("demographics")
        assert demographics is not None
        gym = demographics.field("gym")
        assert gym is not None and gym.annotations["matrix_group_name"] == "weekly_schedule"
        assert any(f.branching_logic for form in protocol.forms for f in form.fields)
        bmi = demographics.field("bmi")
        assert bmi is not None and bmi.calculation == "round(([weight]*10000)/(([height])^(2)),1)"
        export_redcap(store, tmp_path / "out")
    assert assert_round_trip(data, tmp_path / "out" / "records.csv") > 2000
    assert _read(tmp_path / "out" / "dictionary.csv")[1:] == _read(dictionary)[1:]


def _as_eav(flat: Path, out: Path, checkboxes: set[str]) -> Path:
    """A flat export rewritten as REDCap writes ``type=eav``: one row per value, a checkbox one
    row per ticked code."""
    rows = _read(flat)
    header, keys = rows[0], ("redcap_event_name", "redcap_repeat_instrument",
                             "redcap_repeat_instance")  # fmt: skip
    kept = [k for k in keys if k in header]
    eav = [["record", *kept, "field_name", "value"]]
    for row in rows[1:]:
        cells = dict(zip(header, row, strict=True))
        start = [cells[header[0]], *(cells[k] for k in kept)]
        for column, value in cells.items():
            if column == header[0] or column in kept or value == "":
                continue
            name, _, code = column.partition("___")
            if name in checkboxes:
                if value == "1":
                    eav.append([*start, name, code])
                continue
            eav.append([*start, column, value])
    return _write(out, eav)


@pytest.mark.parametrize("name", ["dag", "repeating-instruments", "multilevel-model-1"])
def test_eav_records_import_as_the_flat_ones(fixtures: Path, name: str, tmp_path: Path) -> None:
    folder = fixtures / "redcap" / name
    dictionary, flat = folder / "dictionary.csv", folder / "data.csv"
    eav = _as_eav(flat, tmp_path / "eav.csv", set())
    flat_url, eav_url = (f"sqlite:///{tmp_path / n}" for n in ("flat.db", "eav.db"))
    import_redcap(flat_url, dictionary, flat, study=name, actor="importer")
    plan = import_redcap(eav_url, dictionary, eav, study=name, actor="importer")
    assert plan.creates
    with open_store(flat_url, name) as one, open_store(eav_url, name) as other:
        assert one.protocol == other.protocol
        assert [(r.key, r.values) for r in one.records()] == [
            (r.key, r.values) for r in other.records()
        ]
        assert one.subjects() == other.subjects()
        export_redcap(other, tmp_path / "out")
    assert assert_round_trip(flat, tmp_path / "out" / "records.csv") > 0


def test_eav_checkboxes_and_bad_codes(fixtures: Path, tmp_path: Path) -> None:
    dictionary, flat = _validation_project(fixtures, tmp_path)
    checkboxes = {r[0] for r in _read(dictionary)[1:] if r[3] == "checkbox"}
    assert checkboxes
    eav = _as_eav(flat, tmp_path / "eav.csv", checkboxes)
    url = f"sqlite:///{tmp_path / 'eav.db'}"
    import_redcap(url, dictionary, eav, study="types", actor="importer")
    with open_store(url, "types") as store:
        export_redcap(store, tmp_path / "out")
    assert assert_round_trip(flat, tmp_path / "out" / "records.csv") > 0
    rows = _read(eav)
    box = next(i for i, r in enumerate(rows) if r[-2] in checkboxes)
    rows[box][-1] = "nope"
    bad = _write(tmp_path / "bad.csv", rows)
    with pytest.raises(InputError, match=rf"bad.csv: line {box + 1}: field '{rows[box][-2]}': "
                       r"'nope' is not one of its choice codes"):  # fmt: skip
        import_redcap(f"sqlite:///{tmp_path / 'x.db'}", dictionary, bad, study="t", actor="i")
    assert not (tmp_path / "x.db").exists()
