"""Reading an uploaded allocation table: every problem at once, naming line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from clestudy.errors import InputError
from clestudy.protocol import Protocol, load_protocol
from clestudy.randomization import Allocation, parse_allocation_table

PROTOCOL = load_protocol(Path(__file__).with_name("randomized.yaml"))
TABLE = "sex,sequence,arm\nF,1,placebo\nF,2,lenalidomide\nM,1,lenalidomide\nM,2,placebo\n"


def _table_protocol() -> Protocol:
    spec = PROTOCOL.randomization
    assert spec is not None
    table = spec.model_copy(update={"method": "table", "block_sizes": ()})
    return PROTOCOL.model_copy(update={"randomization": table})


def test_a_good_table_is_read_in_stratum_and_sequence_order() -> None:
    shuffled = "sex,sequence,arm\nM,2,placebo\nF,2,lenalidomide\n\nM,1,lenalidomide\nF,1,placebo\n"
    rows = parse_allocation_table("\ufeff" + shuffled, _table_protocol())  # a BOM, a blank line
    assert rows[0] == Allocation("sex=F", 1, "placebo")
    assert [(r.stratum, r.sequence) for r in rows] == [
        ("sex=F", 1), ("sex=F", 2), ("sex=M", 1), ("sex=M", 2),
    ]  # fmt: skip
    with_blocks = "sex,sequence,arm,block\nF,1,placebo,1\nF,2,lenalidomide,1\nM,1,placebo,1\n"
    assert parse_allocation_table(with_blocks, _table_protocol())[0].block == 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("sequence,arm\n1,placebo\n", "t.csv:1: header: expected columns sex,sequence,arm"),
        (TABLE + "X,3,placebo\n", "t.csv:6: sex: 'X' is not one of"),
        (TABLE + "F,3,drug\n", "t.csv:6: arm: 'drug' is not one of"),
        (TABLE + "F,zero,lenalidomide\n", "t.csv:6: sequence: 'zero' is not a positive integer"),
        (TABLE + "F,2,lenalidomide\n", "t.csv:6: sequence: 2 of stratum sex=F repeats line 3"),
        (TABLE + "F,4,lenalidomide\n", "stratum sex=F skips sequence 3"),
        ("sex,sequence,arm\nF,1,placebo\nF,2,lenalidomide\n", "t.csv: stratum: sex=M has no rows"),
        (
            "sex,sequence,arm\n"
            + "".join(f"F,{i},lenalidomide\n" for i in range(1, 7))
            + "M,1,lenalidomide\n",
            "stratum sex=F allocates 6 of 6 rows to lenalidomide",
        ),
        (TABLE + "F,3\n", "t.csv:6: row: 2 cells, expected 3"),
    ],
)
def test_a_bad_table_is_refused_naming_line_and_column(table: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_allocation_table(table, _table_protocol(), "t.csv")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InputError) as info:
        parse_allocation_table(TABLE + "X,3,drug\n", _table_protocol(), "t.csv")
    assert str(info.value).splitlines() == [
        "t.csv:6: sex: 'X' is not one of ['F', 'M']",
        "t.csv:6: arm: 'drug' is not one of ['placebo', 'lenalidomide']",
    ]
