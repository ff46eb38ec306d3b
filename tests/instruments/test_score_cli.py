"""``clestudy score INSTRUMENT [FILE|-] --json``: the contract of issue 3, through ``main``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from tests._cli_output import as_text_error

from clestudy.cli import main
from clestudy.instruments import InstrumentInputError, score_payload


def run(
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, as_text_error(captured.err)


def test_clasi_from_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Activity: nose 2 + 1, arms 3 + 0 = 6; + mucosa 1 + alopecia 3 = 10 -> moderate.
    # Damage: dyspigmentation (nose) 1 x 2 = 2 + arms scarring 2 + scalp scarring 4 = 8.
    payload = {
        "areas": {
            "nose": {"erythema": 2, "scale": 1, "dyspigmentation": 1},
            "arms": {"erythema": 3, "scarring": 2},
        },
        "mucous_membrane": 1,
        "nonscarring_alopecia": 3,
        "scalp_scarring": 4,
        "dyspigmentation_12_months": True,
    }
    path = tmp_path / "clasi.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    code, out, err = run(["score", "clasi", str(path), "--json"], capsys, monkeypatch)
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert (result["activity"], result["damage"], result["activity_severity"]) == (
        10,
        8,
        "moderate",
    )


def test_sledai2k_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # seizure 8 + pyuria 4 + low complement 2 + fever 1 = 15; clinical 13.
    stdin = json.dumps(
        {
            "descriptors": {
                "seizure": True,
                "pyuria": True,
                "low_complement": True,
                "fever": True,
                "rash": False,
            }
        }
    )
    code, out, _ = run(["score", "sledai2k", "-", "--json"], capsys, monkeypatch, stdin)
    result = json.loads(out)
    assert code == 0
    assert (result["score"], result["clinical_score"]) == (15, 13)


def test_ctcae_contract_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # ANC 1.2 x 10^9/L: <1.5 - 1.0 -> grade 2.
    stdin = json.dumps(
        {
            "term": "Neutrophil count decreased",
            "value": 1.2,
            "unit": "10^9/L",
            "lln": 2.0,
            "uln": None,
            "baseline": None,
            "version": "5.0",
        }
    )
    code, out, _ = run(["score", "ctcae", "--json"], capsys, monkeypatch, stdin)
    assert code == 0
    result = json.loads(out)
    assert (result["grade"], result["gradable"]) == (2, True)


def test_ctcae_not_gradable_is_null(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = json.dumps({"term": "Neutrophil count decreased", "value": 1.8, "unit": "10^9/L"})
    code, out, _ = run(["score", "ctcae", "-", "--json"], capsys, monkeypatch, stdin)
    result = json.loads(out)
    assert (code, result["grade"], result["gradable"]) == (0, None, False)


def test_prednisone_and_crcl(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = json.dumps({"drug": "methylprednisolone", "dose_mg": 16})
    code, out, _ = run(
        ["score", "prednisone-equivalent", "-", "--json"], capsys, monkeypatch, stdin
    )
    assert (code, json.loads(out)) == (0, {"prednisone_equivalent_mg": 20.0})
    stdin = json.dumps(
        {
            "age_years": 40,
            "weight_kg": 60,
            "sex": "female",
            "creatinine": 1.0,
            "creatinine_unit": "mg/dL",
        }
    )
    code, out, _ = run(["score", "crcl", "-", "--json"], capsys, monkeypatch, stdin)
    result = json.loads(out)
    # (140 - 40) x 60 x 0.85 / 72 = 70.83 -> normal under the US 60 threshold.
    assert code == 0
    assert result["crcl_ml_min"] == pytest.approx(5100 / 72)
    assert result["lenalidomide_renal_band"] == "normal"


def test_text_output_without_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = json.dumps({"drug": "prednisolone", "dose_mg": 5})
    code, out, _ = run(["score", "prednisone-equivalent"], capsys, monkeypatch, stdin)
    assert (code, out) == (0, "prednisone_equivalent_mg: 5.0\n")


@pytest.mark.parametrize(
    ("instrument", "payload", "message"),
    [
        (
            "clasi",
            {"areas": {"scalp": {"scarring": 1}}},
            "error: <stdin>: clasi: areas.scalp.scarring: got 1; the scalp has no per-area scarring item",
        ),
        (
            "clasi",
            {"scalp_scarring": 2},
            "error: <stdin>: clasi: scalp_scarring: got 2; allowed: 0, 3, 4, 5 or 6",
        ),
        ("clasi", {"mucosa": 1}, "error: <stdin>: clasi: mucosa: unknown key; allowed: areas, "),
        (
            "sledai2k",
            {"descriptors": {"fever": "yes"}},
            "error: <stdin>: sledai2k: fever: got 'yes'; allowed: true or false",
        ),
        (
            "ctcae",
            {"term": "Anemia", "value": 9},
            "error: <stdin>: ctcae: unit: missing; it is required",
        ),
        (
            "ctcae",
            {"term": "Anemia", "value": 9, "unit": "mg/dL"},
            "error: <stdin>: ctcae: unit: got 'mg/dL' for 'Anemia'; allowed: g/dL, g/L or mmol/L",
        ),
        (
            "prednisone-equivalent",
            {"drug": "budesonide", "dose_mg": 3},
            "error: <stdin>: steroids: drug: got 'budesonide'",
        ),
        ("crcl", [1, 2], "error: <stdin>: crcl: input: got a JSON list; allowed: one JSON object"),
        (
            "pasi",
            {},
            "error: <stdin>: score: instrument: got 'pasi'; allowed: clasi, crcl, ctcae, ",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_item(
    instrument: str,
    payload: object,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = run(
        ["score", instrument, "-", "--json"], capsys, monkeypatch, json.dumps(payload)
    )
    assert code == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_invalid_json_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["score", "clasi", "-", "--json"], capsys, monkeypatch, "{not json")
    assert code == 2 and err.startswith("error: <stdin>: line 1, column 2: invalid JSON")
    missing = tmp_path / "none.json"
    code, _, err = run(["score", "clasi", str(missing), "--json"], capsys, monkeypatch)
    assert code == 2 and err == f"error: {missing}: no such file\n"


def test_file_errors_name_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"mucous_membrane": 2}', encoding="utf-8")
    code, _, err = run(["score", "clasi", str(path), "--json"], capsys, monkeypatch)
    assert (code, err) == (2, f"error: {path}: clasi: mucous_membrane: got 2; allowed: 0 or 1\n")


def test_score_payload_null_version_means_default() -> None:
    result = score_payload(
        "ctcae", {"term": "Anemia", "value": 7.9, "unit": "g/dL", "version": None}
    )
    assert (result["grade"], result["version"]) == (3, "5.0")
    with pytest.raises(
        InstrumentInputError, match=r"^sledai2k: descriptors: got \[\]; allowed: an object$"
    ):
        score_payload("sledai2k", {"descriptors": []})


def test_ctcae_clinical_term_with_anchors() -> None:
    # Shingles: IV intervention indicated -> grade 3 (CTCAE v5.0).
    result = score_payload("ctcae", {"term": "Shingles", "anchors": {"treatment": "iv"}})
    assert (result["grade"], result["gradable"], result["reason"]) == (3, True, "treatment=iv")
    untreated = score_payload(
        "ctcae", {"term": "Urinary tract infection", "anchors": {"treatment": "none"}}
    )
    assert (untreated["grade"], untreated["gradable"]) == (None, False)
    with pytest.raises(
        InstrumentInputError, match=r"^ctcae: version: got '6.0' for clinical term 'Shingles'"
    ):
        score_payload("ctcae", {"term": "Shingles", "anchors": {}, "version": "6.0"})
    with pytest.raises(
        InstrumentInputError,
        match=r"^ctcae: term: got 'Neutropenia'; allowed: .*Shingles, Febrile neutropenia or Chronic kidney disease$",
    ):
        score_payload("ctcae", {"term": "Neutropenia", "value": 1, "unit": "10^9/L"})
