"""Contract tests over every registered instrument (the lifelines style).

Each instrument in :data:`clestudy.instruments.INSTRUMENTS` gets the same checks: a cited source,
a version pinned by its golden outputs (``golden/NAME.json``: a changed definition without a
version bump fails here), outputs that match its declared schema, and a derandomized Hypothesis
property drawing inputs from its declared input schema. A new instrument is covered by adding its
registry line and its golden file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import (
    INSTRUMENTS,
    InputSpec,
    InstrumentInputError,
    derive,
    instrument_table,
    score_payload,
)

GOLDEN = Path(__file__).parent / "golden"
NAMES = tuple(INSTRUMENTS)
DERIVED = tuple(name for name, entry in INSTRUMENTS.items() if entry.derive is not None)
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (float, int),
    "string": (str,),
    "boolean": (bool,),
    "array": (list,),
}


def _golden(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def _check_schema(output: Mapping[str, Any], schema: Mapping[str, str]) -> None:
    assert list(output) == list(schema)
    for key, declared in schema.items():
        value = output[key]
        kind, _, null = declared.partition("|")
        if value is None:
            assert null == "null", key
            continue
        assert isinstance(value, _JSON_TYPES[kind]), (key, value)
        assert (kind == "boolean") == isinstance(value, bool), key
        if isinstance(value, float):
            assert math.isfinite(value), key


@pytest.mark.parametrize("name", NAMES)
def test_every_instrument_cites_its_source(name: str) -> None:
    entry = INSTRUMENTS[name]
    assert entry.name == name
    assert entry.title and len(entry.source) > 20
    assert re.fullmatch(r"doi:10\.\S+|PMID:\d+|https://\S+", entry.reference), entry.reference


@pytest.mark.parametrize("name", NAMES)
def test_every_version_is_pinned_by_golden_outputs(name: str) -> None:
    golden = _golden(name)
    assert re.fullmatch(rf"{re.escape(name)}-[\w.]+/\d+", INSTRUMENTS[name].version)
    assert golden["instrument"] == name
    assert golden["provenance"]
    # A definition whose outputs change needs a new version and new golden outputs together.
    assert golden["version"] == INSTRUMENTS[name].version, (
        f"golden/{name}.json records version {golden['version']}: record the outputs of "
        f"{INSTRUMENTS[name].version} there"
    )
    assert golden["score"]
    for case in golden["score"]:
        assert case["why"]
        assert score_payload(name, case["input"]) == case["output"], case["why"]
    for case in golden.get("derive", []):
        result = derive(name, case["values"], case["settings"])
        assert (result.version, result.values) == (golden["version"], case["output"]), case["why"]
    assert ("derive" in golden) == (name in DERIVED)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_match_the_declared_schema(name: str) -> None:
    entry = INSTRUMENTS[name]
    golden = _golden(name)
    for case in golden["score"]:
        _check_schema(score_payload(name, case["input"]), entry.score_outputs)
        assert set(case["input"]) <= set(entry.score_inputs)
    for case in golden.get("derive", []):
        _check_schema(derive(name, case["values"], case["settings"]).values, entry.derived_outputs)
        assert set(case["values"]) <= set(entry.inputs)
    required = {key for key, spec in entry.score_inputs.items() if spec.required}
    for key in required:
        payload = {k: v for k, v in golden["score"][0]["input"].items() if k != key}
        with pytest.raises(InstrumentInputError, match=rf"^\S+: {re.escape(key)}: missing"):
            score_payload(name, payload)
    with pytest.raises(InstrumentInputError, match=r": no_such_key: unknown key; allowed: "):
        score_payload(name, {**golden["score"][0]["input"], "no_such_key": 1})


def _valid(spec: InputSpec) -> st.SearchStrategy[Any]:
    """Values the spec accepts (numbers bounded to a clinical scale, so results stay finite)."""
    if spec.allowed:
        return st.sampled_from(spec.allowed)
    if spec.type == "boolean":
        return st.booleans()
    if spec.type == "object":
        return st.just({})
    if spec.type == "text":
        return st.text(max_size=6)
    low = spec.minimum if spec.minimum is not None else -1e4
    high = spec.maximum if spec.maximum is not None else 1e4
    if spec.type == "integer":
        return st.integers(math.ceil(low), math.floor(min(high, 1e4)))
    return st.floats(
        low,
        high,
        exclude_min=spec.exclusive_minimum,
        exclude_max=spec.exclusive_maximum,
        allow_subnormal=False,
    ).filter(lambda x: x == 0 or abs(x) >= 1e-6)


_JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4), st.just([1])
)


@pytest.mark.parametrize("name", NAMES)
@settings(derandomize=True, database=None, max_examples=60, deadline=None)
@given(data=st.data())
def test_score_property_valid_or_a_clear_input_error(name: str, data: st.DataObject) -> None:
    # Any payload built from the declared keys either scores to the declared output schema or is
    # refused with an InstrumentInputError naming the instrument: never another exception.
    entry = INSTRUMENTS[name]
    payload: dict[str, Any] = {}
    for key, spec in entry.score_inputs.items():
        if spec.required or data.draw(st.booleans(), label=f"give {key}"):
            payload[key] = data.draw(st.one_of(_valid(spec), _JUNK), label=key)
    try:
        result = score_payload(name, payload)
    except InstrumentInputError as exc:
        assert re.match(r"^[a-z0-9-]+: \S", str(exc)), str(exc)
        return
    _check_schema(result, entry.score_outputs)


@pytest.mark.parametrize("name", DERIVED)
@settings(derandomize=True, database=None, max_examples=60, deadline=None)
@given(data=st.data())
def test_derive_property_every_allowed_record_scores(name: str, data: st.DataObject) -> None:
    # Every record whose values the input schema allows is scored (the schema and the
    # calculator agree), to the declared output schema, with the registered version.
    entry = INSTRUMENTS[name]
    values: dict[str, Any] = {}
    for key, spec in entry.inputs.items():
        if data.draw(st.booleans(), label=f"give {key}"):
            values[key] = data.draw(_valid(spec), label=key)
    if name == "sledai2k":  # a joint count decides arthritis itself: a recorded one must agree
        values.pop("arthritis", None)
    result = derive(name, values)
    assert result.version == entry.version
    _check_schema(result.values, entry.derived_outputs)


@pytest.mark.parametrize("name", DERIVED)
def test_derive_refuses_what_the_input_schema_refuses(name: str) -> None:
    for key, spec in INSTRUMENTS[name].inputs.items():
        bad = "x" if spec.type != "text" else 0
        assert not spec.accepts(bad)
        with pytest.raises(InstrumentInputError, match=rf"^{re.escape(key)}: got "):
            derive(name, {key: bad})


def test_docs_table_is_the_registry() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "instruments.md").read_text(encoding="utf-8")
    begin, end = "<!-- registry table: begin -->\n", "<!-- registry table: end -->"
    assert begin in docs and end in docs
    printed = docs[docs.index(begin) + len(begin) : docs.index(end)]
    assert printed == instrument_table(), (
        "docs/instruments.md differs from the registry; paste the output of "
        "`python -c 'from clestudy.instruments import instrument_table; "
        'print(instrument_table(), end="")\'` between the markers'
    )
