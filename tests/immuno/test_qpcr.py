"""qPCR interferon score: a hand-worked plate, the Undetermined rules and properties."""

from __future__ import annotations

import json
import math
from collections.abc import Hashable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.cli import main
from clestudy.immuno import (
    PlateFileError,
    QpcrSettings,
    ifn_score,
    ifn_zscore,
    read_plate_csv,
)

GENES = ("IFI27", "IFI44L", "ISG15")
REFS = ("HPRT1", "18S")

# Hand-worked plate (3 target genes, refs HPRT1 + 18S, 2 controls = an even number).
#   HC1: refs 25, 15 -> mean 20;      IFI27 30, IFI44L 28, ISG15 26 -> dCt 10, 8, 6
#   HC2: HPRT1 25.2/24.8 (mean 25.0, SD 0.28: no warning), 18S 15 -> mean 20;
#        IFI27 32, IFI44L 30, ISG15 26 -> dCt 12, 10, 6
#   P1 : refs 26, 16 -> mean 21;      IFI27 27.0/28.0 (mean 27.5, SD 0.71 > 0.5: warning) -> 6.5
#        IFI44L 25 / Undetermined;     ISG15 24 -> dCt 3
# FC_g(s) = 2^-dCt_s / median_controls(2^-dCt_c)   (the calibrator cancels)
#   IFI27 : median(2^-10, 2^-12) = 2.5 * 2^-12  -> P1 = 2^-6.5 / (2.5 * 2^-12) = 2^5.5 / 2.5
#           (2^-median dCt would be 2^-11, giving 2^4.5 = 22.63: the linear median differs)
#   ISG15 : controls both 2^-6 -> P1 = 2^3 = 8
#   IFI44L, drop rule: dCt 4 -> 2^-4 / (2.5 * 2^-10) = 2^6 / 2.5 = 25.6
#   IFI44L, max-cycle rule (40): mean Ct 32.5 -> dCt 11.5 -> 2^-11.5 / (2.5 * 2^-10) = 2^-1.5 / 2.5
#   score (drop)      = median(18.1019, 25.6, 8) = 2^5.5 / 2.5 = 18.1019...
#   score (max cycle) = median(18.1019, 0.1414, 8) = 8
#   HC1 score = median(4/2.5, 4/2.5, 1) = 1.6 ; HC2 score = median(1/2.5, 1/2.5, 1) = 0.4
PLATE = """sample,gene,ct,sample_type,well
HC1,HPRT1,25,control,A1
HC1,18S,15,control,A2
HC1,IFI27,30,control,A3
HC1,IFI44L,28,control,A4
HC1,ISG15,26,control,A5
HC2,HPRT1,25.2,control,B1
HC2,HPRT1,24.8,control,B2
HC2,18S,15,control,B3
HC2,IFI27,32,control,B4
HC2,IFI44L,30,control,B5
HC2,ISG15,26,control,B6
P1,HPRT1,26,case,C1
P1,18S,16,case,C2
P1,IFI27,27.0,case,C3
P1,IFI27,28.0,case,C4
P1,IFI44L,25,case,C5
P1,IFI44L,Undetermined,case,C6
P1,ISG15,24,case,C7
"""


@pytest.fixture
def plate_file(tmp_path: Path) -> Path:
    path = tmp_path / "plate.csv"
    path.write_text(PLATE)
    return path


def _settings(**kw: Any) -> QpcrSettings:
    return replace(QpcrSettings(genes=GENES, reference_genes=REFS), **kw)


def test_hand_worked_drop_rule(plate_file: Path) -> None:
    result = ifn_score(read_plate_csv(plate_file), _settings(undetermined="drop"))
    scores = result.scores.set_index("sample")
    fold = result.fold_changes.set_index(["sample", "gene"])["fold_change"]
    assert fold["P1", "IFI27"] == pytest.approx(2**5.5 / 2.5)
    assert fold["P1", "IFI27"] != pytest.approx(2**4.5)  # not 2^-(median dCt)
    assert fold["P1", "IFI44L"] == pytest.approx(25.6)
    assert fold["P1", "ISG15"] == pytest.approx(8.0)
    assert scores.loc["P1", "ifn_score"] == pytest.approx(2**5.5 / 2.5)
    assert bool(scores.loc["P1", "positive"])
    assert scores.loc["HC1", "ifn_score"] == pytest.approx(1.6)
    assert scores.loc["HC2", "ifn_score"] == pytest.approx(0.4)
    assert any("well C6" in w and "dropped" in w for w in result.warnings)
    assert any("P1, gene IFI27" in w and "SD 0.707" in w for w in result.warnings)
    assert not any("HC2, gene HPRT1" in w for w in result.warnings)


def test_hand_worked_max_cycle_rule(plate_file: Path) -> None:
    result = ifn_score(read_plate_csv(plate_file), _settings())
    fold = result.fold_changes.set_index(["sample", "gene"])["fold_change"]
    assert fold["P1", "IFI44L"] == pytest.approx(2**-1.5 / 2.5)
    assert result.scores.set_index("sample").loc["P1", "ifn_score"] == pytest.approx(8.0)
    assert any("set to the maximum cycle 40" in w for w in result.warnings)


def test_cli_json_contract(plate_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["qpcr", "ifn-score", "--ct", str(plate_file), "--genes", ",".join(GENES), "--json"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert [r["sample"] for r in out] == ["P1"]
    assert set(out[0]) == {"sample", "ifn_score", "positive", "fold_changes"}
    assert out[0]["ifn_score"] == pytest.approx(8.0)
    assert out[0]["positive"] is True
    assert out[0]["fold_changes"]["ISG15"] == pytest.approx(8.0)
    assert "warning:" in captured.err


def test_cli_default_six_genes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # every target gene 3 cycles earlier than in the single control: fold change 2^3 = 8
    rows = ["sample,gene,ct,sample_type"]
    for sample, kind, shift in [("HC", "control", 0.0), ("P", "case", -3.0)]:
        rows += [f"{sample},HPRT1,25,{kind}", f"{sample},18S,15,{kind}"]
        rows += [f"{sample},{g},{30 + shift},{kind}" for g in QpcrSettings().genes]
    path = tmp_path / "six.csv"
    path.write_text("\n".join(rows) + "\n")
    assert main(["qpcr", "ifn-score", "--ct", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["ifn_score"] == pytest.approx(8.0)
    assert sorted(out[0]["fold_changes"]) == sorted(QpcrSettings().genes)


def test_controls_from_other_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.csv"
    path.write_text(PLATE.replace("sample_type", "group").replace(",control,", ",HC,"))
    args = ["qpcr", "ifn-score", "--ct", str(path), "--genes", ",".join(GENES)]
    args += ["--controls-from-column", "group", "--control-value", "HC", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)[0]["ifn_score"] == pytest.approx(8.0)


def test_bad_ct_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("sample,gene,ct,sample_type\nHC1,HPRT1,abc,control\n")
    with pytest.raises(PlateFileError, match=r"bad\.csv: line 2: ct: 'abc' is neither"):
        read_plate_csv(path)


def test_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("sample,gene,ct\nHC1,HPRT1,20\n")
    with pytest.raises(PlateFileError, match=r"bad\.csv: missing column\(s\) sample_type"):
        read_plate_csv(path)


def test_no_control(plate_file: Path) -> None:
    plate = read_plate_csv(plate_file)
    plate["sample_type"] = "case"
    with pytest.raises(PlateFileError, match="no healthy control on the plate"):
        ifn_score(plate, _settings())


def test_gene_missing(plate_file: Path) -> None:
    plate = read_plate_csv(plate_file)
    with pytest.raises(PlateFileError, match=r"sample HC1: gene RSAD2: no usable Ct"):
        ifn_score(plate, _settings(genes=(*GENES, "RSAD2")))


def test_drop_all_replicates_is_an_error(plate_file: Path) -> None:
    plate = read_plate_csv(plate_file)
    plate = plate[~((plate["sample"] == "P1") & (plate["well"] == "C5"))]
    with pytest.raises(PlateFileError, match=r"sample P1: gene IFI44L: no usable Ct"):
        ifn_score(plate, _settings(undetermined="drop"))


def test_two_sample_types(plate_file: Path) -> None:
    plate = read_plate_csv(plate_file)
    plate.loc[plate.index[0], "sample_type"] = "case"
    with pytest.raises(PlateFileError, match=r"sample HC1: sample type must be one value"):
        ifn_score(plate, _settings())


def test_cli_bad_undetermined_rule(plate_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qpcr", "ifn-score", "--ct", str(plate_file), "--undetermined", "x"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --undetermined: 'x' must be 'max_cycle' or 'drop'"
    )


def _plate(control_cts: list[float], case_ct: float, shift: float) -> pd.DataFrame:
    rows = []
    for i, ct in enumerate(control_cts):
        rows += [(f"C{i}", "control", "IFI27", ct), (f"C{i}", "control", "HPRT1", 20.0)]
    rows += [("P", "case", "IFI27", case_ct + shift), ("P", "case", "HPRT1", 20.0 + shift)]
    plate = pd.DataFrame(rows, columns=["sample", "sample_type", "gene", "ct"])
    plate["undetermined"] = False
    return plate


cts = st.floats(min_value=15, max_value=38, allow_nan=False)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(cts, min_size=1, max_size=6), cts, st.floats(-3, 3), st.floats(0, 4))
def test_properties(controls: list[float], case: float, shift: float, gain: float) -> None:
    one = QpcrSettings(genes=("IFI27",), reference_genes=("HPRT1",))

    def patient(plate: pd.DataFrame) -> dict[Hashable, Any]:
        return ifn_score(plate, one).scores.set_index("sample").to_dict(orient="index")["P"]

    base = patient(_plate(controls, case, 0.0))
    # shifting every Ct of a sample (loading differences) leaves its score unchanged
    moved = patient(_plate(controls, case, shift))
    assert moved["ifn_score"] == pytest.approx(base["ifn_score"], rel=1e-9)
    # a gene expressed `gain` cycles earlier has a 2^gain-fold higher score
    up = patient(_plate(controls, case - gain, 0.0))
    assert up["ifn_score"] == pytest.approx(base["ifn_score"] * 2**gain)
    assert bool(base["positive"]) == (base["ifn_score"] > 2.466)
    assert math.isfinite(base["ifn_score"]) and base["ifn_score"] > 0


def test_zscore_hand_worked() -> None:
    # controls 1, 2, 3 (mean 2, SD 1); patient 5 -> z = 3.
    # leave-one-out control scores: c1 vs (2,3): (1-2.5)/0.7071 = -2.1213; c2 vs (1,3): 0;
    # c3: +2.1213 -> mean 0, SD 2.1213 -> threshold 0 + 2 * 2.1213 = 4.2426
    x = pd.DataFrame({"IFI27": [1.0, 2.0, 3.0, 5.0]}, index=["c1", "c2", "c3", "p"])
    out = ifn_zscore(x, ["c1", "c2", "c3"], genes=["IFI27"]).set_index("sample")
    assert out.loc["p", "ifn_zscore"] == pytest.approx(3.0)
    assert out.loc["c1", "ifn_zscore"] == pytest.approx(-1.5 / math.sqrt(0.5))
    assert out.loc["p", "threshold"] == pytest.approx(2 * 1.5 / math.sqrt(0.5))
    assert not out.loc["p", "positive"]


def test_zscore_needs_three_controls() -> None:
    x = pd.DataFrame({"IFI27": [1.0, 2.0, 5.0]}, index=["c1", "c2", "p"])
    with pytest.raises(PlateFileError, match="2 healthy control"):
        ifn_zscore(x, ["c1", "c2"], genes=["IFI27"])
