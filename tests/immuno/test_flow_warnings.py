"""Gating QC: FlowJo workspace samples, a missing $SPILL, FlowIO warnings, the offset error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from clestudy.cli import main
from clestudy.immuno import (
    FcsFileError,
    FlowOptions,
    GatingStrategyError,
    gate_batch,
    gate_fcs,
    load_strategy,
)

TinyFcs = Callable[..., Path]


def _workspace(path: Path, samples: list[Path]) -> Path:
    """A FlowJo 10 workspace written by FlowKit: gate CD3-A >= 10 on each of ``samples``."""
    import flowkit as fk

    strategy = fk.GatingStrategy()
    gate = fk.gates.RectangleGate("CD3_pos", [fk.Dimension("CD3-A", range_min=10)])
    strategy.add_gate(gate, ("root",))
    session = fk.Session(gating_strategy=strategy, fcs_samples=[str(p) for p in samples])
    with path.open("wb") as handle:
        session.export_wsp(handle, "All Samples")
    return path


def test_workspace_without_the_file_is_an_error(tiny_fcs: TinyFcs, tmp_path: Path) -> None:
    wsp = _workspace(tmp_path / "two.wsp", [tiny_fcs("a.fcs"), tiny_fcs("b.fcs")])
    other = tiny_fcs("c.fcs")
    pattern = r"two\.wsp: FCS file .*c\.fcs is not a sample of this FlowJo workspace \(samples: a\.fcs, b\.fcs\)"
    with pytest.raises(GatingStrategyError, match=pattern):
        gate_fcs(other, wsp)
    with pytest.raises(GatingStrategyError, match=pattern):
        gate_batch([tmp_path / "a.fcs", other], wsp, workers=1)
    # the files the workspace holds are gated with their own gates, without a warning
    (a, b) = gate_batch([tmp_path / "a.fcs", tmp_path / "b.fcs"], wsp, workers=1)
    assert a.populations["count"].tolist() == [2] and b.populations["count"].tolist() == [2]
    assert not any("FlowJo workspace" in w for w in (*a.warnings, *b.warnings))


def test_one_sample_workspace_gates_any_file_with_a_warning(
    tiny_fcs: TinyFcs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wsp = _workspace(tmp_path / "one.wsp", [tiny_fcs("a.fcs")])
    other = tiny_fcs("c.fcs")
    note = r"c\.fcs: not a sample of FlowJo workspace .*one\.wsp; gated with the gates of its only sample a\.fcs"
    (result,) = gate_batch([other], wsp, workers=1)
    assert result.populations["count"].tolist() == [2]
    assert any(re.search(note, w) for w in result.warnings), result.warnings
    assert any("only sample a.fcs" in w for w in gate_fcs(other, wsp).warnings)
    with pytest.warns(UserWarning, match=note):
        load_strategy(wsp, sample_name=other)
    args = ["flow", "gate", "--strategy", str(wsp), str(other), "--json", "--workers", "1"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["count"] == 2
    (line,) = [x for x in captured.err.splitlines() if "FlowJo workspace" in x]
    assert line.startswith("warning: ") and "only sample a.fcs" in line


def test_fcs_compensation_without_spill_warns(
    tiny_fcs: TinyFcs, fcs_comp_gml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tiny_fcs("bare.fcs")
    result = gate_fcs(bare, fcs_comp_gml)
    assert result.populations["count"].tolist() == [2]  # uncompensated, as Gating-ML 2.0 says
    (note,) = [w for w in result.warnings if "SPILL" in w]
    assert note.startswith(f"{bare}: the strategy compensates with the file's spillover")
    assert "no $SPILL or $SPILLOVER keyword; gated uncompensated" in note
    assert main(["flow", "gate", "--strategy", str(fcs_comp_gml), str(bare), "--json"]) == 0
    assert f"warning: {bare}: the strategy compensates" in capsys.readouterr().err
    # a file with its spillover (identity: same counts) has nothing to warn about
    spilled = tiny_fcs("spilled.fcs", {"spill": "1,CD3-A,1"})
    result = gate_fcs(spilled, fcs_comp_gml)
    assert result.populations["count"].tolist() == [2]
    assert not any("SPILL" in w for w in result.warnings)


def _off_by_one(tiny_fcs: TinyFcs, name: str) -> Path:
    """A file whose header and TEXT both end the data segment one byte too late (a writer bug)."""
    path = tiny_fcs(name)
    raw = path.read_bytes()
    end = int(raw[34:42])  # FCS 3.1 header: last byte of DATA, 8 characters right-aligned
    raw = raw[:34] + b"%8d" % (end + 1) + raw[42:]
    raw = raw.replace(b"$ENDDATA/%d/" % end, b"$ENDDATA/%d/" % (end + 1)) + b"\0"
    path.write_bytes(raw)
    return path


def test_offset_error_names_the_cli_flag(
    tiny_fcs: TinyFcs, fcs_comp_gml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _off_by_one(tiny_fcs, "off.fcs")
    with pytest.raises(
        FcsFileError, match=r"off\.fcs: cannot read FCS file: its data offset is off"
    ):
        gate_fcs(bad, fcs_comp_gml)
    assert main(["flow", "gate", "--strategy", str(fcs_comp_gml), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {bad}: cannot read FCS file")
    assert "--ignore-offset-error" in err and "ignore_offset_error=True" not in err


def test_flowio_warnings_are_sample_warnings(
    tiny_fcs: TinyFcs, fcs_comp_gml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _off_by_one(tiny_fcs, "off.fcs")
    result = gate_fcs(bad, fcs_comp_gml, FlowOptions(ignore_offset_error=True))
    assert result.populations["count"].tolist() == [2]
    (note,) = [w for w in result.warnings if "offset" in w]
    assert note.startswith(f"{bad}: FCS file ") and "reported incorrect data offset." in note
    args = ["flow", "gate", "--strategy", str(fcs_comp_gml), str(bad), "--ignore-offset-error"]
    assert main([*args, "--json"]) == 0
    err = capsys.readouterr().err.splitlines()
    # the total-events QC line, then one line per warning, each "warning: FILE: ...", no Python
    # source lines
    assert err[0] == f"qc: {bad}: 4 events in total"
    err = err[1:]
    assert err and all(line.startswith(f"warning: {bad}: ") for line in err), err
    assert any("reported incorrect data offset" in line for line in err)
    assert not any("UserWarning" in line or "warn(" in line for line in err)
