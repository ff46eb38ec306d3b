"""The README's flow tour runs as written on the repository's own FCS file.

``examples/demo_pbmc.fcs`` is made by ``scripts/make_demo_fcs.py`` (fixed seed); the expected
counts come from that script's population design, not from a run of the gating.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from clestudy.cli import main

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "make_demo_fcs.py"
SHIPPED = REPO / "examples" / "demo_pbmc.fcs"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo_fcs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tour_flow_lines() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("## A short tour") :]
    block = block[block.index("```sh") + 5 : block.index("```", block.index("```sh") + 5)]
    return [
        line.split("#")[0].strip()
        for line in block.replace("\\\n", " ").splitlines()
        if line.startswith("clestudy flow ")
    ]


def test_the_shipped_file_is_what_the_script_writes(tmp_path: Path) -> None:
    out = tmp_path / "again.fcs"
    subprocess.run([sys.executable, str(SCRIPT), str(out)], check=True, capture_output=True)
    assert out.read_bytes() == SHIPPED.read_bytes()


def test_readme_flow_tour_gates_the_shipped_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _tour_flow_lines()
    assert [line.split()[:3] for line in lines] == [
        ["clestudy", "flow", "template"],
        ["clestudy", "flow", "gate"],
    ]
    monkeypatch.chdir(tmp_path)  # the tour's own files land here; the FCS path is the repo's
    template_line, gate_line = lines
    command, target = template_line.split(">")
    assert main(shlex.split(command)[1:]) == 0
    Path(target.strip()).write_text(capsys.readouterr().out, encoding="utf-8")
    argv = shlex.split(gate_line.replace("examples/", f"{REPO / 'examples'}/"))[1:]
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    counts = {r["gate"]: r["count"] for r in json.loads(capsys.readouterr().out)}
    design = _script().POPULATIONS

    def events(has: set[str], lacks: set[str]) -> int:
        return sum(n for n, high in design if has <= high and not (lacks & high))

    assert counts == {
        "CD3_pos": events({"CD3"}, set()),
        "CD4_T": events({"CD3", "CD4"}, {"CD8"}),
        "Treg": events({"CD3", "CD4", "CD25"}, {"CD8", "CD127"}),
    }
    assert counts["Treg"] > 0
