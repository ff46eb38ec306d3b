"""The public API of clestudy.immuno: sorted ``__all__``, every name exported."""

from __future__ import annotations

import clestudy.immuno as immuno


def test_all_is_sorted_and_exported() -> None:
    exported = list(immuno.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for name in exported:
        assert hasattr(immuno, name), name


def test_importing_immuno_does_not_import_flowkit() -> None:
    # FlowKit (with bokeh) takes seconds to import: only gating loads it
    import subprocess
    import sys

    code = "import sys, clestudy.immuno; print('flowkit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
