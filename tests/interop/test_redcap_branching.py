"""REDCap branching logic: translated into show-if where it can be, else kept and flagged."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from tests.interop.test_redcap import _rows, assert_round_trip
from tests.interop.test_redcap_formats import _read, _write

from clestudy.demo import DEMO_SEED
from clestudy.demo._chart_review import populate_chart_review
from clestudy.errors import InputError
from clestudy.interop import export_redcap, import_redcap
from clestudy.interop._redcap_branching import branching_from_show_if, translate_branching
from clestudy.protocol import Choice, FieldSpec, FormSpec, hidden_fields
from clestudy.store import open_store

FIELDS = [
    FieldSpec(id="sex", label="Sex", type="single_choice",
              choices=(Choice(code="0", label="Female"), Choice(code="1", label="Male"))),
    FieldSpec(id="smoker", label="Smoker", type="boolean"),
    FieldSpec(id="age", label="Age", type="integer"),
    FieldSpec(id="dose", label="Dose", type="decimal"),
    FieldSpec(id="name", label="Name", type="text"),
    FieldSpec(id="visit_on", label="Date", type="date"),
    FieldSpec(id="race", label="Race", type="multiple_choice",
              choices=(Choice(code="1", label="A"), Choice(code="2", label="B"),
                       Choice(code="X", label="Other"))),
    FieldSpec(id="target", label="Target", type="text"),
]  # fmt: skip
TARGET = FIELDS[-1]
AEOUT = FieldSpec(id="aeout", label="Outcome", type="text")


@pytest.mark.parametrize(
    ("logic", "show_if"),
    [
        ("[sex] = '1'", "sex == '1'"),
        ('[sex] = "0"', "sex == '0'"),
        ("[sex] = 1", "sex == '1'"),
        ("[sex] <> '1'", "sex != '1'"),
        ("[sex] != '1'", "sex != '1'"),
        ("[smoker] = '1'", "smoker == True"),
        ("[smoker] = '0'", "smoker == False"),
        ("[age] >= 18", "age >= 18"),
        ("[age] > '17'", "age > 17"),
        ("18 <= [age]", "age >= 18"),
        ("[dose] < 2.5", "dose < 2.5"),
        ("[name] = 'x y'", "name == 'x y'"),
        ("[race(2)] = '1'", "'2' in race"),
        ("[race(x)] = '1'", "'X' in race"),
        ("[race(2)] = '0'", "'2' not in race"),
        ("[race(2)] <> '1'", "'2' not in race"),
        ("[name] <> ''", "name != None"),
        ("[age] = ''", "age == None"),
        (
            "[sex] = '0' and ([age] > 12 OR [smoker] = '1')",
            "sex == '0' and (age > 12 or smoker == True)",
        ),
    ],
)
def test_translatable_logic(logic: str, show_if: str) -> None:
    assert translate_branching(logic, TARGET, FIELDS).show_if == show_if


@pytest.mark.parametrize(
    ("logic", "reason"),
    [
        ("[other_form_field] = '1'", "is not a field of this form"),
        ("[enrollment_arm_1][sex] = '1'", "reads a field of another event"),
        ("[sex] = [age]", "only a field compared with a value"),
        ("[target] = 'x'", "is the field itself"),
        ("datediff([visit_on], 'today', 'd') > 3", "'datediff' (a function or keyword)"),
        ("[visit_on] > '2020-01-01'", "ordering a date value"),
        ("[name] > 'm'", "ordering a text value"),
        ("[sex] = '7'", "not a code of the field"),
        ("[smoker] = 'yes'", "a yes/no field is 1 or 0"),
        ("[age] = 'old'", "'old' is not a number"),
        ("[age] = 1.5", "'1.5' is not an integer"),
        ("[race(9)] = '1'", "not a code of the field"),
        ("[sex(1)] = '1'", "only a checkbox field takes a (code)"),
        ("[age] + 1 > 3", "'+'"),
        ("([sex] = '1'", "the logic ends too early"),
        ("[sex] = '1' [age] > 3", "after a complete condition"),
        ("[record-name] = '1'", "smart variable"),
    ],
)
def test_untranslatable_logic_says_why(logic: str, reason: str) -> None:
    translation = translate_branching(logic, TARGET, FIELDS)
    assert translation.show_if is None
    assert translation.reason is not None and reason in translation.reason


def _without_file_fields(fixtures: Path, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """The ``longitudinal`` fixture without its file-upload field (which clestudy refuses)."""
    folder = fixtures / "redcap" / "longitudinal"
    rows = _read(folder / "dictionary.csv")
    dropped = [r[0] for r in rows[1:] if r[3] == "file"]
    (tmp_path / "in").mkdir()
    dictionary = _write(
        tmp_path / "in" / "dictionary.csv", [r for r in rows if r[0] not in dropped]
    )
    data_rows = _read(folder / "data.csv")
    keep = [i for i, column in enumerate(data_rows[0]) if column not in dropped]
    data = _write(tmp_path / "in" / "data.csv", [[r[i] for i in keep] for r in data_rows])
    return dictionary, data, dropped


def test_fixture_branching_becomes_show_if_and_round_trips(fixtures: Path, tmp_path: Path) -> None:
    dictionary, data, dropped = _without_file_fields(fixtures, tmp_path)
    assert dropped == ["patient_document"]
    url = f"sqlite:///{tmp_path / 'study.db'}"
    plan = import_redcap(url, dictionary, data, study="longitudinal", actor="importer")
    assert plan.creates
    with open_store(url, "longitudinal") as store:
        form = store.protocol.form("demographics")
        assert form is not None
        born, kids = form.field("given_birth"), form.field("num_children")
        assert born is not None and kids is not None
        assert (born.branching_logic, born.show_if) == ('[sex] = "0"', "sex == '0'")
        assert kids.show_if == "sex == '0' and given_birth == True"
        assert list(hidden_fields(form, {"sex": "1"})) == ["given_birth", "num_children"]
        files = export_redcap(store, tmp_path / "out")
    assert assert_round_trip(data, files[1]) > 0
    assert _rows(files[0]) == _rows(dictionary)  # the original branching text, unchanged


def test_a_value_in_a_field_its_branching_hides_is_refused(fixtures: Path, tmp_path: Path) -> None:
    dictionary, data, _ = _without_file_fields(fixtures, tmp_path)
    records = _rows(data)
    male = next(i for i, r in enumerate(records) if r["sex"] == "1")
    records[male]["given_birth"] = "1"
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    db = tmp_path / "study.db"
    with pytest.raises(
        InputError,
        match=rf"data.csv: line {male + 2} \(.*\): field 'given_birth' is hidden because its "
        r"show-if \(sex == '0'\) is false",
    ):
        import_redcap(f"sqlite:///{db}", dictionary, data, study="longitudinal", actor="i")
    assert not db.exists()


def test_untranslated_branching_is_kept_and_flagged(fixtures: Path, tmp_path: Path) -> None:
    dictionary, data, _ = _without_file_fields(fixtures, tmp_path)
    with dictionary.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    logic = rows[0].index("Branching Logic (Show field only if...)")
    kids = next(r for r in rows if r[0] == "num_children")
    kids[logic] = "datediff([date_enrolled], 'today', 'y') > 1"
    with dictionary.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    plan = import_redcap(url, dictionary, data, study="longitudinal", actor="importer")
    line = next(i for i, r in enumerate(rows, start=1) if r[0] == "num_children")
    assert [n for n in plan.flagged if "num_children" in n] == [
        f"{dictionary}: line {line}: field 'num_children': branching logic "
        "\"datediff([date_enrolled], 'today', 'y') > 1\" kept, not evaluated ('datediff' (a "
        "function or keyword)): the field is always shown"
    ]
    bmi = next(i for i, r in enumerate(rows, start=1) if r[0] == "bmi")
    calc = f"{dictionary}: line {bmi}: field 'bmi': calculation kept as text, not executed"
    assert calc in plan.flagged
    assert plan.as_dict()["flagged"] == plan.flagged
    with open_store(url, "longitudinal") as store:
        files = export_redcap(store, tmp_path / "out")
    assert _rows(files[0]) == _rows(dictionary)


@pytest.mark.parametrize(
    "show_if",
    [
        "aeout not in ('RECOVERING/RESOLVING', 'NOT RECOVERED/NOT RESOLVED')",
        "sex in ('0', '1')",
        "sex == '0' and (age > 12 or smoker == False)",
        "'2' in race or '1' not in race",
        "name != None",
        'name == "it\'s"',
    ],
)
def test_a_native_show_if_goes_to_redcap_and_back_unchanged_in_meaning(show_if: str) -> None:
    """Written as branching logic and translated back, a show-if hides the same fields."""
    logic = branching_from_show_if(show_if)
    assert logic is not None
    back = translate_branching(logic, TARGET, [*FIELDS, AEOUT]).show_if
    assert back is not None
    native = TARGET.model_copy(update={"show_if": show_if})
    again = TARGET.model_copy(update={"show_if": back})
    samples: list[dict[str, object]] = [
        {},
        {"sex": "0", "age": 13, "smoker": False, "race": ["2"], "name": "it's"},
        {"sex": "1", "age": 5, "race": ["1"], "name": "x"},
        {"aeout": "FATAL"},
    ]
    for values in samples:
        form_a = FormSpec(id="f", name="f", fields=(*FIELDS[:-1], native, AEOUT))
        form_b = FormSpec(id="f", name="f", fields=(*FIELDS[:-1], again, AEOUT))
        assert hidden_fields(form_a, values).keys() == hidden_fields(form_b, values).keys()


def test_show_ifs_redcap_cannot_say_are_left_out() -> None:
    assert branching_from_show_if("not smoker") is None
    assert branching_from_show_if("age + 1 > 3") is None
    assert branching_from_show_if("len(race) > 1") is None
    assert branching_from_show_if("name == 'a\"b\\'c'") is None


def test_the_builtin_ae_end_date_exports_as_branching_logic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with open_store(url, "pediatric-cle-chart-review", actor="demo") as store:
        populate_chart_review(store, np.random.default_rng(DEMO_SEED))
        files = export_redcap(store, tmp_path / "out")
    [row] = [r for r in _rows(files[0]) if r["Variable / Field Name"] == "aeendat"]
    assert row["Branching Logic (Show field only if...)"] == (
        "[aeout] <> 'RECOVERING/RESOLVING' and [aeout] <> 'NOT RECOVERED/NOT RESOLVED'"
    )
    back = f"sqlite:///{tmp_path / 'back.db'}"
    import_redcap(back, files[0], files[1], study="back", actor="t")
    with open_store(back, "back") as store:
        ae = store.protocol.form("ae")
        assert ae is not None
        assert list(hidden_fields(ae, {"aeout": "RECOVERING/RESOLVING"})) == ["aeendat"]
        assert hidden_fields(ae, {"aeout": "RECOVERED/RESOLVED"}) == {}
