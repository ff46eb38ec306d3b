"""The allocation list: permuted blocks of random size, reproducible from the seed.

The simulation follows issue 13: 1,000 simulated subjects over 2 strata, checked at every point
(balance within half the largest block), at every completed block (exactly the ratio), for the
allowed block sizes only, and for reproducibility from the seed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clestudy.errors import InputError
from clestudy.protocol import load_protocol
from clestudy.randomization import (
    NO_STRATA,
    Allocation,
    list_sha256,
    missing_strata_fields,
    permuted_blocks,
    seed_commitment,
    strata_of,
    stratum_key,
)

PROTOCOL = Path(__file__).with_name("randomized.yaml")


def _check_stratum(rows: list[Allocation], ratio: dict[str, int], sizes: list[int]) -> None:
    total = sum(ratio.values())
    counts: Counter[str] = Counter()
    block: list[Allocation] = []
    for n, row in enumerate(rows, start=1):
        assert row.sequence == n
        assert row.block_size in sizes
        counts[row.arm] += 1
        block.append(row)
        for arm, weight in ratio.items():  # balance at every point
            assert abs(counts[arm] - n * weight / total) <= max(sizes) / 2
        if len(block) == block[0].block_size:  # a completed block is exactly the ratio
            in_block = Counter(r.arm for r in block)
            assert {a: in_block[a] for a in ratio} == {
                a: w * len(block) // total for a, w in ratio.items()
            }
            assert len({r.block for r in block}) == 1
            block = []


def test_thousand_subjects_over_two_strata_keep_the_ratio_and_blocks() -> None:
    ratio = {"placebo": 1, "active": 1}
    sizes = [4, 6]
    rows = permuted_blocks(ratio, sizes, ["sex=F", "sex=M"], 500, seed=20260613)
    assert {r.stratum for r in rows} == {"sex=F", "sex=M"}
    for stratum in ("sex=F", "sex=M"):
        mine = [r for r in rows if r.stratum == stratum]
        assert 500 <= len(mine) < 506  # whole blocks until 500 rows
        _check_stratum(mine, ratio, sizes)
    # both sizes were drawn, so the size really varies
    assert {r.block_size for r in rows} == {4, 6}
    # the same seed gives the same list; another seed another one
    again = permuted_blocks(ratio, sizes, ["sex=F", "sex=M"], 500, seed=20260613)
    assert again == rows and list_sha256(again) == list_sha256(rows)
    other = permuted_blocks(ratio, sizes, ["sex=F", "sex=M"], 500, seed=20260614)
    assert list_sha256(other) != list_sha256(rows)


@given(
    weights=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    multiples=st.sets(st.integers(1, 4), min_size=1, max_size=3),
    seed=st.integers(0, 2**128 - 1),
)
def test_any_ratio_and_sizes_give_exact_blocks(
    weights: tuple[int, int], multiples: set[int], seed: int
) -> None:
    ratio = {"a": weights[0], "b": weights[1]}
    sizes = sorted(m * sum(weights) for m in multiples)
    rows = permuted_blocks(ratio, sizes, [NO_STRATA], 40, seed)
    _check_stratum(rows, ratio, sizes)


def test_two_to_one_ratio() -> None:
    rows = permuted_blocks({"placebo": 1, "active": 2}, [3, 6], ["all"], 300, seed=7)
    counts = Counter(r.arm for r in rows)
    assert counts["active"] == 2 * counts["placebo"]  # whole blocks: exactly 2:1


@pytest.mark.parametrize(
    ("ratio", "sizes", "n", "seed", "message"),
    [
        ({"a": 1, "b": 1}, [3], 4, 1, "multiples of the ratio sum 2"),
        ({"a": 0, "b": 1}, [2], 4, 1, "positive integer weight"),
        ({"a": 1, "b": 1}, [2], 0, 1, "at least 1"),
        ({"a": 1, "b": 1}, [2], 4, -1, "non-negative"),
    ],
)
def test_bad_generation_input_is_refused(
    ratio: dict[str, int], sizes: list[int], n: int, seed: int, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        permuted_blocks(ratio, sizes, ["all"], n, seed)


def test_seed_commitment_hides_the_seed_and_binds_it() -> None:
    assert len(seed_commitment(12345)) == 64
    assert "12345" not in seed_commitment(12345)
    assert seed_commitment(12345) != seed_commitment(12346)


def test_strata_and_stratum_keys() -> None:
    protocol = load_protocol(PROTOCOL)
    assert strata_of(protocol) == ["sex=F", "sex=M"]
    assert stratum_key(protocol, {"sex": "M", "age": 40}) == "sex=M"
    assert missing_strata_fields(protocol, {"age": 40}) == ["sex"]
    with pytest.raises(
        InputError, match="stratification incomplete: sex of form dm at visit week_0"
    ):
        stratum_key(protocol, {"age": 40})
    with pytest.raises(InputError, match="not randomized"):
        strata_of(load_protocol("lenalidomide-cle-open-label"))
