"""Fixtures of the immune-profiling tests: the Gating-ML compliance suite and real FCS files."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

#: Real human FCS files shipped inside PyPI wheels (both MIT). Their metadata cannot be declared as
#: test dependencies (fcsparser 0.2.8 pins numpy<2; cytonormpy 1.0.2 pins flowio<=1.3.0, both
#: against FlowKit 1.3.2), so `make test` installs them without dependencies:
#:     pip install --no-deps fcsparser==0.2.8 cytonormpy==1.0.2
#: Without them the tests skip, saying why, unless CLESTUDY_REQUIRE_REAL_FCS=1 (CI) fails them.
REAL_FILES = {
    "facs_diva": ("fcsparser", "tests/data/FlowCytometers/FACS_Diva/facs_diva_test.fcs"),
    "cytof_021": ("cytonormpy", "_resources/Gates_PTLG021_Unstim_Control_1.fcs"),
    "cytof_028": ("cytonormpy", "_resources/Gates_PTLG028_Unstim_Control_1.fcs"),
    "cytof_034": ("cytonormpy", "_resources/Gates_PTLG034_Unstim_Control_1.fcs"),
}

DATA = Path(__file__).resolve().parent / "data"


REQUIRE_ENV = "CLESTUDY_REQUIRE_REAL_FCS"


def _real_fcs(name: str, missing: Callable[..., NoReturn]) -> Path:
    package, relative = REAL_FILES[name]
    required = f"{REQUIRE_ENV}=1" if os.environ.get(REQUIRE_ENV) == "1" else None
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        missing(
            f"{package} is not installed; run `pip install --no-deps {package}` for its FCS files",
            required=required,
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        missing(f"{path} not found in the installed {package}", required=required)
    return path


@pytest.fixture(scope="session")
def gatingml(shared_fixture: Callable[[str], Path]) -> Path:
    """The ISAC Gating-ML 2.0 compliance suite (data1.fcs, gml/, truth/)."""
    for part in ("data1.fcs", "gml", "truth"):
        shared_fixture(f"gatingml/{part}")
    return shared_fixture("gatingml")


@pytest.fixture
def real_fcs(missing: Callable[..., NoReturn]) -> Callable[[str], Path]:
    """``real_fcs(name)``: path of a real FCS file from an installed wheel (see REAL_FILES);
    skips the test, saying why, when the package is absent."""
    return lambda name: _real_fcs(name, missing)


@pytest.fixture
def immuno_data() -> Path:
    """The folder of strategies written for these tests."""
    return DATA


#: Four events on two channels: CD3-A is above 10 for two of them (the doctest of ``gate_fcs``).
TINY_EVENTS = ((100.0, 5.0), (200.0, 50.0), (300.0, 500.0), (400.0, 8.0))


def rectangle_gml(gate_id: str, channel: str, compensation: str, minimum: float) -> str:
    """A Gating-ML 2.0 strategy of one rectangle gate ``channel >= minimum``."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
    xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
  <gating:RectangleGate gating:id="{gate_id}">
    <gating:dimension gating:compensation-ref="{compensation}" gating:min="{minimum:g}">
      <data-type:fcs-dimension data-type:name="{channel}" />
    </gating:dimension>
  </gating:RectangleGate>
</gating:Gating-ML>
"""


#: One rectangle gate CD3-A >= 10, compensated with the file's own $SPILL (``FCS``).
FCS_COMP_GML = rectangle_gml("CD3_pos", "CD3-A", "FCS", 10)

STUDY = "lenalidomide-cle-open-label"


@pytest.fixture
def one_gate_gml() -> Callable[[str, str, str, float], str]:
    """``one_gate_gml(gate_id, channel, compensation, minimum)``: see :func:`rectangle_gml`."""
    return rectangle_gml


@pytest.fixture
def one_gene_plate(tmp_path: Path) -> tuple[Path, list[str]]:
    """A qPCR plate (one control, case P of subject S01 at week_0, gene IFI27 against HPRT1:
    score 2^-((27-20)-(30-20)) = 8) and the ``clestudy qpcr ifn-score`` arguments storing it
    (add ``--db URL``)."""
    plate = tmp_path / "plate.csv"
    plate.write_text(
        "sample,gene,ct,sample_type\nHC,HPRT1,20,control\nHC,IFI27,30,control\n"
        "P,HPRT1,20,case\nP,IFI27,27,case\n"
    )
    manifest = tmp_path / "qpcr.csv"
    manifest.write_text("sample,subject_id,visit_id\nP,S01,week_0\n")
    args = ["qpcr", "ifn-score", "--ct", str(plate), "--genes", "IFI27"]
    return plate, [*args, "--reference-genes", "HPRT1", "--manifest", str(manifest)]


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite study database of the open-label protocol with subject S01 enrolled."""
    from clestudy.store import open_store

    url = f"sqlite:///{tmp_path / 'study.db'}"
    with open_store(url, STUDY) as store:
        store.add_subject("S01", arm="lenalidomide", site="site01", actor="coordinator")
    return url


def write_tiny_fcs(path: Path, metadata: dict[str, str] | None = None) -> Path:
    """Write :data:`TINY_EVENTS` as an FCS 3.1 file (FSC-A, CD3-A) with FlowIO."""
    import flowio
    import numpy as np

    events = np.array(TINY_EVENTS)
    with path.open("wb") as handle:
        flowio.create_fcs(handle, events.ravel(), ["FSC-A", "CD3-A"], metadata_dict=metadata)
    return path


@pytest.fixture
def tiny_fcs(tmp_path: Path) -> Callable[..., Path]:
    """``tiny_fcs(name, metadata=None)``: a 4-event FCS file in ``tmp_path`` (see TINY_EVENTS),
    without $SPILL unless ``metadata`` gives one (FlowIO keywords, lower case)."""
    return lambda name, metadata=None: write_tiny_fcs(tmp_path / name, metadata)


@pytest.fixture
def fcs_comp_gml(tmp_path: Path) -> Path:
    """A Gating-ML strategy gating CD3-A with ``compensation-ref="FCS"`` (FCS_COMP_GML)."""
    path = tmp_path / "cd3_fcs_comp.xml"
    path.write_text(FCS_COMP_GML, encoding="utf-8")
    return path


@pytest.fixture
def interactive_stderr(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it in the test (once capsys has replaced ``sys.stderr``): stderr then looks like a
    colour terminal to rich, so the progress bar is drawn."""

    def interactive() -> None:
        import sys

        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        monkeypatch.setenv("TERM", "xterm-256color")
        for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
            monkeypatch.delenv(name, raising=False)

    return interactive
