"""Bounded mutation fuzzing of protocol loading: every input ends in a protocol or exit 2.

Starts from the reproductions of issue 9 item 7 (``'[' * 10000``, a 400-byte alias bomb, a NUL
byte) and mutates a built-in protocol and edit-check rules. Derandomized and bounded (a few
seconds); a longer run: raise ``max_examples`` locally.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.cli import main
from clestudy.errors import ClestudyError
from clestudy.protocol import CheckContext, parse_protocol, run_edit_checks
from clestudy.protocol._loader import BUILTIN_PROTOCOLS

BASE = (
    Path(__file__).resolve().parents[2]
    / "src/clestudy/protocol/builtin"
    / f"{BUILTIN_PROTOCOLS[1]}.yaml"
).read_text(encoding="utf-8")

REPRODUCTIONS = [
    "[" * 10_000,
    "{a: " * 5_000,
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ),
    "id: x\ntitle: \x00\n",
    "id: x\nid: y\n",
    "",
    "- a\n",
    "? [a, b]\n: c\n",
    "settings: {ctcae_version: 7.0}\n",
]


@pytest.mark.parametrize("text", REPRODUCTIONS, ids=range(len(REPRODUCTIONS)))
def test_reproductions_exit_2_from_the_cli(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["protocol", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and "internal error" not in err


_PIECES = ["[", "]", "{", "}", ":", "-", ",", "'", '"', "&a ", "*a", "<<: *a", "\n", "  ", "#",
           "!!str ", "1e400", ".nan", "\x00", "é", "?", "|", ">"]  # fmt: skip


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = BASE
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:pos] + draw(st.sampled_from(_PIECES)) + text[pos:]
        else:
            text = text[:pos] + text[pos + draw(st.integers(1, 40)) :]
    return text


@settings(max_examples=80, deadline=None, derandomize=True)
@given(_mutated())
def test_a_mutated_protocol_loads_or_is_refused_as_bad_input(text: str) -> None:
    try:
        parse_protocol(text, "m.yaml")
    except ClestudyError as exc:
        assert exc.exit_code == 2, str(exc)
        assert str(exc).startswith("m.yaml"), str(exc)


RULE_FORM = """\
id: mini
title: Mini
version: "1"
arms: [{id: a, name: A}]
sites: [{id: s, name: S}]
visits: [{id: v0, name: V0, day: 0, forms: [f]}]
forms:
  - id: f
    name: F
    fields:
      - {id: low, label: Low, type: integer, min: 0, max: 10}
      - {id: high, label: High, type: decimal}
      - {id: fdat, label: Date, type: date}
edit_checks:
  - {id: f.rule, form: f, message: m, rule: RULE}
"""
_TOKENS = ["low", "high", "fdat", "today", "(", ")", "+", "-", "*", "/", "**", "%", "<", ">=",
           "==", "and", "or", "not", "in", "if", "else", "0", "2.5", "1e308", "9" * 40, "'a'",
           "[", "]", ",", "abs", "days_between", "len", "max", "True", "None", "x", "1if"]  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=9))
def test_a_random_rule_is_refused_at_load_or_runs_without_crashing(tokens: list[str]) -> None:
    text = RULE_FORM.replace("RULE", json.dumps(" ".join(tokens)))
    try:
        protocol = parse_protocol(text, "r.yaml")
    except ClestudyError as exc:
        assert exc.exit_code == 2 and "r.yaml:" in str(exc)
        return
    ctx = CheckContext.for_visit(protocol, "v0", today=dt.date(2025, 1, 1))
    for values in ({"low": 0, "high": "0", "fdat": "2024-01-01"}, {"low": 10, "high": "-1e30"}):
        for finding in run_edit_checks(protocol, "f", values, ctx):
            assert finding.check_id in ("f.rule", "builtin.visit_window")
