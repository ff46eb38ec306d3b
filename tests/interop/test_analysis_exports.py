"""Analysis exports re-read with pandas and pyreadstat and compared value by value with the store."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest

from clestudy.errors import InputError
from clestudy.interop import export_analysis, file_sha256
from clestudy.interop._analysis import stata_name
from clestudy.protocol import FieldSpec
from clestudy.store import Store, audit_events, endpoint_table, tidy_table

KEYS = ["subject", "visit", "instance"]


def _read(path: Path) -> tuple[pd.DataFrame, Any]:
    if path.suffix == ".sav":
        return pyreadstat.read_sav(str(path))
    if path.suffix == ".dta":
        return pyreadstat.read_dta(str(path))
    if path.suffix == ".parquet":
        return pd.read_parquet(path), None
    return pd.read_csv(path, dtype={"subject": str}, keep_default_na=True), None


def _missing(cell: Any) -> bool:
    return cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell is pd.NA


def _expected(spec: FieldSpec, value: Any) -> dict[str, Any]:
    """The cells a stored value should become, by column name."""
    if spec.type == "multiple_choice":
        return {f"{spec.id}___{c.code.lower()}": int(c.code in value) for c in spec.choices}
    if spec.type == "boolean":
        return {spec.id: int(value)}
    if spec.type == "decimal":
        return {spec.id: float(Decimal(value))}
    if spec.type == "date":
        return {spec.id: dt.date.fromisoformat(value)}
    return {spec.id: value}


def _same(cell: Any, want: Any) -> bool:
    if isinstance(want, dt.date):
        if isinstance(cell, str):
            return cell == want.isoformat()
        return pd.Timestamp(cell).date() == want
    if isinstance(want, bool | int | float) and not isinstance(want, str):
        return float(cell) == float(want)
    if isinstance(want, str) and not isinstance(cell, str):
        return str(int(cell)) == want  # an integer-coded choice read back as a number
    return bool(cell == want)


def _check_wide(store: Store, folder: Path, ext: str) -> int:
    """Every stored value is in its form's file, in its row and column; returns cells checked."""
    checked = 0
    for form in store.protocol.forms:
        frame, _ = _read(folder / f"{form.id}.{ext}")
        if ext == "dta":
            frame = frame.rename(columns={stata_name(c): c for c in _all_names(form)})
        records = store.records(form_id=form.id)
        assert len(frame) == len(records), form.id
        rows = frame.set_index(KEYS).to_dict(orient="index")
        for record in records:
            row = rows[(record.subject_id, record.visit_id, record.instance)]
            for spec in form.fields:
                value = record.values.get(spec.id)
                if value is None:
                    names = [
                        n for n in frame.columns if n == spec.id or n.startswith(f"{spec.id}___")
                    ]
                    assert all(_missing(row[n]) or row[n] == "" for n in names), (
                        record.key,
                        spec.id,
                    )
                    continue
                for name, want in _expected(spec, value).items():
                    assert _same(row[name], want), (record.key, name, row[name], want)
                    checked += 1
    return checked


def _all_names(form: Any) -> list[str]:
    names = []
    for spec in form.fields:
        if spec.type == "multiple_choice":
            names += [f"{spec.id}___{c.code.lower()}" for c in spec.choices]
        else:
            names.append(spec.id)
    return names


@pytest.mark.parametrize("fmt", ["wide-csv", "parquet", "sav", "dta"])
def test_wide_exports_hold_every_stored_value(demo_store: Store, tmp_path: Path, fmt: str) -> None:
    result = export_analysis(demo_store, fmt, tmp_path / "out")
    ext = {"wide-csv": "csv"}.get(fmt, fmt)
    assert _check_wide(demo_store, tmp_path / "out", ext) > 50
    assert (tmp_path / "out" / "manifest.json") == result.manifest


def test_tidy_csv_matches_the_store(demo_store: Store, tmp_path: Path) -> None:
    export_analysis(demo_store, "csv", tmp_path)
    read = pd.read_csv(tmp_path / "tidy.csv", dtype=str, keep_default_na=False)
    want = tidy_table(demo_store).astype(str).replace({"None": "", "nan": ""})
    assert len(read) == len(want) > 100
    assert sorted(map(tuple, read.to_numpy().tolist())) == sorted(
        map(tuple, want.to_numpy().tolist())
    )


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_labelled_files_carry_variable_and_value_labels(
    demo_store: Store, tmp_path: Path, fmt: str
) -> None:
    export_analysis(demo_store, fmt, tmp_path)
    labelled = 0
    for form in demo_store.protocol.forms:
        _, meta = _read(tmp_path / f"{form.id}.{fmt}")
        labels = meta.column_names_to_labels
        for spec in form.fields:
            name = stata_name(spec.id) if fmt == "dta" else spec.id
            if spec.type == "multiple_choice":
                name = stata_name(f"{spec.id}___{spec.choices[0].code.lower()}")
                assert labels[name].startswith(spec.label[:40])
                continue
            assert labels[name] == spec.label[: 80 if fmt == "dta" else None].rstrip()
            if spec.type == "boolean":
                assert meta.variable_value_labels[name] == {0: "No", 1: "Yes"}
                labelled += 1
            elif spec.type == "single_choice" and all(c.code.isdigit() for c in spec.choices):
                want = {int(c.code): c.label for c in spec.choices}
                assert meta.variable_value_labels[name] == want
                labelled += 1
    assert labelled > 0


@pytest.mark.parametrize("fmt", ["csv", "parquet", "sav", "dta"])
def test_endpoint_table_matches_the_store(demo_store: Store, tmp_path: Path, fmt: str) -> None:
    export_analysis(demo_store, fmt, tmp_path)
    ext = "csv" if fmt == "csv" else fmt
    read, _ = _read(tmp_path / f"endpoints.{ext}")
    ids = [e.id for e in demo_store.protocol.endpoints]
    want = endpoint_table(demo_store, ids)
    if fmt == "dta":
        read = read.rename(columns={stata_name(i): i for i in ids})
    assert len(read) == len(want) > 0
    merged = want.merge(read, on=["subject", "visit"], suffixes=("", "_read"))
    assert len(merged) == len(want)
    for endpoint_id in ids:
        pd.testing.assert_series_equal(
            merged[endpoint_id].astype(float),
            merged[f"{endpoint_id}_read"].astype(float),
            check_names=False,
        )


def test_manifest_names_study_hashes_and_audit_head(
    demo_store: Store, demo_url: str, tmp_path: Path
) -> None:
    result = export_analysis(demo_store, "sav", tmp_path)
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["study"] == demo_store.protocol.id
    assert manifest["protocol_version"] == demo_store.protocol.version
    assert manifest["format"] == "sav"
    assert dt.datetime.fromisoformat(manifest["exported_at"].replace("Z", "+00:00"))
    events = audit_events(demo_url)
    assert manifest["audit_head"] == {"count": len(events), "hash": events[-1]["hash"]}
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "manifest.json")
    assert [f["name"] for f in manifest["files"]] == names
    for entry in manifest["files"]:
        assert entry["sha256"] == file_sha256(tmp_path / entry["name"])


def test_forms_and_visits_filter_the_export(demo_url: str, tmp_path: Path) -> None:
    from clestudy.store import open_store

    with open_store(demo_url, "lenalidomide-cle-open-label") as store:
        result = export_analysis(store, "wide-csv", tmp_path, forms=["clasi"], visits=["week_0"])
    assert sorted(p.name for p in result.files) == ["clasi.csv", "endpoints.csv"]
    frame = pd.read_csv(tmp_path / "clasi.csv")
    assert set(frame["visit"]) == {"week_0"} and len(frame) == 5
    assert set(pd.read_csv(tmp_path / "endpoints.csv")["visit"]) == {"week_0"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"forms": ["nope"]}, r"--forms: unknown form 'nope' in lenalidomide-cle-open-label"),
        ({"visits": ["week_99"]}, r"--visits: unknown visit 'week_99'"),
        ({"export_format": "xlsx"}, r"unknown export format 'xlsx'"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(
    demo_url: str, tmp_path: Path, kwargs: dict[str, Any], match: str
) -> None:
    from clestudy.store import open_store

    fmt = kwargs.pop("export_format", "csv")
    with (
        open_store(demo_url, "lenalidomide-cle-open-label") as store,
        pytest.raises(InputError, match=match),
    ):
        export_analysis(store, fmt, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_out_must_be_a_folder(demo_store: Store, tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"file.txt: --out must be a folder"):
        export_analysis(demo_store, "csv", target)
