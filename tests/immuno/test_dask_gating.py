"""Flow gating on a Dask ``distributed`` cluster gives the local path's counts, fails as it does,
and with ``--keep-going`` stores only the files that gated.

The cluster is a real ``distributed.LocalCluster`` of two worker processes (one thread each), made
once for the module: tasks, scattering and result transfer all go through its scheduler over TCP.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.immuno.test_flow_compliance import ALIASES, N_GATES_WITH_TRUTH, WITHOUT_TRUTH, _truth
from tests.immuno.test_templates_gate import designed_fcs

from clestudy.cli import main
from clestudy.immuno import TEMPLATE_STRATEGIES, FcsFileError, gate_batch, template_path
from clestudy.immuno._dask import ClusterError, check_paths, gate_batch_dask

if TYPE_CHECKING:
    from clestudy.store import RecordState

__all__ = ["designed_fcs"]  # the templates' designed sample, a fixture of test_templates_gate

STUDY = "lenalidomide-cle-open-label"
#: gml_range_gate_attr_testing.xml is not valid Gating-ML (see test_flow_compliance).
INVALID = {"gml_range_gate_attr_testing.xml"}


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a two-worker LocalCluster (worker processes, as on a real cluster)."""
    from distributed import LocalCluster

    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def _counts(results: list[Any]) -> list[list[tuple[str, str, int]]]:
    return [
        list(
            zip(
                r.populations["gate"],
                r.populations["gate_path"],
                r.populations["count"],
                strict=True,
            )
        )
        for r in results
    ]


def test_gatingml_suite_counts_identical_to_local(gatingml: Path, scheduler: str) -> None:
    # every usable strategy of the suite on the cluster gives the ISAC truth counts, which is what
    # the local path gives (test_flow_compliance); the all-gates file's whole table is compared
    # with the local path's too
    from distributed import Client

    strategies = [p for p in sorted((gatingml / "gml").glob("*.xml")) if p.name not in INVALID]
    assert len(strategies) == 46  # the whole usable suite, as in test_flow_compliance
    truth = {name: int(member.sum()) for name, member in _truth(gatingml).items()}
    data = [str(gatingml / "data1.fcs")]
    with Client(scheduler) as client, ThreadPoolExecutor(4) as pool:  # type: ignore[no-untyped-call]
        on_cluster = list(
            pool.map(lambda g: gate_batch_dask(data, g, scheduler=client), strategies)
        )
    checked, without_truth = 0, set()
    for gml, (result,) in zip(strategies, on_cluster, strict=True):
        for row in result.populations.to_dict("records"):
            name = ALIASES.get(row["gate"], row["gate"])
            if name not in truth:
                without_truth.add(row["gate"])
                continue
            assert row["count"] == truth[name], (gml.name, row["gate"])
            checked += 1
    assert (checked, without_truth) == (N_GATES_WITH_TRUTH, WITHOUT_TRUTH)
    all_gates = strategies.index(gatingml / "gml" / "gml_all_gates.xml")
    local = gate_batch(data, strategies[all_gates], workers=1)
    assert local[0].populations.equals(on_cluster[all_gates][0].populations)
    assert local[0].warnings == on_cluster[all_gates][0].warnings


def test_templates_counts_identical_to_local(
    designed_fcs: tuple[Path, Any], scheduler: str, tmp_path: Path
) -> None:
    path, _ = designed_fcs
    second = tmp_path / "designed_copy.fcs"
    second.symlink_to(path)
    files = [str(path), str(second)]
    for name in sorted(TEMPLATE_STRATEGIES):
        on_cluster = gate_batch_dask(files, template_path(name), scheduler=scheduler)
        local = gate_batch(files, template_path(name), workers=1)
        assert _counts(on_cluster) == _counts(local), name
        assert all(sum(c for *_, c in rows) > 0 for rows in _counts(on_cluster)), name


def test_progress_reports_every_file_as_it_finishes(gatingml: Path, scheduler: str) -> None:
    seen: list[tuple[int, int, str]] = []
    files = [str(gatingml / "data1.fcs")] * 3
    gml = gatingml / "gml" / "gml_rect1_gate.xml"
    gate_batch_dask(files, gml, scheduler=scheduler, progress=lambda *a: seen.append(a))
    assert [(done, total) for done, total, _ in seen] == [(1, 3), (2, 3), (3, 3)]


def test_failing_file_named_and_batch_fails(gatingml: Path, scheduler: str, tmp_path: Path) -> None:
    cut = tmp_path / "cut.fcs"
    cut.write_bytes((gatingml / "data1.fcs").read_bytes()[:3000])
    files = [str(gatingml / "data1.fcs"), str(cut)]
    gml = gatingml / "gml" / "gml_rect1_gate.xml"
    with pytest.raises(FcsFileError, match=r"cut\.fcs: cannot read FCS file"):
        gate_batch_dask(files, gml, scheduler=scheduler)
    failed: list[tuple[str, str]] = []
    kept = gate_batch_dask(
        files, gml, scheduler=scheduler, on_error=lambda p, e: failed.append((p, str(e)))
    )
    assert [r.path for r in kept] == [files[0]]
    assert [(p, "cannot read FCS file" in m) for p, m in failed] == [(str(cut), True)]


def test_compensation_file_is_shipped_like_the_strategy(
    gatingml: Path, scheduler: str, tmp_path: Path
) -> None:
    from clestudy.immuno import FlowOptions

    matrix = tmp_path / "not_a_matrix.csv"
    matrix.write_text("nothing,useful\n")
    gml = gatingml / "gml" / "gml_rect1_gate.xml"
    options = FlowOptions(compensation_file=str(matrix))
    # the worker reads its own copy; the error still names the user's file
    with pytest.raises(FcsFileError, match=rf"^{matrix}: not a usable compensation matrix"):
        gate_batch_dask([str(gatingml / "data1.fcs")], gml, options, scheduler=scheduler)


def test_paths_no_worker_can_read_fail_up_front(scheduler: str, tmp_path: Path) -> None:
    gml = template_path("treg")
    missing = [str(tmp_path / "elsewhere" / "a.fcs"), str(tmp_path / "elsewhere" / "b.fcs")]
    with pytest.raises(ClusterError, match=r"a\.fcs: no Dask worker can read this file"):
        gate_batch_dask(missing, gml, scheduler=scheduler)


class _Answers:
    """What ``Client.run(_unreadable, paths)`` returns: per worker, the indexes it cannot read."""

    def __init__(self, answers: dict[str, list[int]]) -> None:
        self.answers = answers

    def run(self, function: Any, paths: list[str]) -> dict[str, list[int]]:
        return self.answers


def test_a_worker_blind_to_a_file_others_read_is_named() -> None:
    files = ["/data/a.fcs", "/data/b.fcs", "/data/c.fcs"]
    answers = {"tcp://w1:1": [], "tcp://w2:1": [1, 2], "tcp://w3:1": [2]}
    with pytest.raises(ClusterError, match=r"^/data/b\.fcs: Dask worker tcp://w2:1 cannot read"):
        check_paths(_Answers(answers), files, "tcp://s:8786")
    # a file missing for every worker is left to fail (or be skipped) in its own task
    check_paths(_Answers({"tcp://w1:1": [1], "tcp://w2:1": [1]}), files, "tcp://s:8786")
    with pytest.raises(ClusterError, match="has no workers"):
        check_paths(_Answers({}), files, "tcp://s:8786")


def test_unreachable_scheduler_is_a_clear_error(gatingml: Path) -> None:
    from clestudy.immuno import _dask

    gml = gatingml / "gml" / "gml_rect1_gate.xml"
    address = "tcp://127.0.0.1:9"  # the discard port: nothing listens there
    original = _dask.CONNECT_TIMEOUT_S
    _dask.CONNECT_TIMEOUT_S = 2
    try:
        with pytest.raises(ClusterError, match=r"^tcp://127\.0\.0\.1:9: cannot reach the Dask"):
            gate_batch_dask([str(gatingml / "data1.fcs")], gml, scheduler=address)
    finally:
        _dask.CONNECT_TIMEOUT_S = original


def _records(url: str) -> list[RecordState]:
    from clestudy.store import open_store

    with open_store(url, STUDY) as store:
        return list(store.records(form_id="immune_profile"))


def _batch(gatingml: Path, tmp_path: Path, db: str, scheduler: str) -> list[str]:
    for name in ("pre.fcs", "mid.fcs"):
        (tmp_path / name).symlink_to(gatingml / "data1.fcs")
    (tmp_path / "cut.fcs").write_bytes((gatingml / "data1.fcs").read_bytes()[:3000])
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "file,subject_id,visit_id,sample_date\n"
        "pre.fcs,S01,week_0,2026-01-05\n"
        "cut.fcs,S01,week_6,2026-02-16\n"
        "mid.fcs,S01,week_12,2026-03-30\n"
    )
    gml = gatingml / "gml" / "gml_rect1_gate.xml"
    return ["flow", "gate", "--strategy", str(gml), "--manifest", str(manifest), "--db", db,
            "--field", "treg_pct_cd4=Rectangle1:percent_parent", "--scheduler", scheduler]  # fmt: skip


def test_cli_failing_file_stores_nothing(
    gatingml: Path, tmp_path: Path, db: str, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_batch(gatingml, tmp_path, db, scheduler)) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'cut.fcs'}: cannot read FCS file" in err
    assert _records(db) == []


def test_cli_keep_going_stores_only_the_good_files(
    gatingml: Path,
    tmp_path: Path,
    db: str,
    scheduler: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = _batch(gatingml, tmp_path, db, scheduler)
    # the scheduler from the environment, as a deployment sets it
    args = args[: args.index("--scheduler")]
    monkeypatch.setenv("CLESTUDY_DASK_SCHEDULER", scheduler)
    assert main([*args, "--keep-going", "--json"]) == 1
    captured = capsys.readouterr()
    assert f"failed: {tmp_path / 'cut.fcs'}: cannot read FCS file" in captured.err
    assert "1 of 3 FCS file(s) failed" in captured.err and "2 were gated and stored" in captured.err
    rows = json.loads(captured.out)
    assert {r["visit_id"] for r in rows} == {"week_0", "week_12"}
    assert {r.visit_id for r in _records(db)} == {"week_0", "week_12"}


def test_cli_scheduler_and_workers_exclusive(gatingml: Path, capsys: Any) -> None:
    gml = str(gatingml / "gml" / "gml_rect1_gate.xml")
    args = ["flow", "gate", str(gatingml / "data1.fcs"), "--strategy", gml]
    assert main([*args, "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "--workers sets local processes" in capsys.readouterr().err


def test_cli_loads_dask_only_for_a_cluster_run(gatingml: Path) -> None:
    probe = (
        "import sys, clestudy.cli\n"
        "code = clestudy.cli.main(sys.argv[1:])\n"
        "print('LOADED' if {'dask', 'distributed'} & set(sys.modules) else 'LAZY', code)\n"
    )
    gml = str(gatingml / "gml" / "gml_rect1_gate.xml")
    argv = ["flow", "gate", str(gatingml / "data1.fcs"), "--strategy", gml, "--workers", "1"]
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "LAZY 0", done.stderr


class _Recording:
    """A ``distributed.Client`` that records what is scattered and submitted through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.scattered: list[dict[str, Any]] = []
        self.submitted: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def scatter(self, data: Any, **options: Any) -> Any:
        self.scattered.append(options)
        return self.client.scatter(data, **options)

    def submit(self, function: Any, *args: Any, **options: Any) -> Any:
        self.submitted.append(args)
        return self.client.submit(function, *args, **options)


def _parses(name: str) -> int:
    """On a worker: how many strategy objects it parsed from a shipped file called ``name``."""
    from clestudy.immuno import _batch

    return sum(1 for key in _batch._STRATEGIES if key[0].endswith(f"/{name}"))


def test_strategy_shipped_and_parsed_once_per_worker(
    gatingml: Path, scheduler: str, tmp_path: Path
) -> None:
    from distributed import Client, Future

    gml = tmp_path / "shipped_once.xml"  # a name no other test ships
    gml.write_bytes((gatingml / "gml" / "gml_rect1_gate.xml").read_bytes())
    files = [str(gatingml / "data1.fcs")] * 6
    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        recording = _Recording(client)
        results = gate_batch_dask(files, gml, scheduler=recording)
        parses = client.run(_parses, gml.name)
    assert len(results) == 6
    # one broadcast to every worker; each of the 6 tasks gets a reference to it, not the bytes
    assert recording.scattered == [{"broadcast": True}]
    shipped = {id(args[1]) for args in recording.submitted}
    assert len(recording.submitted) == 6 and len(shipped) == 1
    assert isinstance(recording.submitted[0][1], Future)
    # each single-thread worker parsed it at most once, however many of the files it gated
    assert sorted(parses.values()) in ([1, 1], [0, 1])


def test_cli_progress_bar_on_the_cluster(
    gatingml: Path,
    scheduler: str,
    capsys: pytest.CaptureFixture[str],
    interactive_stderr: Callable[[], None],
) -> None:
    interactive_stderr()
    gml = str(gatingml / "gml" / "gml_rect1_gate.xml")
    files = [str(gatingml / "data1.fcs")] * 2
    args = ["flow", "gate", "--strategy", gml, *files, "--json", "--scheduler", scheduler]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 2  # stdout: the JSON only
    qc = ("qc:", "warning:")  # the QC lines name the files (of "gatingml/")
    bar = [x for x in captured.err.splitlines() if "gating" in x and not x.startswith(qc)]
    assert bar, captured.err  # the bar was drawn, on stderr
