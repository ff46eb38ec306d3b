"""Bad input is a one-line error naming the file; manifests; templates; storing with --db."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from clestudy.cli import main
from clestudy.immuno import (
    TEMPLATE_STRATEGIES,
    FcsFileError,
    FlowOptions,
    GatingStrategyError,
    ManifestError,
    gate_batch,
    gate_fcs,
    load_strategy,
    read_manifest,
    strategy_channels,
    template_path,
)

if TYPE_CHECKING:
    from clestudy.store import RecordState

STUDY = "lenalidomide-cle-open-label"


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_truncated_fcs(gatingml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "truncated.fcs"
    bad.write_bytes((gatingml / "data1.fcs").read_bytes()[:5000])
    gml = gatingml / "gml" / "gml_rect1_gate.xml"
    with pytest.raises(FcsFileError, match=r"truncated\.fcs: cannot read FCS file: "):
        gate_fcs(bad, gml)
    assert main(["flow", "gate", "--strategy", str(gml), str(bad), "--json"]) == 2
    assert "truncated.fcs: cannot read FCS file" in _one_line_error(capsys)


def test_not_fcs_at_all(gatingml: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.fcs"
    bad.write_text("hello")
    with pytest.raises(FcsFileError, match=r"notes\.fcs: cannot read FCS file"):
        gate_fcs(bad, gatingml / "gml" / "gml_rect1_gate.xml")


def test_channel_missing_from_file(
    gatingml: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    one_gate_gml: Callable[..., str],
) -> None:
    gml = tmp_path / "pdc.xml"
    gml.write_text(one_gate_gml("CD123_pos", "CD123", "uncompensated", 10))
    assert strategy_channels(load_strategy(gml)) == {"CD123": "CD123_pos"}
    data = gatingml / "data1.fcs"
    with pytest.raises(
        FcsFileError, match=r"data1\.fcs: channel 'CD123' needed by gate CD123_pos is not in the"
    ):
        gate_fcs(data, gml)
    assert main(["flow", "gate", "--strategy", str(gml), str(data)]) == 2
    assert "data1.fcs: channel 'CD123' needed by gate CD123_pos" in _one_line_error(capsys)


def test_median_channel_missing(gatingml: Path) -> None:
    with pytest.raises(FcsFileError, match=r"data1\.fcs: median channel 'CD14' is not in the file"):
        gate_fcs(
            gatingml / "data1.fcs",
            gatingml / "gml" / "gml_rect1_gate.xml",
            FlowOptions(median_channels=("CD14",)),
        )


def test_unknown_reference_gate(gatingml: Path) -> None:
    with pytest.raises(GatingStrategyError, match=r"reference gate 'Live' is not a gate of the"):
        gate_fcs(
            gatingml / "data1.fcs",
            gatingml / "gml" / "gml_rect1_gate.xml",
            FlowOptions(reference_gate="Live"),
        )


def test_strategy_missing_or_broken(gatingml: Path, tmp_path: Path) -> None:
    with pytest.raises(GatingStrategyError, match=r"nope\.xml: no such gating strategy file"):
        load_strategy(tmp_path / "nope.xml")
    broken = tmp_path / "broken.xml"
    broken.write_text("<gating:Gating-ML")
    with pytest.raises(GatingStrategyError, match=r"broken\.xml: not a usable Gating-ML 2\.0"):
        gate_fcs(gatingml / "data1.fcs", broken)


def test_batch_stops_at_first_bad_file(gatingml: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cut.fcs"
    bad.write_bytes((gatingml / "data1.fcs").read_bytes()[:3000])
    files = [gatingml / "data1.fcs", bad, gatingml / "data1.fcs"]
    with pytest.raises(FcsFileError, match=r"cut\.fcs: cannot read FCS file"):
        gate_batch(files, gatingml / "gml" / "gml_rect1_gate.xml", workers=2)


def test_min_events_and_absolute_counts(gatingml: Path) -> None:
    from clestudy.immuno import BeadCount

    result = gate_fcs(
        gatingml / "data1.fcs",
        gatingml / "gml" / "gml_all_gates.xml",
        FlowOptions(min_events=200, bead_gate="Range1"),
        beads=BeadCount(beads_per_test=50000, volume_ul=50),
    )
    table = result.populations.set_index("gate")
    # And2 holds 12 events (ISAC truth): below 200 -> warning; Range1 (440 events) is not
    assert any("gate And2: 12 events, fewer than the minimum 200" in w for w in result.warnings)
    assert not any("gate Range1:" in w for w in result.warnings)
    # BD Trucount: cells/uL = cells / beads * beads per test / volume = 1582 / 440 * 1000
    assert table.loc["Polygon1", "absolute_count_per_ul"] == pytest.approx(1582 / 440 * 1000)


def _manifest(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "manifest.csv"
    path.write_text("file,subject_id,visit_id,sample_date\n" + "\n".join(rows) + "\n")
    return path


def _links(gatingml: Path, tmp_path: Path, names: list[str]) -> None:
    for name in names:  # links, not copies, of the shared fixture
        (tmp_path / name).symlink_to(gatingml / "data1.fcs")


def test_manifest_checks(gatingml: Path, tmp_path: Path) -> None:
    _links(gatingml, tmp_path, ["a.fcs", "b.fcs"])
    ok = read_manifest(
        _manifest(tmp_path, ["a.fcs,S01,week_0,2026-01-05", "b.fcs,S01,week_12,2026-03-30"]),
        known_subjects={"S01"},
        known_visits={"week_0", "week_12"},
    )
    assert ok["path"].tolist() == [str(tmp_path / "a.fcs"), str(tmp_path / "b.fcs")]
    cases = {
        r"line 2 \(a\.fcs\): subject_id 'S99' is not in the study \(known: S01\)": [
            "a.fcs,S99,week_0,2026-01-05"
        ],
        r"line 2 \(a\.fcs\): visit_id 'week_99' is not in the study": [
            "a.fcs,S01,week_99,2026-01-05"
        ],
        r"line 2 \(gone\.fcs\): file .*gone\.fcs does not exist": [
            "gone.fcs,S01,week_0,2026-01-05"
        ],
        r"line 3 \(b\.fcs\): duplicated sample: subject_id, visit_id S01 / week_0 already on line 2": [
            "a.fcs,S01,week_0,2026-01-05",
            "b.fcs,S01,week_0,2026-01-06",
        ],
        r"line 3 \(a\.fcs\): file is listed twice \(first on line 2\)": [
            "a.fcs,S01,week_0,2026-01-05",
            "a.fcs,S01,week_12,2026-01-06",
        ],
        r"line 2 \(a\.fcs\): sample_date '5/1/26' is not a date": ["a.fcs,S01,week_0,5/1/26"],
        r"line 2: visit_id is empty": ["a.fcs,S01,,2026-01-05"],
    }
    for pattern, rows in cases.items():
        with pytest.raises(ManifestError, match=r"manifest\.csv: " + pattern):
            read_manifest(
                _manifest(tmp_path, rows),
                known_subjects={"S01"},
                known_visits={"week_0", "week_12"},
            )


def test_templates_load_and_name_their_channels() -> None:
    for name in TEMPLATE_STRATEGIES:
        strategy = load_strategy(template_path(name))
        assert strategy.get_gate_ids(), name
    assert set(strategy_channels(load_strategy(template_path("pdc")))) == {
        "Lin",
        "HLA-DR",
        "CD11c",
        "CD123",
        "BDCA-2",
    }
    with pytest.raises(GatingStrategyError, match=r"template 'nk' is unknown; choose one of"):
        template_path("nk")


def test_template_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "template", "treg"]) == 0
    out = capsys.readouterr().out
    assert 'gating:id="Treg"' in out and "PLACEHOLDERS" in out


def _records(url: str) -> list[RecordState]:
    from clestudy.store import open_store

    with open_store(url, STUDY) as store:
        return list(store.records(form_id="immune_profile"))


def test_db_stores_flow_and_merges_qpcr(
    gatingml: Path,
    tmp_path: Path,
    db: str,
    capsys: pytest.CaptureFixture[str],
    one_gene_plate: tuple[Path, list[str]],
) -> None:
    _links(gatingml, tmp_path, ["pre.fcs", "post.fcs"])
    manifest = _manifest(
        tmp_path, ["pre.fcs,S01,week_0,2026-01-05", "post.fcs,S01,week_12,2026-03-30"]
    )
    gml = gatingml / "gml" / "gml_all_gates.xml"
    args = ["flow", "gate", "--strategy", str(gml), "--manifest", str(manifest), "--db", db]
    args += ["--reference", "Range2", "--field", "treg_pct_cd4=Polygon1:percent_reference"]
    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert {(r["subject_id"], r["visit_id"]) for r in out} == {
        ("S01", "week_0"),
        ("S01", "week_12"),
    }
    records = {r.visit_id: r for r in _records(db)}
    # Polygon1 1582 events of Range2's 4710 (ISAC truth counts)
    assert float(str(records["week_0"].values["treg_pct_cd4"])) == pytest.approx(100 * 1582 / 4710)
    assert str(records["week_0"].values["sample_date"]) == "2026-01-05"
    # qPCR of the same visit merges into the same record (a new version, audited)
    _, qargs = one_gene_plate
    assert main([*qargs, "--db", db]) == 0
    records = {r.visit_id: r for r in _records(db)}
    assert float(str(records["week_0"].values["ifn_score"])) == pytest.approx(8.0)
    assert float(str(records["week_0"].values["treg_pct_cd4"])) == pytest.approx(100 * 1582 / 4710)
    assert records["week_0"].version == 2


def test_db_unknown_subject_or_bad_file_stores_nothing(
    gatingml: Path, tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _links(gatingml, tmp_path, ["pre.fcs"])
    (tmp_path / "cut.fcs").write_bytes((gatingml / "data1.fcs").read_bytes()[:3000])
    gml = str(gatingml / "gml" / "gml_rect1_gate.xml")
    field = ["--field", "treg_pct_cd4=Rectangle1:percent_parent"]
    manifest = _manifest(tmp_path, ["pre.fcs,S02,week_0,2026-01-05"])
    args = ["flow", "gate", "--strategy", gml, "--manifest", str(manifest), "--db", db, *field]
    assert main(args) == 2
    line = _one_line_error(capsys)
    assert "manifest.csv: line 2 (pre.fcs): subject_id 'S02' is not in the study" in line
    manifest = _manifest(
        tmp_path, ["pre.fcs,S01,week_0,2026-01-05", "cut.fcs,S01,week_12,2026-03-30"]
    )
    args = ["flow", "gate", "--strategy", gml, "--manifest", str(manifest), "--db", db, *field]
    assert main(args) == 2
    assert "cut.fcs: cannot read FCS file" in _one_line_error(capsys)
    assert _records(db) == []


def test_bead_columns_and_field_map(tmp_path: Path) -> None:
    from clestudy.errors import InputError
    from clestudy.immuno import beads_from_manifest, parse_field_map

    path = tmp_path / "m.csv"
    path.write_text(
        "file,subject_id,visit_id,sample_date,beads_per_test,volume_ul\n"
        "a.fcs,S01,week_0,2026-01-05,50000,50\n"
        "b.fcs,S01,week_12,2026-03-30,,\n"
        "c.fcs,S02,week_0,2026-01-05,lots,50\n"
    )
    table = read_manifest(path, files=False)
    with pytest.raises(
        ManifestError, match=r"m\.csv: line 4: beads_per_test 'lots' and volume_ul '50' must"
    ):
        beads_from_manifest(table, path)
    beads = beads_from_manifest(table.iloc[:2], path)
    assert beads[0] is not None and beads[0].beads_per_test == 50000 and beads[1] is None
    with pytest.raises(InputError, match=r"--field 'treg': expected FIELD=GATE:METRIC"):
        parse_field_map(["treg"])
