"""The protocol's ``randomization`` section: model rules and cross-references."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clestudy.errors import ProtocolError
from clestudy.protocol import load_protocol, parse_protocol

PROTOCOL = Path(__file__).with_name("randomized.yaml")


def _variant(old: str, new: str) -> str:
    text = PROTOCOL.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


def test_the_example_loads_with_its_section() -> None:
    spec = load_protocol(PROTOCOL).randomization
    assert spec is not None
    assert spec.method == "permuted_blocks"
    assert spec.ratio == {"placebo": 1, "lenalidomide": 1}
    assert spec.block_sizes == (4, 6)
    assert spec.blinded_roles == ("statistician",)


def test_a_protocol_without_randomization_serialises_as_before() -> None:
    protocol = load_protocol("lenalidomide-cle-open-label")
    assert protocol.randomization is None
    assert "randomization" not in json.loads(protocol.model_dump_json())
    assert "randomization" in json.loads(load_protocol(PROTOCOL).model_dump_json())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("block_sizes: [4, 6]", "block_sizes: [3, 6]", "not positive multiples of the ratio sum 2"),
        ("block_sizes: [4, 6]", "block_sizes: []", "permuted_blocks needs block_sizes"),
        ("method: permuted_blocks", "method: table", "block_sizes apply only to method"),
        ("{placebo: 1, lenalidomide: 1}", "{placebo: 0, lenalidomide: 1}", "positive integer"),
        ("{placebo: 1, lenalidomide: 1}", "{placebo: 1, other: 1}", "must name every arm"),
        ("strata: [sex]", "strata: [age]", "only single_choice and boolean fields stratify"),
        ("strata: [sex]", "strata: [weight]", "'weight' is not a field of 'dm'"),
        ("visit: week_0", "visit: week_12", "form 'dm' is not collected at 'week_12'"),
        ("blinded_roles: [statistician]", "blinded_roles: [admin]", "randomization.blinded_roles"),
    ],
)
def test_a_broken_section_is_refused_with_its_path(old: str, new: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message) as info:
        parse_protocol(_variant(old, new), "r.yaml")
    assert "r.yaml:" in str(info.value)
