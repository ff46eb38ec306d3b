"""Every lab reader refuses malformed, non-finite and impossible input with exit 2 (issue 9 item 7).

Each case is a reproduction found by random-mutation fuzzing (it ended in "internal error", exit 1,
or printed an impossible value); each must now end in exit 2 with a one-line message naming the
file, the line and the field.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from clestudy.cli import main
from clestudy.immuno import (
    FcsFileError,
    ManifestError,
    MeasurementFileError,
    PlateFileError,
    QpcrSettings,
    ifn_score,
    read_manifest,
    read_plate_csv,
    read_sample,
)
from clestudy.immuno._csv import read_text_table

PLATE = "sample,gene,ct,sample_type\nHC,HPRT1,20,control\nHC,IFI27,30,control\n"
QPCR_GENES = ["--genes", "IFI27", "--reference-genes", "HPRT1"]


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "internal error" not in err[0]
    return err[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            PLATE + "P,IFI27,27,case,extra\n",
            r"line 4: 5 field\(s\), but the header on line 1 has 4",
        ),
        (PLATE + '"P,IFI27,27,case\n', r"line 4: malformed plate export line"),
        ("", r"the plate export is empty: no header line"),
        ("\n\n", r"the plate export is empty"),
        (PLATE + "P,IFI27,inf,case\n", r"line 4: ct: 'inf' is not a finite number"),
        (PLATE + "P,IFI27,-1,case\n", r"line 4: ct: '-1' is below 0"),
        (PLATE + "P,,27,case\n", r"line 4: gene is empty"),
        ("sample,gene,ct,ct,sample_type\n", r"line 1: column 'ct' appears twice"),
        ("sample,,ct\n", r"line 1: column 2 of the plate export header has no name"),
        (PLATE + "P,IFI27,2\x007,case\n", r"line 4: a NUL byte"),
    ],
)
def test_qpcr_malformed_plate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "plate.csv"
    path.write_text(text)
    assert main(["qpcr", "ifn-score", "--ct", str(path), *QPCR_GENES]) == 2
    error = _error(capsys)
    assert error.startswith(f"error: {path}")
    assert re.search(message, error), error


@pytest.mark.parametrize("ct", ["400", "1e308", "40.5"])
def test_qpcr_ct_beyond_the_cycle_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ct: str
) -> None:
    path = tmp_path / "plate.csv"
    path.write_text(PLATE + f"P,HPRT1,20,case\nP,IFI27,{ct},case\n")
    assert main(["qpcr", "ifn-score", "--ct", str(path), *QPCR_GENES, "--json"]) == 2
    assert f"line 5: ct: {float(ct):g} (sample P, gene IFI27) is above the run's 40 cycles" in (
        _error(capsys)
    )


def test_qpcr_max_cycle_is_a_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plate.csv"
    path.write_text(PLATE + "P,HPRT1,20,case\nP,IFI27,44,case\n")
    args = ["qpcr", "ifn-score", "--ct", str(path), *QPCR_GENES, "--json"]
    assert main([*args, "--max-cycle", "45"]) == 0
    # one control, so its fold change is 1: P's is 2^-((44 - 20) - (30 - 20)) = 2^-14
    assert f'"ifn_score": {2.0**-14!r}' in capsys.readouterr().out


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_qpcr_settings_refuse_non_finite(value: str) -> None:
    with pytest.raises(ValueError, match=r"qPCR settings: max_cycle = .*allowed: a finite number"):
        QpcrSettings(max_cycle=float(value))


def test_qpcr_fold_change_that_underflows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plate.csv"
    path.write_text(PLATE + "P,HPRT1,0,case\nP,IFI27,2000,case\n")
    settings = QpcrSettings(genes=("IFI27",), reference_genes=("HPRT1",), max_cycle=2000)
    with pytest.raises(PlateFileError, match=r"sample P, gene IFI27: the fold change underflows"):
        ifn_score(read_plate_csv(path), settings)


def test_qpcr_plate_api_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "plate.csv"
    path.write_text(PLATE + "P,IFI27,1_e3,case\n")
    with pytest.raises(PlateFileError, match=r"plate\.csv: line 4: ct: '1_e3' is neither"):
        read_plate_csv(path)


MANIFEST = "image,subject_id,visit_id,marker\ns1.svs,S01,week_0,CD3\n"


@pytest.mark.parametrize(
    ("measurements", "message"),
    [
        ("Image,Area µm^2,Num Positive\ns1.svs,2000000,300,4\n", r"line 2: 4 field\(s\)"),
        (
            "Image,Area µm^2,Num Positive\ns1.svs, ,300\n",
            r"manifest\.csv: line 2 \(s1\.svs\): annotated tissue area is 0",
        ),
        ("Image,Area µm^2,Num Positive\ns1.svs,2000000,inf\n", r"line 2: Num Positive: 'inf' is"),
        (
            "Image,Area µm^2,Num Positive\ns1.svs,2000000,-5\n",
            r"line 2: Num Positive: '-5' is below",
        ),
        ("Image,Area µm^2,Num Positive\ns1.svs,2000000,300.7\n", r"'300.7' is not a whole number"),
        ("Image,Area µm^2,Num Positive\ns1.svs,-2e6,3\n", r"line 2: Area µm\^2: '-2e6' is below"),
        ("Image,Area µm^2,Num Positive\ns1.svs,1e-320,3\n", r"annotated tissue area is"),
        (
            "Image,Area µm^2,Num Positive\ns1.svs,1e-300,1e300\n",
            r"positive_per_mm2 is not a finite number \(tissue area 1e-306 mm\^2\)",
        ),
        (
            "Image,Area µm^2,Num Positive,Num Detections\ns1.svs,2e6,30,20\n",
            r"line 2: Num Positive 30 is more than Num Detections 20",
        ),
        ("Image\tArea µm^2\tNum Positive\ns1.svs\t2e6\n", r"line 2: 2 field\(s\)"),
        ("", r"the measurement export is empty"),
    ],
)
def test_ihc_malformed_measurements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], measurements: str, message: str
) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(MANIFEST)
    path = tmp_path / "m.csv"
    path.write_text(measurements, encoding="utf-8")
    args = ["ihc", "import", "--measurements", str(path), "--manifest", str(manifest), "--json"]
    assert main(args) == 2
    error = _error(capsys)
    assert re.search(message, error), error
    assert "m.csv" in error or "manifest.csv: line 2" in error


def test_ihc_mucin_area_larger_than_the_tissue(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "Image,Area µm^2,Num Positive,Mucin area µm^2\ns1.svs,1000,0,1500\n", encoding="utf-8"
    )
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(MANIFEST.replace("CD3", "mucin"))
    from clestudy.immuno import ihc_densities, read_ihc_manifest, read_qupath_csv

    with pytest.raises(MeasurementFileError, match=r"Mucin area µm\^2 1500 is larger than the tis"):
        ihc_densities(read_qupath_csv(path), read_ihc_manifest(manifest))


def test_ihc_negative_zero_count_is_a_plain_zero(tmp_path: Path) -> None:
    from clestudy.immuno import ihc_densities, read_ihc_manifest, read_qupath_csv

    path = tmp_path / "m.csv"
    path.write_text("Image,Area µm^2,Num Positive\ns1.svs,-0.0,-0\ns1.svs,2e6,-0\n")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(MANIFEST)
    density = ihc_densities(read_qupath_csv(path), read_ihc_manifest(manifest))
    value = float(density["positive_per_mm2"].iloc[0])
    assert value == 0.0
    assert not np.signbit(value)


def test_manifest_with_an_unclosed_quote(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_text('image,subject_id,visit_id,marker\n"s1.svs,S01,week_0,CD3\n')
    with pytest.raises(ManifestError, match=r"manifest\.csv: line 2: malformed manifest line"):
        read_manifest(path, key="image", required=("subject_id",), files=False)


def test_table_size_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("a\n" + "1\n" * 100)
    with pytest.raises(
        ValueError, match=r"big\.csv: 202 bytes; a table is read whole, so at most 100"
    ):
        read_text_table(path, what="table", max_bytes=100)


def test_table_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,b\n\xe9,1\n")
    with pytest.raises(ValueError, match=r"latin\.csv: byte 4: not UTF-8 text"):
        read_text_table(path, what="table")


def test_fcs_with_nan_events_is_refused(tmp_path: Path) -> None:
    import flowio

    path = tmp_path / "nan.fcs"
    events = np.array([[100.0, 5.0], [np.nan, 50.0], [300.0, np.inf]])
    with path.open("wb") as handle:
        flowio.create_fcs(handle, events.ravel(), ["FSC-A", "CD3-A"])
    with pytest.raises(
        FcsFileError, match=r"nan\.fcs: event 2, channel FSC-A: nan is not a finite number \(2 such"
    ):
        read_sample(path)
