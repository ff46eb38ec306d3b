"""A file above the task threshold is gated on the cluster as one task per range of its events:
each range is read by byte offset, the counts are added and every percentage is computed from the
sums, so the results are the local path's; a failed range fails its file, named.

Ranges are read by FlowIO's own DATA decoder (``clestudy.immuno._fcs_range``): the first tests
compare a range with the same rows of the whole file, read as the local path reads it, on every
encoding the test files hold (16-bit big-endian integers, mixed 8/16/32-bit integers with ``$PnR``
bit masks, 32-bit floats in both byte orders).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import flowio
import numpy as np
import pandas as pd
import pytest
from tests.immuno.test_dask_gating import scheduler
from tests.immuno.test_templates_gate import designed_fcs

from clestudy.cli import main
from clestudy.immuno import (
    BeadCount,
    FcsFileError,
    FlowOptions,
    gate_batch,
    read_sample,
    template_path,
)
from clestudy.immuno._dask import gate_batch_dask
from clestudy.immuno._fcs_range import event_ranges, read_event_range, splittable_events

__all__ = ["designed_fcs", "scheduler"]  # fixtures of the modules they come from


def _int_fcs(path: Path, widths: list[int], ranges: list[int], events: np.ndarray) -> Path:
    """An FCS 3.0 list-mode file of integers, big-endian, one ``$PnB`` width per channel."""
    order = ">" + "".join({8: "B", 16: "H", 32: "I"}[w] for w in widths)
    data = b"".join(struct.pack(order, *map(int, row)) for row in events)
    keys = {"$BYTEORD": "4,3,2,1", "$DATATYPE": "I", "$MODE": "L", "$NEXTDATA": "0"}
    keys |= {"$PAR": str(len(widths)), "$TOT": str(len(events))}
    for i, (w, r) in enumerate(zip(widths, ranges, strict=True), 1):
        keys |= {f"$P{i}N": f"CH{i}", f"$P{i}B": str(w), f"$P{i}R": str(r), f"$P{i}E": "0,0"}
    # offsets of fixed width, so the TEXT segment's length does not depend on them
    keys |= {"$BEGINDATA": "0" * 10, "$ENDDATA": "0" * 10}
    text_len = len("/" + "".join(f"{k}/{v}/" for k, v in keys.items()))
    begin = 58 + text_len
    keys |= {"$BEGINDATA": f"{begin:010d}", "$ENDDATA": f"{begin + len(data) - 1:010d}"}
    text = "/" + "".join(f"{k}/{v}/" for k, v in keys.items())
    header = f"FCS3.0    {58:8d}{57 + len(text):8d}{begin:8d}{begin + len(data) - 1:8d}{0:8d}{0:8d}"
    path.write_bytes(header.encode() + text.encode() + data)
    return path


def _same_rows(path: Path, events: tuple[int, int]) -> bool:
    whole = read_sample(path).get_events(source="raw")
    part = read_event_range(path, events).get_events(source="raw")
    return bool(np.array_equal(whole[events[0] : events[1]], part))


def test_a_range_reads_as_the_same_rows_of_the_whole_file(
    gatingml: Path, designed_fcs: tuple[Path, Any], tmp_path: Path
) -> None:
    rng = np.random.default_rng(16)
    # 16-bit values above the 10-bit $PnR and 8-bit values above a range of 100: FlowIO masks
    # them with the next power of two, in the whole file as in a range
    raw = np.column_stack(
        [rng.integers(0, 2**16, 500), rng.integers(0, 2**8, 500), rng.integers(0, 2**32, 500)]
    )
    mixed = _int_fcs(tmp_path / "mixed.fcs", [16, 8, 32], [1024, 100, 2**32], raw)
    uniform = _int_fcs(tmp_path / "uniform.fcs", [16, 16], [1000, 65536], raw[:, :2] % 2**16)
    files = {
        gatingml / "data1.fcs": 13367,  # FCS 2.0, 16-bit integers, big-endian
        designed_fcs[0]: len(designed_fcs[1]),  # FlowIO's writer: 32-bit floats, little-endian
        mixed: 500,
        uniform: 500,
    }
    for path, n_events in files.items():
        assert splittable_events(path) == n_events, path.name
        for events in [(0, 1), (0, n_events), (n_events // 3, n_events // 3 + 97), (n_events - 1, n_events)]:  # fmt: skip
            assert _same_rows(path, events), (path.name, events)
    whole = read_sample(mixed).get_events(source="raw")
    assert whole[:, 0].max() < 1024 and whole[:, 1].max() < 128  # the masks did apply


def test_real_file_ranges(real_fcs: Any) -> None:
    path = real_fcs("facs_diva")  # FACSDiva: 32-bit floats, big-endian, $SPILL
    assert splittable_events(path) == 83411
    assert _same_rows(path, (40000, 41234))


def test_files_read_whole_instead(gatingml: Path, tmp_path: Path) -> None:
    raw = (gatingml / "data1.fcs").read_bytes()
    # $TOT one above the events the DATA segment holds
    more = tmp_path / "tot.fcs"
    more.write_bytes(raw.replace(b"\\$TOT\\13367\\", b"\\$TOT\\13368\\"))
    assert splittable_events(more) is None
    # not an FCS file at all: the whole read raises the real error
    text = tmp_path / "text.fcs"
    text.write_text("not FCS")
    assert splittable_events(text) is None
    with pytest.raises(FcsFileError, match=r"events 13361-13377 are not in the file \(13367 "):
        read_event_range(gatingml / "data1.fcs", (13360, 13377))
    with pytest.raises(FcsFileError, match=r"text\.fcs: cannot read events 1-10 on their own"):
        read_event_range(text, (0, 10))
    assert event_ranges(13367, 5000) == [(0, 5000), (5000, 10000), (10000, 13367)]
    with pytest.raises(ValueError, match="must be positive"):
        event_ranges(10, 0)


def _range_keys(client: Any, run: Any) -> tuple[Any, set[str]]:
    """``run()``'s value and the keys of the range tasks it ran on the cluster."""
    from distributed import get_task_stream

    with get_task_stream(client) as stream:
        value = run()
    return value, {str(t["key"]) for t in stream.data if "-events-" in str(t["key"])}


def test_large_file_as_range_tasks_same_table_as_local(gatingml: Path, scheduler: str) -> None:
    from distributed import Client

    data = [str(gatingml / "data1.fcs")]
    gml = gatingml / "gml" / "gml_all_gates.xml"  # every gate type of the suite, nested gates
    local = gate_batch(data, gml, workers=1)
    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        (split,), keys = _range_keys(
            client, lambda: gate_batch_dask(data, gml, scheduler=client, task_events=1000)
        )
    assert len(keys) == 14  # 13,367 events in ranges of 1,000
    pd.testing.assert_frame_equal(split.populations, local[0].populations, check_exact=True)
    assert (split.n_events, split.warnings) == (local[0].n_events, local[0].warnings)
    assert split.warnings  # the min-events warnings, recomputed from the summed counts


def test_templates_reference_and_beads_from_summed_counts(
    designed_fcs: tuple[Path, Any], scheduler: str
) -> None:
    from distributed import Client

    path = str(designed_fcs[0])
    beads = [BeadCount(beads_per_test=50_000, volume_ul=50)]
    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        for name in ("treg", "activated_t"):
            # the template's first gate as the reference (CD3+), its second as the "beads"
            gates = gate_batch([path], template_path(name), workers=1)[0].populations["gate"]
            options = FlowOptions(reference_gate=gates[0], bead_gate=gates[1])
            local = gate_batch([path], template_path(name), options, beads=beads, workers=1)
            (split,), keys = _range_keys(
                client,
                lambda name=name, o=options: gate_batch_dask(
                    [path], template_path(name), o, scheduler=client, beads=beads, task_events=300
                ),
            )
            assert len(keys) == 4, name  # 1,000 events in ranges of 300
            pd.testing.assert_frame_equal(split.populations, local[0].populations, check_exact=True)
            assert split.populations["percent_reference"].notna().all(), name
            assert split.populations["absolute_count_per_ul"].notna().all(), name


def test_medians_keep_a_file_in_one_task(gatingml: Path, scheduler: str) -> None:
    from distributed import Client

    data = [str(gatingml / "data1.fcs")]
    gml = gatingml / "gml" / "gml_rect1_gate.xml"
    options = FlowOptions(median_channels=("FSC-H",))
    local = gate_batch(data, gml, options, workers=1)
    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        (whole,), keys = _range_keys(
            client, lambda: gate_batch_dask(data, gml, options, scheduler=client, task_events=1000)
        )
    assert keys == set()
    pd.testing.assert_frame_equal(whole.populations, local[0].populations, check_exact=True)


def _with_nan(gatingml: Path, tmp_path: Path, event: int) -> Path:
    """data1.fcs's first 3,000 events as 32-bit floats, one value of ``event`` (0-based) NaN."""
    sample = read_sample(gatingml / "data1.fcs")
    events = sample.get_events(source="raw")[:3000].copy()
    events[event, 2] = np.nan
    path = tmp_path / "bad.fcs"
    with path.open("wb") as handle:
        flowio.create_fcs(handle, events.astype(np.float32).ravel(), list(sample.pnn_labels))
    return path


def test_a_failed_range_fails_its_file_named(
    gatingml: Path, scheduler: str, tmp_path: Path
) -> None:
    bad = _with_nan(gatingml, tmp_path, 2500)
    good = str(gatingml / "data1.fcs")
    gml = gatingml / "gml" / "gml_rect1_gate.xml"
    files = [good, str(bad)]
    with pytest.raises(
        FcsFileError,
        match=rf"^{bad}: event 2501, channel FL1-H: nan is not a finite number \(1 such value\(s\) "
        r"in events 2001-3000\)",
    ):
        gate_batch_dask(files, gml, scheduler=scheduler, task_events=1000)
    failed: list[str] = []
    seen: list[tuple[int, int, str]] = []
    kept = gate_batch_dask(
        files,
        gml,
        scheduler=scheduler,
        task_events=1000,
        on_error=lambda p, e: failed.append(p),
        progress=lambda *a: seen.append(a),
    )
    assert failed == [str(bad)]  # once, whatever its other ranges did
    assert [(done, total) for done, total, _ in seen] == [(1, 2), (2, 2)]
    assert {p for *_, p in seen} == set(files)
    local = gate_batch([good], gml, workers=1)
    assert [r.path for r in kept] == [good]
    pd.testing.assert_frame_equal(kept[0].populations, local[0].populations, check_exact=True)
    # the local path names the same event
    with pytest.raises(FcsFileError, match=r"event 2501, channel FL1-H: nan .* in the file\)"):
        gate_batch([str(bad)], gml, workers=1)


def test_cli_task_events(
    gatingml: Path, scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _with_nan(gatingml, tmp_path, 10)
    gml = str(gatingml / "gml" / "gml_all_gates.xml")
    good = str(gatingml / "data1.fcs")
    args = ["flow", "gate", good, "--strategy", gml, "--json"]
    assert main([*args, "--workers", "1"]) == 0
    local = json.loads(capsys.readouterr().out)
    cluster = ["--scheduler", scheduler, "--task-events", "4000", "--keep-going"]
    assert main([*args, str(bad), *cluster]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == local
    assert f"failed: {bad}: event 11, channel FL1-H" in captured.err
    assert main([*args, "--task-events", "4000"]) == 2
    assert "--task-events splits large files into Dask tasks: it needs --scheduler" in (
        capsys.readouterr().err
    )


def test_real_file_with_a_matrix_file_as_range_tasks(
    real_fcs: Any, immuno_data: Path, scheduler: str, tmp_path: Path
) -> None:
    # the benchmark's real file and strategy ($SPILL, logicle), with a shipped matrix file (the
    # identity: counts differ from $SPILL's) and a reference gate, in 5 ranges
    import flowkit as fk
    from distributed import Client

    path = str(real_fcs("facs_diva"))
    strategy = immuno_data / "diva_bcell.xml"
    sample = fk.Sample(path)
    detectors = [sample.pnn_labels[i] for i in sample.fluoro_indices]
    identity = tmp_path / "identity.csv"
    pd.DataFrame(np.eye(len(detectors)), columns=detectors).to_csv(identity, index=False)
    options = FlowOptions(compensation_file=str(identity), reference_gate="Cells")
    local = gate_batch([path], strategy, options, workers=1)
    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        split, keys = _range_keys(
            client,
            lambda: gate_batch_dask(
                [path], strategy, options, scheduler=client, task_events=20_000
            ),
        )
    assert len(keys) == 5  # 83,411 events in ranges of 20,000
    pd.testing.assert_frame_equal(split[0].populations, local[0].populations, check_exact=True)
    with_spill = gate_batch([path], strategy, FlowOptions(reference_gate="Cells"), workers=1)
    assert not split[0].populations["count"].equals(with_spill[0].populations["count"])
