"""CLI options of flow, qpcr and ihc: the audited actor, --field without --db, the bar."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests._cli_output import as_text_error

from clestudy.cli import main

STUDY = "lenalidomide-cle-open-label"
TinyFcs = Callable[..., Path]


def _record_actors(url: str) -> list[str]:
    from clestudy.store import audit_events

    return [str(e["actor"]) for e in audit_events(url) if e["entity_type"] == "form_record"]


def _flow_args(tiny_fcs: TinyFcs, fcs_comp_gml: Path, tmp_path: Path) -> list[str]:
    tiny_fcs("pre.fcs")
    manifest = tmp_path / "blood.csv"
    manifest.write_text("file,subject_id,visit_id,sample_date\npre.fcs,S01,week_0,2026-01-05\n")
    return ["flow", "gate", "--strategy", str(fcs_comp_gml), "--manifest", str(manifest)]


def test_flow_gate_records_the_actor(
    tiny_fcs: TinyFcs, fcs_comp_gml: Path, tmp_path: Path, db: str
) -> None:
    args = _flow_args(tiny_fcs, fcs_comp_gml, tmp_path)
    args += ["--db", db, "--field", "treg_pct_cd4=CD3_pos:percent_parent"]
    assert main([*args, "--actor", "lab.tech@site01", "--workers", "1"]) == 0
    assert _record_actors(db) == ["lab.tech@site01"]


def test_qpcr_records_the_actor_from_the_environment(
    one_gene_plate: tuple[Path, list[str]], db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plate, args = one_gene_plate
    args = [*args, "--db", db]
    monkeypatch.setenv("CLESTUDY_ACTOR", "qpcr.lab")
    assert main(args) == 0
    plate.write_text(plate.read_text().replace("P,IFI27,27", "P,IFI27,26"))  # a re-run
    assert main([*args, "--actor", "second.reader"]) == 0  # --actor wins over the environment
    assert _record_actors(db) == ["qpcr.lab", "second.reader"]


def test_ihc_import_records_the_actor(tmp_path: Path, db: str) -> None:
    export = tmp_path / "annotations.csv"
    export.write_text("Image,Num Positive,Area µm^2\ncd3.svs,300,1500000\n", encoding="utf-8")
    manifest = tmp_path / "slides.csv"
    manifest.write_text("image,subject_id,visit_id,marker\ncd3.svs,S01,week_0,CD3\n")
    args = ["ihc", "import", "--measurements", str(export), "--manifest", str(manifest)]
    assert main([*args, "--db", db, "--actor", "pathologist"]) == 0
    assert _record_actors(db) == ["pathologist"]


def test_field_without_db_is_an_error(
    tiny_fcs: TinyFcs, fcs_comp_gml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["flow", "gate", "--strategy", str(fcs_comp_gml), str(tiny_fcs("a.fcs"))]
    assert main([*args, "--field", "treg_pct_cd4=CD3_pos:percent_parent", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        as_text_error(captured.err)
        == "error: --field needs --db: it says which values to store in the database\n"
    )


def test_progress_bar_draws_on_stderr_not_stdout(
    tiny_fcs: TinyFcs,
    fcs_comp_gml: Path,
    capsys: pytest.CaptureFixture[str],
    interactive_stderr: Callable[[], None],
) -> None:
    interactive_stderr()
    # an interactive stderr turns the bar on; --json on stdout must stay parseable
    files = [str(tiny_fcs(f"{n}.fcs")) for n in ("a", "b")]
    args = ["flow", "gate", "--strategy", str(fcs_comp_gml), *files, "--json", "--workers", "1"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("[\n") and "\x1b" not in captured.out  # JSON and only JSON
    assert [r["sample"] for r in json.loads(captured.out)] == ["a", "b"]
    bar = [x for x in captured.err.splitlines() if "gating" in x and not x.startswith("warning:")]
    assert bar, captured.err  # the bar was drawn, on stderr
