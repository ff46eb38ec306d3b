"""A REDCap records file read with its values checked as the cells are read gives what the
record check (``check_values`` per record) gives: the same records, stored values, subjects and
protocol, or the same problems (file, line, field) in the same order.

``row_values`` checks a form as it reads it (a memo of cell text to stored value per field
definition, show-ifs and required fields), when the project has no missing-data codes; the
general path reads the input values and checks each record afterwards. Both run here on
generated files: blanks, whitespace, values out of range, bad numbers and dates, commas,
non-ASCII digits and text, missing-data codes, required fields left empty (shown or hidden),
values of hidden fields and bad form statuses.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.interop.test_redcap_missing import _write

from clestudy.errors import InputError
from clestudy.interop import _redcap_records
from clestudy.interop._redcap_dictionary import UI_COLUMNS
from clestudy.interop._redcap_project import RedcapProject, read_project
from clestudy.protocol import MissingCode

#: field, form, type, choices, validation, min, max, required, branching logic
_FIELDS = (
    ("record_id", "vitals", "text", "", "", "", "", "", ""),
    ("n", "vitals", "text", "", "integer", "0", "100", "y", ""),
    ("m", "vitals", "text", "", "integer", "0", "100", "y", ""),  # n's memo: only id, label differ
    ("k", "vitals", "text", "", "integer", "0", "10", "y", ""),  # n but for its maximum
    ("w", "vitals", "text", "", "number_1dp_comma_decimal", "0", "9.5", "", ""),
    ("day", "vitals", "text", "", "date_ymd", "", "", "", ""),
    ("sex", "vitals", "radio", "1, Female | 2, Male", "", "", "", "", ""),
    ("ok", "vitals", "yesno", "", "", "", "", "y", ""),
    ("note", "vitals", "notes", "", "", "", "", "", ""),
    ("sym", "vitals", "checkbox", "1, Itch | 2, Pain", "", "", "", "", ""),
    ("dose", "meds", "text", "", "number", "-1.5", "2", "", ""),
    ("given", "meds", "yesno", "", "", "", "", "", ""),
    ("why", "meds", "text", "", "", "", "", "y", "[given] = '1'"),  # required when shown
    ("route", "meds", "checkbox", "1, Oral | 2, IV", "", "", "", "", ""),
)
COLUMNS = (
    "record_id", "redcap_event_name", "n", "m", "k", "w", "day", "sex", "ok", "note",
    "sym___1", "sym___2", "vitals_complete",
    "dose", "given", "why", "route___1", "route___2", "meds_complete",
)  # fmt: skip
CODES = (MissingCode(code="UNK", label="Unknown"), MissingCode(code="-999", label="Not done"))
#: the checkbox's columns of the codes (only in a project that has them)
CODE_COLUMNS = ("sym___unk", "sym___-999")
_code_cells = st.tuples(st.sampled_from(["", "0", "1", "x"]), st.sampled_from(["", "0", "1"]))

_cell = st.sampled_from(
    ["", " ", "0", "1", "2", " 7 ", "42", "101", "-1", "1.5", "1,5", "9,50", "x", "2024-01-05",
     " 2024-01-05", "2024-02-30", "UNK", "-999", "é", "e\u0301", "٣", "true", "00", "+3", "1e1"]
) | st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r"),
            max_size=3)  # fmt: skip
_messy_row = st.tuples(
    st.sampled_from(["S1", "S2", "bad id"]),
    st.sampled_from(["event_1_arm_1", "event_2_arm_1"]),
    *[_cell] * 8,
    st.sampled_from(["", "0", "1", "x", " 1"]),
    st.sampled_from(["", "0", "1"]),
    st.sampled_from(["", "0", "1", "2", "3", " 2"]),
    *[_cell] * 3,
    st.sampled_from(["", "0", "1", "x"]),
    st.sampled_from(["", "0", "1"]),
    st.sampled_from(["", "0", "2"]),
)
#: valid cells (a file of them imports): the values the memo serves
_clean_row = st.tuples(
    st.sampled_from(["S1", "S2"]),
    st.sampled_from(["event_1_arm_1", "event_2_arm_1"]),
    st.sampled_from(["0", "42", " 7 ", "100", "+3", "00"]),
    st.sampled_from(["0", "42", " 7 ", "100", "+3", "00"]),
    st.sampled_from(["0", "10", "42", " 7 "]),
    st.sampled_from(["", "1,5", "9,50", "0", " 2 "]),
    st.sampled_from(["", "2024-01-05", " 2024-01-05"]),
    st.sampled_from(["", "1", "2", " 2"]),
    st.sampled_from(["0", "1", " 1"]),
    st.sampled_from(["", "é", "e\u0301", " x ", "٣", "42"]),
    st.sampled_from(["", "0", "1"]),
    st.sampled_from(["", "0", "1"]),
    st.sampled_from(["", "0", "1", "2"]),
    st.sampled_from(["", "1.5", "-1.5", "2", "0.25", "42"]),
    st.sampled_from(["", "0", "1"]),
    st.sampled_from(["", "x", " "]),
    st.sampled_from(["", "0", "1"]),
    st.sampled_from(["", "0"]),
    st.sampled_from(["", "0", "2"]),
)
_row = _clean_row | _messy_row


def _dictionary(folder: Path) -> Path:
    rows = []
    for name, form, kind, choices, validation, low, high, required, logic in _FIELDS:
        row = dict.fromkeys(UI_COLUMNS, "")
        row.update({UI_COLUMNS[0]: name, UI_COLUMNS[1]: form, UI_COLUMNS[3]: kind,
                    UI_COLUMNS[4]: name.capitalize(), UI_COLUMNS[5]: choices,
                    UI_COLUMNS[7]: validation, UI_COLUMNS[8]: low, UI_COLUMNS[9]: high,
                    UI_COLUMNS[11]: logic, UI_COLUMNS[12]: required})  # fmt: skip
        rows.append([row[c] for c in UI_COLUMNS])
    return _write(folder / "dictionary.csv", list(UI_COLUMNS), rows)


def _outcome(dictionary: Path, records: Path, codes: tuple[MissingCode, ...]) -> Any:
    """What ``read_project`` gives, comparable: the project's parts (values with their types),
    or the problems."""
    try:
        project: RedcapProject = read_project(dictionary, records, "quick", codes)
    except InputError as exc:
        return str(exc)
    inputs = [
        (r.subject_id, r.visit_id, r.form_id, r.instance, type(r.values).__name__,
         getattr(r.values, "form", None) is project.protocol.form(r.form_id),
         [(k, repr(v)) for k, v in r.values.items()])
        for r in project.records
    ]  # fmt: skip
    return project.protocol, project.subjects, project.flagged, inputs


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(_row, min_size=1, max_size=6) | st.lists(_clean_row, min_size=1, max_size=6),
       st.lists(_code_cells, min_size=6, max_size=6), st.booleans())  # fmt: skip
def test_checking_cells_as_read_gives_what_the_record_check_gives(
    rows: list[tuple[str, ...]], code_cells: list[tuple[str, str]], with_codes: bool
) -> None:
    codes = CODES if with_codes else ()
    header = [*COLUMNS, *CODE_COLUMNS] if with_codes else list(COLUMNS)
    cells = [[*r, *c] if with_codes else list(r) for r, c in zip(rows, code_cells, strict=False)]
    with tempfile.TemporaryDirectory() as folder:
        dictionary = _dictionary(Path(folder))
        records = _write(Path(folder) / "records.csv", header, cells)
        quick = [_outcome(dictionary, records, codes) for _ in range(2)]  # 2nd: from the memo
        with mock.patch.object(_redcap_records, "QUICK_CHECK", False):
            general = _outcome(dictionary, records, codes)
    assert quick[0] == general
    assert quick[1] == general


def test_a_bad_value_is_named_by_file_line_and_field(tmp_path: Path) -> None:
    dictionary = _dictionary(tmp_path)
    good = ["S1", "event_1_arm_1", "5", "50", "5", "1,5", "2024-01-05", "1", "1", "é", "1", "0"]
    good += ["2", *[""] * 6]
    rows = [good, [*good[:2], "101", "50", "50", *good[5:]], [*good[:8], "", *good[9:]]]
    records = _write(tmp_path / "records.csv", list(COLUMNS), rows)
    where = f"{records}: line"
    message = str(_outcome(dictionary, records, ()))
    assert message == (
        f"3 problems, nothing imported:\n"
        f"{where} 3 (S1/event_1_arm_1): field 'n': '101' is out of range; allowed 0 to 100\n"
        f"{where} 3 (S1/event_1_arm_1): field 'k': '50' is out of range; allowed 0 to 10\n"
        f"{where} 4 (S1/event_1_arm_1): field 'ok' is required"
    )
