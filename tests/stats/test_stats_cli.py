"""``clestudy stats paired`` and ``clestudy stats check-summary`` through ``main([...])``."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
from tests._cli_output import as_text_error

from clestudy.cli import main

CONTRACT_KEYS = {
    "measure", "n_pairs", "mean_before", "sd_before", "mean_after", "sd_after", "mean_difference",
    "t_statistic", "t_df", "p_t", "p_wilcoxon_exact", "p_wilcoxon_asymptotic", "p_sign",
    "hodges_lehmann", "hl_ci_low", "hl_ci_high", "hl_ci_achieved_level", "cohen_dz",
    "min_attainable_p_wilcoxon", "rule", "significant", "warnings",
}  # fmt: skip


@pytest.fixture
def seed003_csv() -> Path:
    path = resources.files("clestudy") / "demo_data" / "seed003_pediatric.csv"
    return Path(str(path))


def paired_args(path: Path, *extra: str) -> list[str]:
    return [
        "stats", "paired", "--csv", str(path), "--subject", "subject", "--visit", "visit",
        "--before", "initiation", "--after", "month_6", *extra,
    ]  # fmt: skip


def test_paired_json_contract(seed003_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(paired_args(seed003_csv, "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert [row["measure"] for row in out] == ["prednisone_mg_day", "esr_mm_hr"]
    for row in out:
        assert set(row) >= CONTRACT_KEYS
        assert row["n_pairs"] == 5
        assert row["significant"] is False
        assert row["rule"] == "t-then-wilcoxon"
        assert row["min_attainable_p_wilcoxon"] == 0.0625
        assert {"code", "message"} == set(row["warnings"][0])
        codes = [w["code"] for w in row["warnings"]]
        assert "exact_wilcoxon_cannot_reach_alpha" in codes
    assert round(out[0]["p_t"], 3) == 0.005
    assert round(out[1]["p_t"], 3) == 0.015


def test_paired_measure_rule_and_alpha(
    seed003_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = paired_args(seed003_csv, "--measure", "esr_mm_hr", "--rule", "t", "--alpha", "0.1")
    assert main([*args, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["measure"], row["rule"], row["significant"]) == ("esr_mm_hr", "t", True)
    assert row["decided_by"] == "t"
    # at alpha = 0.1 the exact Wilcoxon minimum 0.0625 is reachable: no such warning
    assert "exact_wilcoxon_cannot_reach_alpha" not in [w["code"] for w in row["warnings"]]


def test_paired_text_output(seed003_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(paired_args(seed003_csv)) == 0
    out = capsys.readouterr().out
    assert "Wilcoxon exact p = 0.0625" in out
    assert "achieved level 93.75%" in out
    assert "warning [exact_wilcoxon_cannot_reach_alpha]" in out


def test_missing_value_drops_subject_and_null_is_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "long.csv"
    path.write_text("id,visit,x\n# a comment\nA,pre,1\nA,post,\nB,pre,2\nB,post,3\n")
    args = ["stats", "paired", "--csv", str(path), "--subject", "id", "--visit", "visit"]
    assert main([*args, "--before", "pre", "--after", "post", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["n_pairs"] == 1
    assert row["dropped_subjects"] == ["A"]
    assert row["p_t"] is None  # NaN travels as null


@pytest.mark.parametrize(
    ("text", "extra", "match"),
    [
        ("id,visit,x\nA,pre,1\nA,post,2\n", ["--measure", "y"], r": no column 'y'; the columns"),
        ("id,visit,x\nA,pre,1\nA,post,2\n", ["--subject", "patient"], r": no column 'patient'"),
        (
            "id,visit,x\nA,pre,1\nA,post,2\n",
            ["--after", "week_4"],
            r"no row has the visit label "
            r"'week_4'; the labels present are 'pre', 'post'",
        ),
        (
            "id,visit,x\n# note\nA,pre,1\nA,post,two\n",
            [],
            r"\.csv: row 4, column 'x': 'two' is "
            r"not a number$",
        ),
        ("id,visit,x\nA,pre,1\nA,post\n", [], r"\.csv: line 3: 2 fields, but the header has 3$"),
        ("", [], r"\.csv: no header line; the file is empty$"),
        ("id,visit,x\nA,pre,1\nA,post,2\n", ["--rule", "whatever"], r"rule = 'whatever'"),
    ],
)
def test_paired_bad_input_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    extra: list[str],
    match: str,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    args = ["stats", "paired", "--csv", str(path), "--subject", "id", "--visit", "visit",
            "--before", "pre", "--after", "post"]  # fmt: skip
    # later options override earlier ones in Typer, so extra can replace a default
    assert main([*args, *extra, "--json"]) == 2
    err = as_text_error(capsys.readouterr().err)
    assert err.startswith("error: ")
    assert err.count("\n") == 1

    assert re.search(match, err.strip())


def test_paired_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    assert main(paired_args(missing)) == 2
    assert as_text_error(capsys.readouterr().err).strip() == f"error: {missing}: no such file"


SEED003_PREDNISONE = [
    "stats", "check-summary", "--n", "5", "--mean-before", "23", "--sd-before", "10.9",
    "--mean-after", "11", "--sd-after", "7.4",
]  # fmt: skip


def test_check_summary_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEED003_PREDNISONE, "--p", "0.005", "--test", "paired-t", "--json"]) == 0
    rows = {row["check"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {
        "grim_mean_before", "grim_mean_after", "implied_sd_difference", "implied_correlation",
        "test_can_reach_p",
    }  # fmt: skip
    assert all(row["status"] == "consistent" for row in rows.values())


def test_check_summary_text_flags_the_wilcoxon_claim(capsys: pytest.CaptureFixture[str]) -> None:
    # an inconsistent claim exits 1, so that scripts can rely on it (issue 9 item 5)
    assert main([*SEED003_PREDNISONE, "--p", "<0.05", "--test", "wilcoxon-exact"]) == 1
    out = capsys.readouterr().out
    assert "inconsistent  test_can_reach_p: the exact two-sided signed-rank test with n = 5 " in out
    assert "not_applicable  implied_sd_difference" in out


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--p", "0.005", "--test", "t"], r"^error: check_published_summary: test = 't'; allowed"),
        (["--p", "p=0.005", "--test", "paired-t"], r"^error: p_value: 'p=0.005' is not a printed"),
        (["--p", "0", "--test", "paired-t"], r"^error: p_value: '0'; allowed: 0 < p <= 1$"),
    ],
)
def test_check_summary_bad_input(
    capsys: pytest.CaptureFixture[str], extra: list[str], match: str
) -> None:
    assert main([*SEED003_PREDNISONE, *extra]) == 2
    assert re.search(match, as_text_error(capsys.readouterr().err).strip())
