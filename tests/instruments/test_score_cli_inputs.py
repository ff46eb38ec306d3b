"""``clestudy score``: the input defects of issue 9, tried from the user's side (CLI and API)."""

from __future__ import annotations

import io
import json
import math
from dataclasses import replace

import pytest
from tests._cli_output import as_text_error

from clestudy.cli import main
from clestudy.instruments import INSTRUMENTS, InstrumentInputError, cockcroft_gault, score_payload
from clestudy.instruments import _score_json as score_json

_CRCL = {"age_years": 40, "weight_kg": 60, "creatinine": 1.0, "creatinine_unit": "mg/dL"}


def run(
    args: list[str],
    stdin: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, as_text_error(captured.err)


@pytest.mark.parametrize(("sex", "female"), [("F", True), ("female", True), ("M", False), ("male", False)])  # fmt: skip
def test_crcl_takes_the_cdisc_sex_codes_and_the_words(
    sex: str, female: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(
        ["score", "crcl", "--json"], json.dumps({**_CRCL, "sex": sex}), capsys, monkeypatch
    )
    assert (code, err) == (0, "")
    # (140 - 40) x 60 / 72 = 83.33 mL/min, x 0.85 for a female = 70.83 (Cockcroft-Gault 1976).
    assert json.loads(out)["crcl_ml_min"] == pytest.approx(6000 / 72 * (0.85 if female else 1))


def test_crcl_refuses_a_sex_it_is_not_defined_for(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["score", "crcl"], json.dumps({**_CRCL, "sex": "U"}), capsys, monkeypatch)
    assert (code, err) == (2, "error: <stdin>: crcl: sex: got 'U'; allowed: F, M, female or male\n")


def test_crcl_requires_the_creatinine_unit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = {k: v for k, v in _CRCL.items() if k != "creatinine_unit"} | {"sex": "F"}
    code, out, err = run(["score", "crcl", "--json"], json.dumps(payload), capsys, monkeypatch)
    assert (code, out) == (2, "")
    assert err == "error: <stdin>: crcl: creatinine_unit: missing; it is required\n"
    with pytest.raises(TypeError, match="creatinine_unit"):
        cockcroft_gault(40, 60, "F", 1.0)  # type: ignore[call-arg]


def test_crcl_reports_the_label_regimen_and_the_not_studied_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # (140 - 80) x 40 / (72 x 4.0) = 8.33 mL/min, not on dialysis: below the 11 mL/min the US PI
    # says was not studied; severe band (< 30): 15 mg every 48 hours.
    payload = {"age_years": 80, "weight_kg": 40, "sex": "M", "creatinine": 4.0}
    code, out, _ = run(
        ["score", "crcl", "--json"],
        json.dumps(payload | {"creatinine_unit": "mg/dL"}),
        capsys,
        monkeypatch,
    )
    result = json.loads(out)
    assert code == 0
    assert result["crcl_ml_min"] == pytest.approx(2400 / 288)
    assert result["lenalidomide_renal_band"] == "severe"
    assert result["lenalidomide_not_studied"] is True
    assert result["lenalidomide_label_regimen"] == "15 mg every 48 hours"
    assert result["lenalidomide_jurisdiction"] == "US"


_HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    ("instrument", "payload", "message"),
    [
        (
            "prednisone-equivalent",
            '{"drug": "prednisone", "dose_mg": ' + _HUGE + "}",
            "error: <stdin>: steroids: dose_mg: got 100000000000...(401 digits); it is too large "
            "for a number (overflow); allowed: a number >= 0 mg\n",
        ),
        (
            "prednisone-equivalent",
            '{"drug": "betamethasone", "dose_mg": 1, "betamethasone_mg_per_5mg_prednisone": 1e-320}',
            "error: <stdin>: steroids: betamethasone_mg_per_5mg_prednisone: got 1e-320; it is too "
            "close to 0 for a number (underflow, below 2.23e-308); allowed: a number > 0 mg\n",
        ),
        (
            "prednisone-equivalent",
            '{"drug": "dexamethasone", "dose_mg": 1e308}',
            "error: <stdin>: steroids: dose_mg: got 1e+308; its prednisone equivalent "
            "(dexamethasone, 0.75 mg per 5 mg) is too large for a number; allowed: a dose whose "
            "equivalent is finite\n",
        ),
        (
            "prednisone-equivalent",
            '{"drug": "prednisone", "dose_mg": 1e999}',
            "error: <stdin>: steroids: dose_mg: got inf; allowed: a number >= 0 mg\n",
        ),
        (
            "crcl",
            json.dumps({**_CRCL, "sex": "F", "weight_kg": 1e308}),
            "error: <stdin>: crcl: weight_kg, creatinine: got 1e+308 kg and 1.0 mg/dL; the "
            "clearance is too large for a number; allowed: values whose clearance is finite\n",
        ),
        (
            "ctcae",
            '{"term": "Anemia", "unit": "g/dL", "value": ' + _HUGE + "}",
            "error: <stdin>: ctcae: value: got 100000000000...(401 digits); it is too large for a "
            "number (overflow); allowed: a number >= 0 g/dL\n",
        ),
        (
            "sledai2k",
            '{"window_days": ' + _HUGE + "}",
            "error: <stdin>: sledai2k: window_days: got 100000000000...(401 digits); allowed: "
            "10 or 30\n",
        ),
    ],
)
def test_overflowing_and_underflowing_numbers_exit_2_naming_the_field(
    instrument: str,
    payload: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = run(["score", instrument, "--json"], payload, capsys, monkeypatch)
    assert (code, out, err) == (2, "", message)


def test_score_payload_never_returns_a_non_finite_number(monkeypatch: pytest.MonkeyPatch) -> None:
    # The last guard, for a calculator that lets an infinity through: the output key is named.
    broken = replace(INSTRUMENTS["prednisone-equivalent"], score=lambda _: {"mg": math.inf})
    monkeypatch.setattr(score_json, "get_instrument", lambda name, item: broken)
    with pytest.raises(
        InstrumentInputError,
        match=r"^prednisone-equivalent: mg: the result is inf; an input is too large or too "
        r"close to 0; allowed: inputs whose result is a finite number$",
    ):
        score_payload("prednisone-equivalent", {"drug": "prednisone", "dose_mg": 1})


def test_ctcae_abnormal_baseline_is_graded_on_the_baseline_by_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # CTCAE v5.0 ALT: "1.5 - 3.0 x baseline if baseline was abnormal". Baseline 60 > ULN 40,
    # value 60 = 1.0x baseline -> 0 (the ULN arm would give 1.5x ULN -> 1).
    alt = {"term": "Alanine aminotransferase increased", "value": 60, "unit": "U/L", "uln": 40}
    code, out, _ = run(
        ["score", "ctcae", "--json"], json.dumps(alt | {"baseline": 60}), capsys, monkeypatch
    )
    assert code == 0
    assert json.loads(out)["grade"] == 0
    assert json.loads(out)["reason"] == "x baseline (baseline > ULN)"
    both = alt | {"baseline": 60, "abnormal_baseline_arm": "worse-of-both"}
    code, out, _ = run(["score", "ctcae", "--json"], json.dumps(both), capsys, monkeypatch)
    assert (code, json.loads(out)["grade"]) == (0, 1)


def test_deeply_nested_json_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(["score", "clasi", "--json"], "[" * 100_000, capsys, monkeypatch)
    assert (code, out) == (2, "")
    assert err == (
        "error: <stdin>: invalid JSON: nested too deeply; allowed: one JSON object of item values\n"
    )


class _UnreadableStdin(io.StringIO):
    def read(self, size: int | None = -1) -> str:
        raise AssertionError("stdin was read before the instrument name was checked")


def test_an_unknown_instrument_is_refused_before_stdin_is_read(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _UnreadableStdin())
    code = main(["score", "pasi", "--json"])
    err = as_text_error(capsys.readouterr().err)
    assert code == 2
    assert err.startswith("error: <stdin>: score: instrument: got 'pasi'; allowed: clasi, crcl")
