"""Skin IHC: QuPath annotation and detection exports to densities per mm^2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.cli import main
from clestudy.immuno import (
    ManifestError,
    MeasurementFileError,
    ihc_densities,
    ihc_wide,
    read_ihc_manifest,
    read_manifest,
    read_qupath_csv,
)

# QuPath 0.5 annotation export (Measure > Export measurements > Annotations), trimmed columns.
# CD3 slide: two tissue annotations, 1.5 + 1.0 mm^2, 300 + 100 positive cells -> 400 / 2.5 = 160
# per mm^2 (QuPath's own per-annotation densities: 300 / 1.5 = 200 and 100 / 1.0 = 100).
# Mucin slide: 4.0 mm^2 tissue, pixel classifier "Mucin" area 0.6 mm^2 -> fraction 0.15.
ANNOTATIONS = (
    "Image\tName\tClass\tParent\tROI\tNum Detections\tNum Positive\tNum Positive per mm^2"
    "\tArea µm^2\tMucin: Mucin area µm^2\n"
    "S01_d0_CD3.svs\tTissue 1\tTissue\tRoot object (Image)\tPolygon\t900\t300\t200\t1500000\t\n"
    "S01_d0_CD3.svs\tTissue 2\tTissue\tRoot object (Image)\tPolygon\t400\t100\t100\t1000000\t\n"
    "S01_d0_mucin.svs\tTissue 1\tTissue\tRoot object (Image)\tPolygon\t0\t0\t0\t4000000\t600000\n"
    "S01_d0_CD8.svs\tTissue 1\tTissue\tRoot object (Image)\tPolygon\t\t\t\t500000\t\n"
)
# detection export of the CD8 slide: 3 positive, 2 negative cells in 0.5 mm^2 -> 6 per mm^2
DETECTIONS = (
    "Image,Name,Class,Parent,ROI,Centroid X µm,Centroid Y µm\n"
    "S01_d0_CD8.svs,,Positive,Tissue 1,Polygon,1,1\n"
    "S01_d0_CD8.svs,,Positive,Tissue 1,Polygon,2,1\n"
    "S01_d0_CD8.svs,,CD8: Positive,Tissue 1,Polygon,3,1\n"
    "S01_d0_CD8.svs,,Negative,Tissue 1,Polygon,4,1\n"
    "S01_d0_CD8.svs,,CD8: Negative,Tissue 1,Polygon,5,1\n"
)
MANIFEST = (
    "image,subject_id,visit_id,marker\n"
    "S01_d0_CD3.svs,S01,week_0,CD3\n"
    "S01_d0_mucin.svs,S01,week_0,mucin\n"
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in [
        ("annotations.tsv", ANNOTATIONS),
        ("detections.csv", DETECTIONS),
        ("manifest.csv", MANIFEST),
    ]:
        out[name] = tmp_path / name
        out[name].write_text(text, encoding="utf-8")
    return out


def _manifest(path: Path) -> pd.DataFrame:
    return read_ihc_manifest(path)


def test_annotation_export(files: dict[str, Path]) -> None:
    dens = ihc_densities(
        read_qupath_csv(files["annotations.tsv"]), _manifest(files["manifest.csv"])
    )
    by_marker = dens.set_index("marker")
    assert by_marker.loc["CD3", "positive_per_mm2"] == pytest.approx(160.0)
    assert by_marker.loc["CD3", "area_mm2"] == pytest.approx(2.5)
    assert by_marker.loc["mucin", "stained_area_fraction"] == pytest.approx(0.15)
    wide = ihc_wide(dens)
    assert wide.to_dict("records") == [
        {
            "subject_id": "S01",
            "visit_id": "week_0",
            "cd3_per_mm2": pytest.approx(160.0),
            "mucin_area_fraction": pytest.approx(0.15),
        }
    ]


def test_single_annotation_matches_qupath_density(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text(
        "Image,Num Positive,Num Positive per mm^2,Area µm^2\nx.svs,300,200,1500000\n",
        encoding="utf-8",
    )
    man = tmp_path / "m.csv"
    man.write_text("image,subject_id,visit_id,marker\nx.svs,S01,week_0,CD4\n")
    dens = ihc_densities(read_qupath_csv(path), _manifest(man))
    assert dens["positive_per_mm2"].iloc[0] == pytest.approx(200.0)  # QuPath's own column


def test_detection_export_needs_annotations(files: dict[str, Path], tmp_path: Path) -> None:
    man = tmp_path / "cd8.csv"
    man.write_text("image,subject_id,visit_id,marker\nS01_d0_CD8.svs,S01,week_0,CD8\n")
    det = read_qupath_csv(files["detections.csv"])
    with pytest.raises(MeasurementFileError, match=r"detections\.csv: a detection export has no"):
        ihc_densities(det, _manifest(man))
    dens = ihc_densities(det, _manifest(man), annotations=read_qupath_csv(files["annotations.tsv"]))
    assert dens["positive_cells"].iloc[0] == 3
    assert dens["positive_per_mm2"].iloc[0] == pytest.approx(6.0)


def test_errors(files: dict[str, Path], tmp_path: Path) -> None:
    ann = read_qupath_csv(files["annotations.tsv"])
    man = tmp_path / "m.csv"
    man.write_text("image,subject_id,visit_id,marker\nother.svs,S01,week_0,CD3\n")
    with pytest.raises(MeasurementFileError, match=r"line 2 \(other\.svs\): image not found in"):
        ihc_densities(ann, _manifest(man))
    man.write_text("image,subject_id,visit_id,marker\nS01_d0_CD3.svs,S01,week_0,CD20\n")
    with pytest.raises(MeasurementFileError, match=r"marker 'CD20' is not one of CD3, CD4"):
        ihc_densities(ann, _manifest(man))
    px = tmp_path / "px.csv"
    px.write_text("Image,Num Positive,Area px^2\nS01_d0_CD3.svs,3,100\n")
    man.write_text("image,subject_id,visit_id,marker\nS01_d0_CD3.svs,S01,week_0,CD3\n")
    with pytest.raises(
        MeasurementFileError, match=r"px\.csv: no 'Area µm\^2' \(calibrated image\)"
    ):
        ihc_densities(read_qupath_csv(px), _manifest(man))
    notqp = tmp_path / "n.csv"
    notqp.write_text("a,b\n1,2\n")
    with pytest.raises(MeasurementFileError, match=r"n\.csv: no 'Image' column"):
        read_qupath_csv(notqp)


def test_cli(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["ihc", "import", "--measurements", str(files["annotations.tsv"])]
    assert main([*args, "--manifest", str(files["manifest.csv"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["marker"] for r in out] == ["CD3", "mucin"]
    assert out[0]["positive_per_mm2"] == pytest.approx(160.0)
    assert out[1]["positive_per_mm2"] is None


def test_cli_unknown_visit(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    man = files["manifest.csv"]
    man.write_text(MANIFEST.replace("week_0", "day_0", 1))
    args = ["ihc", "import", "--measurements", str(files["annotations.tsv"]), "--manifest"]
    assert main([*args, str(man), "--study", "lenalidomide-cle-open-label"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "manifest.csv: line 2 (S01_d0_CD3.svs): visit_id" in err
    with pytest.raises(ManifestError, match="visit_id 'day_0' is not in the study"):
        read_manifest(man, key="image", files=False, required=("image",), known_visits={"week_0"})


@settings(derandomize=True, max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5000), st.floats(1e4, 1e8, allow_nan=False)),
        min_size=1,
        max_size=5,
    ),
    st.floats(0.1, 10),
)
def test_density_properties(annotations: list[tuple[int, float]], factor: float) -> None:
    table = pd.DataFrame(
        {
            "Image": "x.svs",
            "Num Positive": [n for n, _ in annotations],
            "Area µm^2": [a for _, a in annotations],
        }
    )
    man = pd.DataFrame(
        {"image": ["x.svs"], "subject_id": ["S01"], "visit_id": ["week_0"], "marker": ["CD3"]}
    )
    density = float(ihc_densities(table, man)["positive_per_mm2"].iloc[0])
    total_mm2 = sum(a for _, a in annotations) / 1e6
    assert density == pytest.approx(sum(n for n, _ in annotations) / total_mm2)
    assert density >= 0
    # the same cells over `factor` times the tissue area: density divided by `factor`
    wider = table.assign(**{"Area µm^2": table["Area µm^2"] * factor})
    assert float(ihc_densities(wider, man)["positive_per_mm2"].iloc[0]) == pytest.approx(
        density / factor
    )


def test_cli_stores_with_db(files: dict[str, Path], tmp_path: Path) -> None:
    from clestudy.store import open_store

    study = "lenalidomide-cle-open-label"
    url = f"sqlite:///{tmp_path / 'study.db'}"
    with open_store(url, study) as store:
        store.add_subject("S01", arm="lenalidomide", site="site01", actor="coordinator")
    args = ["ihc", "import", "--measurements", str(files["annotations.tsv"]), "--manifest"]
    assert main([*args, str(files["manifest.csv"]), "--db", url]) == 0
    with open_store(url, study) as store:
        (record,) = store.records(form_id="immune_profile")
    assert (record.subject_id, record.visit_id) == ("S01", "week_0")
    assert float(str(record.values["skin_cd3_per_mm2"])) == pytest.approx(160.0)
    assert float(str(record.values["skin_mucin_area_fraction"])) == pytest.approx(0.15)


def test_image_missing_from_the_detection_export(files: dict[str, Path], tmp_path: Path) -> None:
    ann = read_qupath_csv(files["annotations.tsv"])
    det = read_qupath_csv(files["detections.csv"])
    man = tmp_path / "m.csv"
    # the CD3 slide has tissue annotations but not one detection row: not counted, not 0 cells
    man.write_text("image,subject_id,visit_id,marker\nS01_d0_CD3.svs,S01,week_0,CD3\n")
    with pytest.raises(
        MeasurementFileError,
        match=r"m\.csv: line 2 \(S01_d0_CD3\.svs\): image has tissue annotations but no rows in "
        r"the detection export .*detections\.csv",
    ):
        ihc_densities(det, _manifest(man), annotations=ann)
    # a true zero: the slide's detections are all negative
    negative = tmp_path / "negative.csv"
    negative.write_text(
        DETECTIONS.replace("CD8: Positive", "Negative").replace("Positive,", "Negative,")
    )
    man.write_text("image,subject_id,visit_id,marker\nS01_d0_CD8.svs,S01,week_0,CD8\n")
    dens = ihc_densities(read_qupath_csv(negative), _manifest(man), annotations=ann)
    assert dens["positive_cells"].tolist() == [0] and dens["positive_per_mm2"].tolist() == [0.0]


def test_annotation_without_num_positive(files: dict[str, Path], tmp_path: Path) -> None:
    # the CD8 slide's annotation row has no Num Positive (detection was exported separately)
    man = tmp_path / "m.csv"
    man.write_text("image,subject_id,visit_id,marker\nS01_d0_CD8.svs,S01,week_0,CD8\n")
    with pytest.raises(
        MeasurementFileError,
        match=r"line 2 \(S01_d0_CD8\.svs\): image has no 'Num Positive' value in .*annotations\.tsv",
    ):
        ihc_densities(read_qupath_csv(files["annotations.tsv"]), _manifest(man))


#: The 0-3 scores a pathologist enters by hand (issue 5 item 3); QuPath densities are imported.
SCORES = (
    "skin_cd3_score",
    "skin_cd4_score",
    "skin_cd8_score",
    "skin_cxcl10_score",
    "skin_mucin_score",
)


def test_semi_quantitative_scores_are_saved_on_biopsy_visits(tmp_path: Path) -> None:
    from clestudy.protocol import load_protocol
    from clestudy.store import open_store

    protocol = load_protocol("lenalidomide-cle-open-label")
    assert protocol.version == "1.3"
    form = next(f for f in protocol.forms if f.id == "immune_profile")
    fields = {f.id: f for f in form.fields}
    for name in SCORES:
        assert (fields[name].type, fields[name].min, fields[name].max) == ("integer", 0, 3)
        assert "0 none, 1 mild, 2 moderate, 3 marked" in fields[name].label
    # the form (and so the scores) is collected where the biopsy is taken
    assert [v.id for v in protocol.visits if "immune_profile" in v.forms] == ["week_0", "week_12"]
    url = f"sqlite:///{tmp_path / 'study.db'}"
    with open_store(url, protocol) as store:
        store.add_subject("S01", arm="lenalidomide", site="site01", actor="coordinator")
        values = {"skin_cd3_score": 3, "skin_cd8_score": "2", "skin_mucin_score": 0}
        saved = store.save_record("S01", "week_12", "immune_profile", values, actor="pathologist")
    assert saved.values == {"skin_cd3_score": 3, "skin_cd8_score": 2, "skin_mucin_score": 0}


@pytest.mark.parametrize("value", [4, -1])
def test_semi_quantitative_score_out_of_range(tmp_path: Path, value: int) -> None:
    from clestudy.errors import RecordValidationError
    from clestudy.store import open_store

    url = f"sqlite:///{tmp_path / 'study.db'}"
    with open_store(url, "lenalidomide-cle-open-label") as store:
        store.add_subject("S01", arm="lenalidomide", site="site01", actor="coordinator")
        with pytest.raises(
            RecordValidationError,
            match=rf"S01/week_0/immune_profile: field 'skin_cxcl10_score': {value} is out of "
            r"range; allowed 0 to 3$",
        ):
            store.save_record(
                "S01", "week_0", "immune_profile", {"skin_cxcl10_score": value}, actor="pathologist"
            )
        assert list(store.records(form_id="immune_profile")) == []
