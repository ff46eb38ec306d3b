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


def _absent(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so this is a failure, not a skip)")
    pytest.skip(reason)


def _real_fcs(name: str) -> Path:
    package, relative = REAL_FILES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        _absent(
            f"{package} is not installed; run `pip install --no-deps {package}` for its FCS files"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        _absent(f"{path} not found in the installed {package}")
    return path


@pytest.fixture
def gatingml(shared_fixtures: Path) -> Path:
    """The ISAC Gating-ML 2.0 compliance suite (data1.fcs, gml/, truth/)."""
    folder = shared_fixtures / "gatingml"
    if not (folder / "data1.fcs").is_file():
        pytest.skip(f"Gating-ML compliance fixtures not found at {folder}")
    return folder


@pytest.fixture
def real_fcs() -> Callable[[str], Path]:
    """``real_fcs(name)``: path of a real FCS file from an installed wheel (see REAL_FILES);
    skips the test, saying why, when the package is absent."""
    return _real_fcs


@pytest.fixture
def immuno_data() -> Path:
    """The folder of strategies written for these tests."""
    return DATA
