"""``clestudy export``: exit 0 with files and manifest; exit 2 and nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clestudy.cli import main

STUDY = "pediatric-cle-chart-review"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("fmt", ["csv", "wide-csv", "parquet", "sav", "dta"])
def test_export_writes_files_and_manifest(
    demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    out = tmp_path / "out"
    code, stdout, err = _run(
        capsys, "export", fmt, "--study", STUDY, "--db", demo_url, "--out", str(out),
        "--forms", "labs,skin", "--visits", "initiation",
    )  # fmt: skip
    assert (code, err) == (0, "")
    printed = [Path(line) for line in stdout.splitlines()]
    assert printed[-1] == out / "manifest.json"
    manifest = json.loads(printed[-1].read_text(encoding="utf-8"))
    assert manifest["filters"] == {"forms": ["labs", "skin"], "visits": ["initiation"]}
    assert sorted(f["name"] for f in manifest["files"]) == sorted(p.name for p in printed[:-1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--study", "nope"), "error: --study: study 'nope' is not in sqlite:///"),
        (("--study", STUDY, "--forms", "labs,nope"), "error: --forms: unknown form 'nope'"),
        (("--study", STUDY, "--visits", "week_9"), "error: --visits: unknown visit 'week_9'"),
    ],
)
def test_bad_export_exits_2_and_writes_nothing(
    demo_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "export", "csv", "--db", demo_url, "--out", str(out), *args)
    assert (code, stdout) == (2, "")
    assert err.startswith(message) and err.count("\n") == 1
    assert not out.exists()


def test_unknown_format_exits_2(
    demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys, "export", "xlsx", "--study", STUDY, "--db", demo_url, "--out", str(tmp_path / "o")
    )
    assert code == 2 and err.startswith("error: FORMAT: unknown export format 'xlsx'")
    assert not (tmp_path / "o").exists()


def test_missing_optional_packages_are_named(
    demo_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    real = importlib.import_module

    def without_interop(name: str, package: str | None = None) -> object:
        if name == "clestudy.interop":
            raise ImportError("No module named 'pyreadstat'", name="pyreadstat")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_interop)
    code, _, err = _run(
        capsys, "export", "sav", "--study", STUDY, "--db", demo_url, "--out", str(tmp_path / "o")
    )
    assert code == 1
    assert err == (
        "error: exports and imports need the optional packages: pip install "
        "'clestudy[interop]' (pyreadstat is missing)\n"
    )
