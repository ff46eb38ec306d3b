"""``clestudy stats`` refuses bad input with exit 2 and never prints a non-finite result (issue 9)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests._cli_output import as_text_error

from clestudy.cli import main

PAIRED = ["--subject", "subject", "--visit", "visit", "--before", "pre", "--after", "post"]
HEADER = "subject,visit,esr\n"


def _paired(path: Path, *extra: str) -> int:
    return main(["stats", "paired", "--csv", str(path), *PAIRED, *extra])


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('a,pre,1\na,post,2\nb,pre,3\nb,post,"2\n', r"line 5: malformed CSV line: unexpected end"),
        ("a,pre,1e300\na,post,-1e300\nb,pre,3\nb,post,4\n", r"column 'esr', subject 'a': the "),
        ("a,pre,1\na,post,inf\n", r"row 3, column 'esr': 'inf' is not a finite number"),
        ("a,pre,1\na,post,2,3\n", r"line 3: 4 fields, but the header has 3"),
    ],
)
def test_paired_bad_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, match: str
) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER + body)
    assert _paired(path, "--json") == 2
    err = as_text_error(capsys.readouterr().err).strip()
    assert err.startswith(f"error: {path}: ")
    assert re.search(match, err), err


def test_paired_overflow_names_the_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "a,pre,1e300\na,post,-1e300\nb,pre,3\nb,post,4\n")
    assert _paired(path) == 2
    assert as_text_error(capsys.readouterr().err).strip() == (
        f"error: {path}: column 'esr', subject 'a': the before value 1e+300 is too large: its "
        "square (and so the SD and the test statistics) overflows floating point; rescale the "
        "measure"
    )


@pytest.mark.parametrize(
    ("header", "match"),
    [("subject,visit,esr,esr\n", "'esr' appears twice"), (",visit\n", "no name")],
)
def test_paired_bad_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], header: str, match: str
) -> None:
    path = tmp_path / "p.csv"
    path.write_text(header)
    assert _paired(path) == 2
    assert match in as_text_error(capsys.readouterr().err)


def test_paired_undefined_statistics_print_as_na(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "a,pre,1\na,post,2\n")
    assert _paired(path) == 0
    out = capsys.readouterr().out
    assert "t(n/a) = n/a, p = n/a;" in out
    assert not re.search(r"\b(nan|inf)\b", out)


def test_paired_size_is_bounded(tmp_path: Path) -> None:
    from clestudy.cli._stats import read_long_csv

    path = tmp_path / "p.csv"
    path.write_text(HEADER + "a,pre,1\n" * 20)
    with pytest.raises(
        ValueError, match=r"p\.csv: 178 bytes; a stats CSV is read whole, so at most 100"
    ):
        read_long_csv(path, max_bytes=100)


SUMMARY = ["stats", "check-summary", "--mean-before", "26.2", "--sd-before", "8.9"]
SUMMARY += ["--mean-after", "19.2", "--sd-after", "7.5", "--p", "0.015", "--test", "paired-t"]


def test_check_summary_huge_n_finishes(capsys: pytest.CaptureFixture[str]) -> None:
    # n = 10^10 used to search 10^10 GRIM candidates; the nearest is now computed
    code = main([*SUMMARY, "--n", "10000000000", "--json"])
    out = capsys.readouterr().out
    assert '"check": "grim_mean_before"' in out
    assert code == 1  # with n = 10^10, p = 0.015 implies an impossible correlation


def test_check_summary_consistent_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SUMMARY, "--n", "5"]) == 0
    assert "inconsistent" not in capsys.readouterr().out


def test_check_summary_inconsistent_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SUMMARY[:-2], "--test", "wilcoxon-exact", "--n", "5", "--json"]) == 1
    assert '"status": "inconsistent"' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("--sd-before", "1" + "0" * 200, "overflow floating point in the back-calculation"),
        ("--mean-before", "1" + "0" * 400, "mean_before: '1000.*' is too large for floating point"),
    ],
)
def test_check_summary_overflow_is_bad_input(
    capsys: pytest.CaptureFixture[str], option: str, value: str, match: str
) -> None:
    args = [*SUMMARY, "--n", "5"]
    args[args.index(option) + 1] = value
    assert main(args) == 2
    assert re.search(match, as_text_error(capsys.readouterr().err))


def test_check_summary_unbounded_sd_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    args = [*SUMMARY, "--n", "5"]
    args[args.index("--p") + 1] = "1"
    main(args)
    out = capsys.readouterr().out
    assert "and no upper bound" in out
    assert not re.search(r"\b(nan|inf)\b", out)
