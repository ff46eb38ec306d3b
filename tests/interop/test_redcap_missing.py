"""REDCap missing-data codes and form status: kept as codes and marks, never as values, and
written back unchanged.

The project here is written by the test (REDCap's own file layout: a Designer dictionary and a
flat raw export) because no REDCapR test project declares missing-data codes; the form-status
round trip also runs on the REDCapR projects that carry status 1 ("Unverified").
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from clestudy.cli import main
from clestudy.errors import InputError, RecordValidationError
from clestudy.interop import export_analysis, export_redcap, import_redcap, parse_missing_codes
from clestudy.interop._redcap_dictionary import UI_COLUMNS
from clestudy.protocol import MissingCode, load_protocol
from clestudy.protocol._missing_codes import coded_fields
from clestudy.store import Store, audit_events, open_store, tidy_table

CODES = "UNK, Unknown | NASK, Not asked | -999, Not done"

#: field, form, type, label, choices, validation, required
_FIELDS = (
    ("record_id", "visit", "text", "Record ID", "", "", ""),
    ("weight", "visit", "text", "Weight (kg)", "", "number", "y"),
    ("doses", "visit", "text", "Doses taken", "", "integer", ""),
    ("seen_on", "visit", "text", "Date seen", "", "date_ymd", "y"),
    ("sex", "visit", "radio", "Sex", "1, Female | 2, Male", "", ""),
    ("symptoms", "visit", "checkbox", "Symptoms", "1, Itch | 2, Pain", "", ""),
    ("comment", "visit", "notes", "Comment", "", "", ""),
)
HEADER = [
    "record_id", "weight", "doses", "seen_on", "sex", "symptoms___1", "symptoms___2",
    "symptoms___unk", "symptoms___nask", "symptoms___-999", "comment", "visit_complete",
]  # fmt: skip
#: every field type holding a code, statuses 0, 1 and 2, and a plain record
ROWS = [
    ["1", "UNK", "3", "2024-01-05", "1", "1", "0", "0", "0", "0", "fine", "2"],
    ["2", "71.5", "-999", "NASK", "UNK", "0", "0", "1", "0", "0", "", "1"],
    ["3", "-999", "", "UNK", "NASK", "0", "0", "0", "0", "1", "UNK", "0"],
    ["4", "80", "2", "2024-02-01", "2", "0", "1", "0", "0", "0", "", "2"],
]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _project(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, form, kind, label, choices, validation, required in _FIELDS:
        row = dict.fromkeys(UI_COLUMNS, "")
        row.update({UI_COLUMNS[0]: name, UI_COLUMNS[1]: form, UI_COLUMNS[3]: kind,
                    UI_COLUMNS[4]: label, UI_COLUMNS[5]: choices, UI_COLUMNS[7]: validation,
                    UI_COLUMNS[12]: required})  # fmt: skip
        rows.append([row[c] for c in UI_COLUMNS])
    dictionary = _write(folder / "dictionary.csv", list(UI_COLUMNS), rows)
    return dictionary, _write(folder / "data.csv", HEADER, ROWS)


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _import(tmp_path: Path, **options: object) -> tuple[str, Path, Path]:
    dictionary, data = _project(tmp_path / "codes")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, dictionary, data, study="codes", actor="importer", **options)  # type: ignore[arg-type]
    return url, dictionary, data


def test_codes_and_statuses_round_trip_cell_by_cell(tmp_path: Path) -> None:
    url, _, data = _import(tmp_path, missing_codes=parse_missing_codes(CODES))
    with open_store(url, "codes") as store:
        files = export_redcap(store, tmp_path / "out")
    assert [p.name for p in files] == [
        "dictionary.csv", "records.csv", "missing_data_codes.txt", "manifest.json",
    ]  # fmt: skip
    assert _rows(tmp_path / "out" / "records.csv") == _rows(data)  # every cell, in order
    assert (tmp_path / "out" / "missing_data_codes.txt").read_text() == CODES + "\n"


def test_a_code_is_stored_apart_from_the_values(tmp_path: Path) -> None:
    url, _, _ = _import(tmp_path, missing_codes=parse_missing_codes(CODES))
    with open_store(url, "codes") as store:
        records = {r.subject_id: r for r in store.records()}
        assert [c.code for c in store.protocol.missing_codes] == ["UNK", "NASK", "-999"]
    two, three = records["2"].values, records["3"].values
    assert two == {
        "weight": "71.5", "_missing": {"doses": "-999", "seen_on": "NASK", "sex": "UNK",
                                       "symptoms": "UNK"},
        "_imported": {"redcap_complete": "1"},
    }  # fmt: skip
    assert "weight" not in three and coded_fields(three)["weight"] == "-999"
    # a required field holding a code is answered (REDCap's rule), so the records are complete
    assert {r.status for r in records.values()} == {"complete"}
    # the audit event carries the codes and the imported mark with the values
    created = [e for e in audit_events(url) if e["entity_key"] == "codes/2/event_1_arm_1/visit"]
    assert created[0]["after"]["values"] == two  # type: ignore[index]


def test_without_declared_codes_a_code_in_a_number_field_is_refused(tmp_path: Path) -> None:
    dictionary, data = _project(tmp_path / "codes")
    db = tmp_path / "study.db"
    with pytest.raises(InputError, match=r"column 'symptoms___unk' is not in the dictionary \(a "
                       r"checkbox's missing-data code\? give the project's codes"):  # fmt: skip
        import_redcap(f"sqlite:///{db}", dictionary, data, study="codes", actor="importer")
    rows = _rows(data)
    keep = [i for i, c in enumerate(rows[0]) if c not in HEADER[7:10]]  # no code columns
    _write(data, [rows[0][i] for i in keep], [[r[i] for i in keep] for r in rows[1:]])
    with pytest.raises(InputError, match=r"data.csv: line 2 \(1/event_1_arm_1\): field 'weight': "
                       r"'UNK' is not a decimal number"):  # fmt: skip
        import_redcap(f"sqlite:///{db}", dictionary, data, study="codes", actor="importer")
    assert not db.exists()


def test_reimport_takes_the_studys_codes_and_changes_nothing(tmp_path: Path) -> None:
    url, dictionary, data = _import(tmp_path, missing_codes=parse_missing_codes(CODES))
    events = audit_events(url)
    again = import_redcap(url, dictionary, data, study="codes", actor="importer")
    assert (again.creates, again.updates, len(again.unchanged)) == ([], [], 4)
    assert audit_events(url) == events
    with pytest.raises(InputError, match=r"first difference: missing_codes"):
        import_redcap(url, dictionary, data, study="codes", actor="importer",
                      missing_codes=parse_missing_codes("UNK, Unknown | NASK, Not asked | "
                                                        "-999, Not done | NA, n/a"))  # fmt: skip


def test_a_changed_code_is_an_update_and_written_back(tmp_path: Path) -> None:
    url, dictionary, data = _import(tmp_path, missing_codes=parse_missing_codes(CODES))
    rows = _rows(data)
    rows[1][1] = "NASK"  # record 1: weight UNK -> NASK
    rows[3][1] = "64"  # record 3: weight -999 -> a value
    rows[2][-1] = "2"  # record 2: status 1 -> 2
    _write(data, rows[0], rows[1:])
    plan = import_redcap(url, dictionary, data, study="codes", actor="importer")
    assert sorted(plan.updates) == ["1/event_1_arm_1/visit", "2/event_1_arm_1/visit",
                                    "3/event_1_arm_1/visit"]  # fmt: skip
    with open_store(url, "codes") as store:
        export_redcap(store, tmp_path / "out")
    assert _rows(tmp_path / "out" / "records.csv") == rows


@pytest.mark.parametrize(
    ("text", "message"),
    [("UNK Unknown", r"'UNK Unknown' is not 'code, label'"), ("U K, x", r"'U K, x'"),
     ("UNK, a | UNK, b", r"given twice")],
)  # fmt: skip
def test_bad_missing_codes_are_refused(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_missing_codes(text)


def test_cli_option_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dictionary, data = _project(tmp_path / "codes")
    db = f"sqlite:///{tmp_path / 'study.db'}"
    argv = ["import", "redcap", str(dictionary), str(data), "--db", db, "--study", "codes"]
    assert main([*argv, "--missing-codes", "UNK Unknown"]) == 2
    assert "--missing-codes: 'UNK Unknown' is not 'code, label'" in capsys.readouterr().err
    assert main([*argv, "--missing-codes", CODES, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["creates"]) == 4
    assert main(["record", "show", "--db", db, "--study", "codes", "--subject", "3",
                 "--json"]) == 0  # fmt: skip
    shown = json.loads(capsys.readouterr().out)[0]
    assert shown["values"]["_missing"] == {"weight": "-999", "seen_on": "UNK", "sex": "NASK",
                                           "symptoms": "-999", "comment": "UNK"}  # fmt: skip


def test_analysis_exports_carry_the_code_never_as_a_value(tmp_path: Path) -> None:
    url, _, _ = _import(tmp_path, missing_codes=parse_missing_codes(CODES))
    with open_store(url, "codes") as store:
        tidy = tidy_table(store)
        export_analysis(store, "wide-csv", tmp_path / "wide")
    weight = tidy[(tidy["item"] == "weight")].set_index("subject")
    assert weight.loc["1", "missing_code"] == "UNK" and weight["value"].isna()["1"]
    assert weight.loc["2", "value"] == 71.5 and weight["missing_code"].isna()["2"]
    wide = pd.read_csv(tmp_path / "wide" / "visit.csv", dtype={"subject": str}).set_index("subject")
    assert wide.loc["3", "weight_missing"] == "-999" and wide["weight"].isna()["3"]
    assert wide.loc["2", "symptoms_missing"] == "UNK" and wide["symptoms___1"].isna()["2"]


# -- the store's rules for a coded field, on the built-in protocols -----------------------------


def _coded_store(tmp_path: Path, protocol_id: str) -> Store:
    protocol = load_protocol(protocol_id)
    protocol = protocol.model_copy(
        update={"missing_codes": (MissingCode(code="UNK", label="Unknown"),)}
    )
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}", protocol, actor="tester")
    arm = "" if protocol.randomization is not None else protocol.arms[0].id
    store.add_subject("P01", arm=arm, site=protocol.sites[0].id, actor="tester")
    return store


def test_a_coded_required_field_is_answered_and_a_patch_keeps_the_code(tmp_path: Path) -> None:
    with _coded_store(tmp_path, "pediatric-cle-chart-review") as store:
        saved = store.save_record("P01", "initiation", "labs",
                                  {"esr": 30, "_missing": {"lbdat": "UNK", "lym": "UNK"}},
                                  actor="tester")  # fmt: skip
        assert saved.status == "complete"
        assert saved.values["_missing"] == {"lbdat": "UNK", "lym": "UNK"}
        # a later save that does not name the codes keeps them; a value replaces its code
        edited = store.save_record("P01", "initiation", "labs", {"esr": 31, "lym": "2.5"},
                                   actor="tester", reason="typo", expected_version=1)  # fmt: skip
        assert edited.values["_missing"] == {"lbdat": "UNK"} and edited.values["lym"] == "2.5"
        cleared = store.save_record("P01", "initiation", "labs", {"_missing": None},
                                    actor="tester", reason="date found", expected_version=2)  # fmt: skip
        assert "_missing" not in cleared.values and cleared.status == "incomplete"


@pytest.mark.parametrize(
    ("values", "message"),
    [({"esr": 30, "_missing": {"esr": "UNK"}}, r"field 'esr' holds a value and the missing-data"),
     ({"_missing": {"esr": "NA"}}, r"field 'esr': missing-data code 'NA' is not one of the "
                                   r"study's codes \['UNK'\]"),
     ({"_missing": {"nope": "UNK"}}, r"'_missing': 'nope' is not a field of form 'labs'"),
     ({"_missing": "UNK"}, r"'_missing' must map fields to missing-data codes"),
     ({"_imported": {"Bad Key": "1"}}, r"'_imported' must map lower-case names to text")],
)  # fmt: skip
def test_a_bad_code_is_refused_naming_the_field(
    tmp_path: Path, values: dict[str, object], message: str
) -> None:
    store = _coded_store(tmp_path, "pediatric-cle-chart-review")
    with store, pytest.raises(RecordValidationError, match=message):
        store.save_record("P01", "initiation", "labs", values, actor="tester")


def test_a_coded_score_input_leaves_the_record_incomplete_without_a_score(tmp_path: Path) -> None:
    with _coded_store(tmp_path, "lenalidomide-cle-open-label") as store:
        form = store.protocol.form("clasi")
        assert form is not None
        inputs = {f.id: 0 for f in form.fields if f.type == "integer"}
        dated = {f.id: "2024-01-10" for f in form.fields if f.type == "date"}
        flags = {f.id: False for f in form.fields if f.type == "boolean"}
        coded = {**inputs, **dated, **flags, "_missing": {"scalp_erythema": "UNK"}}
        del coded["scalp_erythema"]
        saved = store.save_record("P01", "week_0", "clasi", coded, actor="tester")
        assert saved.status == "incomplete" and saved.derived == {}
        scored = store.save_record("P01", "week_0", "clasi", {"scalp_erythema": 1},
                                   actor="tester", reason="found", expected_version=1)  # fmt: skip
        assert scored.status == "complete" and "_missing" not in scored.values
        assert scored.derived["clasi"]["values"]["clasi_activity"] == 1


def test_an_amendment_that_drops_a_code_in_use_is_refused(tmp_path: Path) -> None:
    with _coded_store(tmp_path, "pediatric-cle-chart-review") as store:
        store.save_record("P01", "initiation", "labs", {"_missing": {"lbdat": "UNK"}},
                          actor="tester")  # fmt: skip
        new = store.protocol.model_copy(update={"version": "2", "missing_codes": ()})
        with pytest.raises(InputError, match=r"missing-data code 'UNK' \(1 record\)"):
            store.amend_protocol(new, actor="tester", reason="no codes")


def test_a_replacing_save_keeps_codes_and_marks_it_does_not_name(tmp_path: Path) -> None:
    with _coded_store(tmp_path, "pediatric-cle-chart-review") as store:
        store.save_record("P01", "initiation", "labs",
                          {"esr": 30, "_missing": {"lbdat": "UNK", "lym": "UNK"},
                           "_imported": {"redcap_complete": "1"}}, actor="tester")  # fmt: skip
        # what the web form posts: every field, blanks included, and no reserved key
        posted = {f.id: "" for f in store.protocol.form("labs").fields}  # type: ignore[union-attr]
        posted.update({"esr": "31", "lym": "2.0"})
        saved = store.save_record("P01", "initiation", "labs", posted, actor="tester",
                                  reason="typo", expected_version=1, mode="replace")  # fmt: skip
    assert saved.values["_missing"] == {"lbdat": "UNK"}  # lym got a value: its code went
    assert saved.values["_imported"] == {"redcap_complete": "1"}
    assert saved.values["esr"] == 31


def test_spss_and_stata_declare_the_codes_as_user_missing(tmp_path: Path) -> None:
    url, _, _ = _import(tmp_path, missing_codes=parse_missing_codes(CODES))
    with open_store(url, "codes") as store:
        export_analysis(store, "sav", tmp_path / "sav")
        export_analysis(store, "dta", tmp_path / "dta")
    plain, _ = pyreadstat.read_sav(str(tmp_path / "sav" / "visit.sav"))
    coded, meta = pyreadstat.read_sav(str(tmp_path / "sav" / "visit.sav"), user_missing=True)
    by = {s: i for i, s in enumerate(plain["subject"])}
    # weight (a number): only the numeric code -999 can be an SPSS user-missing value
    assert meta.missing_ranges["weight"] == [{"lo": -999.0, "hi": -999.0}]
    assert coded["weight"][by["3"]] == -999.0 and pd.isna(plain["weight"][by["3"]])
    assert meta.variable_value_labels["weight"] == {-999.0: "Not done"}
    # comment (text): every code of at most 8 bytes
    assert coded["comment"][by["3"]] == "UNK" and pd.isna(plain["comment"][by["3"]])
    assert plain["weight_missing"][by["1"]] == "UNK" and pd.isna(plain["weight"][by["1"]])
    plain, _ = pyreadstat.read_dta(str(tmp_path / "dta" / "visit.dta"))
    coded, meta = pyreadstat.read_dta(str(tmp_path / "dta" / "visit.dta"), user_missing=True)
    # Stata: the codes in order are .a (UNK), .b (NASK), .c (-999), labelled
    assert {"a", "c"} <= set(meta.missing_user_values["weight"])  # those present
    assert [coded["weight"][by[s]] for s in "1234"] == ["a", 71.5, "c", 80.0]
    assert pd.isna(plain["weight"][by["1"]]) and plain["weight"][by["2"]] == 71.5
    assert meta.variable_value_labels["sex"] == {1: "Female", 2: "Male", "a": "Unknown",
                                                 "b": "Not asked", "c": "Not done"}  # fmt: skip


def test_the_web_form_shows_a_code_read_only(tmp_path: Path) -> None:
    from argon2 import PasswordHasher, profiles
    from fastapi.testclient import TestClient

    from clestudy.store import open_accounts
    from clestudy.web import create_app

    with _coded_store(tmp_path, "pediatric-cle-chart-review") as store:
        store.save_record("P01", "initiation", "labs", {"_missing": {"lbdat": "UNK"}},
                          actor="tester")  # fmt: skip
        study, site = store.protocol.id, store.protocol.sites[0].id
    url = f"sqlite:///{tmp_path / 'c.db'}"
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with open_accounts(url, hasher=hasher) as accounts:
        accounts.add_user("mon", role="monitor", sites=[site], password="pw pw pw pw pw",
                          actor="setup")  # fmt: skip
        client = TestClient(create_app(url, accounts=accounts), follow_redirects=False)
        login = client.get("/login").text
        token = login.split('name="csrf_token" value="')[1].split('"')[0]
        done = client.post(
            "/login", data={"username": "mon", "password": "pw pw pw pw pw", "csrf_token": token}
        )
        assert done.status_code == 303
        page = client.get(f"/studies/{study}/subjects/P01/records/initiation/labs/1")
    assert page.status_code == 200
    assert (
        'data-testid="missing-lbdat">Missing-data code <strong>UNK</strong> (Unknown)' in page.text
    )


def test_a_deidentified_export_keeps_codes_and_marks(tmp_path: Path) -> None:
    from clestudy.interop._deidentify import Deidentification, export_deidentified, new_key

    url, _, data = _import(tmp_path, missing_codes=parse_missing_codes(CODES))
    settings = Deidentification(new_key(), "shift", frozenset({"comment"}))
    with open_store(url, "codes") as store:
        export_deidentified(store, settings, tmp_path / "out", export_redcap)
    rows = _rows(tmp_path / "out" / "records.csv")
    original = _rows(data)
    date = original[0].index("seen_on")

    def kept(row: list[str]) -> tuple[str, ...]:  # all but the subject, and a date unless coded
        return tuple(c if i != date or not c[:1].isdigit() else "date"
                     for i, c in enumerate(row) if i)  # fmt: skip

    # every value, code and status in its column; the subjects pseudonymised, the dates shifted
    assert sorted(map(kept, rows[1:])) == sorted(map(kept, original[1:]))
    assert [r[date] for r in rows[1:]] != [r[date] for r in original[1:]]
    assert {r[0] for r in rows[1:]}.isdisjoint({"1", "2", "3", "4"})
