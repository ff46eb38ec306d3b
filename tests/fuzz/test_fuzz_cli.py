"""Fuzz every command that reads user input, through the CLI (issue 9, item 7 and its acceptance).

Each reader starts from a valid input (a seed) that Hypothesis mutates: bytes and tokens inserted,
cells replaced by boundary values (``inf``, ``1e308``, ``-0.0``, ``300.7``, a 400-digit number),
lines repeated or cut, the file truncated. ``clestudy.cli.main(argv)`` runs in-process; every run
must end with exit 0 or 2, never a traceback or "internal error", and print no non-finite number
(``nan``, ``inf``) that the input did not contain; ``--json`` output must parse as strict JSON.
The reproductions found by the first campaign are explicit ``@example`` s.

The tests are derandomized and bounded. ``CLESTUDY_FUZZ_EXAMPLES`` sets the examples per reader
(default 40, a few seconds each); the full campaign of about 17,000 inputs is
``CLESTUDY_FUZZ_EXAMPLES=2200 .venv/bin/python -m pytest tests/fuzz`` (docs/architecture.md, Tests).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from clestudy.cli import main

EXAMPLES = int(os.environ.get("CLESTUDY_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
NON_FINITE = re.compile(rb"(?<![A-Za-z])(nan|inf|infinity)(?![A-Za-z])", re.IGNORECASE)

#: Values that broke readers before: non-finite, huge, tiny, signed zero, fractional counts,
#: CSV and YAML syntax, NUL and non-UTF-8 bytes.
TOKENS = [
    b"", b" ", b",", b'"', b"\t", b"\n", b"\r\n", b"#", b"inf", b"-inf", b"nan", b"NaN",
    b"Infinity", b"1e308", b"-1e308", b"1e300", b"2e154", b"1e-320", b"-0.0", b"-0", b"0",
    b"400", b"300.7", b"-5", b"1" + b"0" * 400, b"Undetermined", b"\x00", b"\xff\xfe", b"\xc2\xb5",
    b"[" * 64, b"{", b"}", b"null", b"true", b'"x"', b"&a [1]", b"*a", b"1_000", b"0x10",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, sep: bytes = b",") -> bytes:
    """``seed`` with one to four mutations."""
    data = seed
    for _ in range(draw(st.integers(1, 4))):
        token = draw(st.sampled_from(TOKENS) | st.binary(max_size=6))
        op = draw(st.sampled_from(["cell", "cell", "insert", "delete", "repeat", "truncate"]))
        if op == "cell":  # replace one separator-delimited cell of one line
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            cells = lines[i].split(sep)
            cells[draw(st.integers(0, len(cells) - 1))] = token
            lines[i] = sep.join(cells)
            data = b"\n".join(lines)
            continue
        at = draw(st.integers(0, len(data)))
        if op == "insert":
            data = data[:at] + token + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 8)) :]
        elif op == "repeat":
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            data = b"\n".join([*lines[: i + 1], *lines[i:]])
        else:
            data = data[:at]
    return data


@contextlib.contextmanager
def _stdin(data: bytes) -> Iterator[None]:
    import sys

    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    try:
        yield
    finally:
        sys.stdin = saved


def run_cli(argv: list[str], *, given_input: bytes, stdin: bytes = b"") -> tuple[int, str]:
    """Run the CLI; assert the fuzz properties; return the exit code and stdout."""
    out, err = io.StringIO(), io.StringIO()
    with _stdin(stdin), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    stdout, stderr = out.getvalue(), err.getvalue()
    assert code in (0, 2), f"exit {code}: {stderr}"
    assert "Traceback" not in stdout + stderr
    assert "internal error" not in stderr, stderr
    if code == 2 and "--json" in argv:  # the one JSON error shape of cli.main
        assert "error" in json.loads(stderr), stderr
    elif code == 2:  # one line, or one per problem where a reader reports them all at once
        assert stderr.startswith("error: "), stderr
    printed = stdout.encode()
    if NON_FINITE.search(printed) and not NON_FINITE.search(given_input):
        pytest.fail(f"non-finite number printed: {stdout[:500]}")
    if code == 0 and "--json" in argv:
        json.loads(stdout, parse_constant=_no_constant)
    return code, stdout


def _no_constant(name: str) -> None:
    pytest.fail(f"--json printed {name}")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def protocol(work: Path) -> Path:
    """A small protocol with the visits week_0 and week_12 (the built-in one takes 0.4 s to load:
    the manifest readers check visits against it on every run)."""
    path = work / "mini.yaml"
    path.write_bytes(PROTOCOL)
    return path


# --- qpcr ifn-score -----------------------------------------------------------------------------

PLATE = (
    b"sample,gene,ct,sample_type,well\nHC1,HPRT1,20.1,control,A1\nHC1,IFI27,30.2,control,A2\n"
    b"HC2,HPRT1,20.4,control,A3\nHC2,IFI27,31.0,control,A4\nP1,HPRT1,19.8,case,A5\n"
    b"P1,IFI27,Undetermined,case,A6\nP2,HPRT1,20.0,case,A7\nP2,IFI27,26.5,case,A8\n"
)


@FUZZ
@given(plate=mutated(PLATE))
@example(plate=PLATE.replace(b"P2,IFI27,26.5,case,A8", b"P2,IFI27,26.5,case,A8,x"))
@example(plate=PLATE + b'"P3,IFI27,27,case,A9\n')
@example(plate=b"")
@example(plate=PLATE.replace(b"26.5", b"400"))
@example(plate=PLATE.replace(b"26.5", b"1e308"))
@example(plate=PLATE.replace(b"26.5", b"-0.0"))
def test_qpcr_ifn_score(work: Path, plate: bytes) -> None:
    path = work / "plate.csv"
    path.write_bytes(plate)
    args = ["qpcr", "ifn-score", "--ct", str(path), "--genes", "IFI27"]
    run_cli([*args, "--reference-genes", "HPRT1", "--json"], given_input=plate)


# --- ihc import ---------------------------------------------------------------------------------

IHC_MANIFEST = b"image,subject_id,visit_id,marker\ns1.svs,S01,week_0,CD3\ns2.svs,S01,week_0,mucin\n"
QUPATH = (
    "Image\tName\tArea µm^2\tNum Positive\tNum Detections\tMucin area µm^2\n"
    "s1.svs\tTissue\t2000000\t300\t900\t0\ns1.svs\tTissue 2\t500000\t20\t80\t0\n"
    "s2.svs\tTissue\t1500000\t0\t10\t45000.5\n"
).encode()


@FUZZ
@given(export=mutated(QUPATH, sep=b"\t"))
@example(export=QUPATH.replace(b"\t0\n", b"\t0\tx\n", 1))
@example(export=QUPATH.replace(b"2000000", b" "))
@example(export=QUPATH.replace(b"\t300\t", b"\tinf\t"))
@example(export=QUPATH.replace(b"\t300\t", b"\t-5\t"))
@example(export=QUPATH.replace(b"\t300\t", b"\t300.7\t"))
@example(export=QUPATH.replace(b"45000.5", b"2000000"))
def test_ihc_import(work: Path, protocol: Path, export: bytes) -> None:
    manifest, path = work / "slides.csv", work / "annotations.tsv"
    manifest.write_bytes(IHC_MANIFEST)
    path.write_bytes(export)
    args = ["ihc", "import", "--measurements", str(path), "--manifest", str(manifest)]
    run_cli([*args, "--study", str(protocol), "--json"], given_input=export)


@FUZZ
@given(manifest=mutated(IHC_MANIFEST))
def test_ihc_manifest(work: Path, protocol: Path, manifest: bytes) -> None:
    path, export = work / "slides-m.csv", work / "annotations-m.tsv"
    path.write_bytes(manifest)
    export.write_bytes(QUPATH)
    args = ["ihc", "import", "--measurements", str(export), "--manifest", str(path)]
    run_cli([*args, "--study", str(protocol), "--json"], given_input=manifest)


# --- stats paired and check-summary -------------------------------------------------------------

LONG = (
    b"# ESR before and after\nsubject,visit,esr,lym\na,pre,20,1.2\na,post,15,1.4\nb,pre,31,0.9\n"
    b"b,post,22,NA\nc,pre,18,1.1\nc,post,19,1.3\nd,pre,40,1.0\nd,post,30,1.6\n"
)
PAIRED = ["--subject", "subject", "--visit", "visit", "--before", "pre", "--after", "post"]


@FUZZ
@given(table=mutated(LONG), as_json=st.booleans())
@example(table=LONG + b'e,pre,1,"2\n', as_json=False)
@example(table=LONG.replace(b"a,pre,20", b"a,pre,1e300"), as_json=False)
@example(table=LONG.replace(b"a,pre,20", b"a,pre,1e300"), as_json=True)
def test_stats_paired(work: Path, table: bytes, as_json: bool) -> None:
    path = work / "long.csv"
    path.write_bytes(table)
    argv = ["stats", "paired", "--csv", str(path), *PAIRED]
    run_cli([*argv, "--json"] if as_json else argv, given_input=table)


printed = st.sampled_from(["26.2", "8.9", ".013", "<0.05", "0", "1", "-3", "1" + "0" * 400, "1e5"])
printed |= st.text(alphabet="0123456789.<=-+ e", max_size=12)


@FUZZ
@given(
    n=st.sampled_from([2, 5, 12, 10**10, 10**30]) | st.integers(-3, 60),
    numbers=st.tuples(printed, printed, printed, printed, printed),
    test=st.sampled_from(["paired-t", "wilcoxon-exact", "wilcoxon-asymptotic", "sign"]),
    granularity=st.sampled_from(["1", "0.5", "2.5", "1e-300", "inf", "nan", "0"]),
)
@example(
    n=10**10, numbers=("26.2", "8.9", "19.2", "7.5", "0.015"), test="paired-t", granularity="1"
)
def test_stats_check_summary(
    n: int, numbers: tuple[str, str, str, str, str], test: str, granularity: str
) -> None:
    mean_before, sd_before, mean_after, sd_after, p = numbers
    argv = ["stats", "check-summary", "--n", str(n), "--mean-before", mean_before]
    argv += ["--sd-before", sd_before, "--mean-after", mean_after, "--sd-after", sd_after]
    argv += ["--p", p, "--test", test, "--granularity", granularity, "--json"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    # 1 is the documented verdict "a check is inconsistent", not a failure of the command
    assert code in (0, 1, 2), err.getvalue()
    assert "internal error" not in err.getvalue()
    if code != 2:
        json.loads(out.getvalue(), parse_constant=_no_constant)


# --- score <instrument> (JSON on stdin) ---------------------------------------------------------

SCORE_SEEDS = {
    "clasi": {
        "areas": {"nose": {"erythema": 2, "scale": 1}, "arms": {"erythema": 3, "scarring": 2}},
        "mucous_membrane": 1,
        "nonscarring_alopecia": 3,
        "scalp_scarring": 4,
        "dyspigmentation_12_months": True,
    },
    "sledai2k": {"descriptors": {"seizure": True, "pyuria": True, "fever": False}},
    "ctcae": {"term": "Neutrophil count decreased", "value": 1.2, "unit": "10^9/L", "lln": 2.0},
    "prednisone-equivalent": {"drug": "methylprednisolone", "dose_mg": 16},
    "crcl": {
        "age_years": 40, "weight_kg": 60, "sex": "female", "creatinine": 1.0,
        "creatinine_unit": "mg/dL",
    },
}  # fmt: skip


@st.composite
def score_inputs(draw: st.DrawFn) -> tuple[str, bytes]:
    instrument = draw(st.sampled_from(sorted(SCORE_SEEDS)))
    seed = json.dumps(SCORE_SEEDS[instrument]).encode()
    return instrument, draw(mutated(seed, sep=b","))


@FUZZ
@given(case=score_inputs())
@example(case=("clasi", b"\xff{}"))
@example(case=("clasi", b"[" * 10000))
def test_score(case: tuple[str, bytes]) -> None:
    instrument, payload = case
    run_cli(["score", instrument, "-", "--json"], given_input=payload, stdin=payload)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"drug": "methylprednisolone", "dose_mg": 1' + b"0" * 400 + b"}",
        b'{"drug": "betamethasone", "dose_mg": 1, "betamethasone_mg_per_5mg_prednisone": 1e-320}',
    ],
)
def test_score_reproductions(payload: bytes) -> None:
    run_cli(["score", "prednisone-equivalent", "--json"], given_input=payload, stdin=payload)


# --- protocol check (YAML) ----------------------------------------------------------------------

PROTOCOL = b"""\
id: fuzz-study
title: Fuzzed study
version: "2.1"
arms:
  - id: drug
    name: Drug
sites:
  - id: site01
    name: Site 1
visits:
  - id: week_0
    name: Baseline
    day: 0
    forms: [labs]
  - id: week_12
    name: Week 12
    day: 84
    window_before: 7
    window_after: 7
    forms: [labs]
forms:
  - id: labs
    name: Labs
    fields:
      - id: esr
        label: ESR
        type: decimal
        unit: mm/h
        min: 0
        max: 150
      - id: sex
        label: Sex
        type: single_choice
        choices:
          - {code: F, label: Female}
          - {code: M, label: Male}
endpoints:
  - {id: esr, label: ESR, form: labs, item: esr}
analysis_plan:
  - {endpoint: esr, before_visit: week_0, after_visit: week_12}
"""
#: A YAML "billion laughs": nine levels of nine aliases, 400 bytes that expand to 9^9 nodes.
ALIAS_BOMB = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n".encode()
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@FUZZ
@given(text=mutated(PROTOCOL, sep=b" "))
def test_protocol_check(work: Path, text: bytes) -> None:
    path = work / "protocol.yaml"
    path.write_bytes(text)
    run_cli(["protocol", "check", str(path)], given_input=text)


def test_protocol_deep_nesting(work: Path) -> None:
    path = work / "deep.yaml"
    path.write_bytes(b"[" * 10000)
    run_cli(["protocol", "check", str(path)], given_input=b"[")


def test_protocol_alias_bomb(work: Path) -> None:
    path = work / "bomb.yaml"
    path.write_bytes(ALIAS_BOMB)
    run_cli(["protocol", "check", str(path)], given_input=ALIAS_BOMB)


# --- record save --values (JSON) ----------------------------------------------------------------

RECORD = b'{"ifn_score": "2.5", "sample_date": "2024-01-10", "skin_cd3_score": 2}'


@pytest.fixture(scope="module")
def study_db(work: Path) -> Path:
    from clestudy.store import open_store

    path = work / "template.db"
    with open_store(f"sqlite:///{path}", "lenalidomide-cle-open-label") as store:
        store.add_subject("S01", arm="lenalidomide", site="site01", actor="coordinator")
    return path


@settings(FUZZ, max_examples=max(EXAMPLES // 4, 5))
@given(values=mutated(RECORD, sep=b","))
@example(values=b'{"ifn_score": -0.0}')
@example(values=b'{"ifn_score": 1e400}')
@example(values=b"[" * 100_000)
def test_record_save(work: Path, study_db: Path, values: bytes) -> None:
    db = work / "study.db"
    for suffix in ("", "-wal", "-shm"):  # a fresh copy of the study, so every save can succeed
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    shutil.copy(study_db, db)
    path = work / "values.json"
    path.write_bytes(values)
    argv = ["record", "save", str(path), "--study", "lenalidomide-cle-open-label"]
    argv += ["--subject", "S01", "--visit", "week_0", "--form", "immune_profile"]
    run_cli([*argv, "--db", str(db), "--actor", "fuzz", "--json"], given_input=values)


# --- flow gate on mutated FCS bytes -------------------------------------------------------------


@pytest.fixture(scope="module")
def fcs_seed(work: Path) -> tuple[bytes, Path]:
    flowio = pytest.importorskip("flowio")
    import numpy as np

    events = np.array([[100.0, 5.0], [200.0, 50.0], [300.0, 500.0], [400.0, 8.0]])
    buffer = io.BytesIO()
    flowio.create_fcs(buffer, events.ravel(), ["FSC-A", "CD3-A"])
    strategy = work / "cd3.xml"
    strategy.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
        'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">'
        '<gating:RectangleGate gating:id="CD3_pos"><gating:dimension gating:min="10">'
        '<data-type:fcs-dimension data-type:name="CD3-A" /></gating:dimension>'
        "</gating:RectangleGate></gating:Gating-ML>\n"
    )
    return buffer.getvalue(), strategy


@settings(FUZZ, max_examples=max(EXAMPLES // 2, 5))
@given(data=st.data())
def test_flow_gate(work: Path, fcs_seed: tuple[bytes, Path], data: st.DataObject) -> None:
    seed, strategy = fcs_seed
    fcs = data.draw(mutated(seed, sep=b"/"))
    path = work / "sample.fcs"
    path.write_bytes(fcs)
    argv = ["flow", "gate", str(path), "--strategy", str(strategy), "--workers", "1"]
    run_cli([*argv, "--min-events", "1", "--median", "FSC-A", "--json"], given_input=fcs)
