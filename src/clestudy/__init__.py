"""clestudy: clinical treatment studies in cutaneous lupus, from first visit to published table.

The package is layered (see ``docs/architecture.md``):

* the pure core -- :mod:`clestudy.protocol`, :mod:`clestudy.instruments`, :mod:`clestudy.stats`,
  :mod:`clestudy.immuno` -- knows nothing of databases, HTTP or the terminal;
* :mod:`clestudy.store` owns the database and is the only write path, with its audit trail;
* :mod:`clestudy.report` lays out tables and figures from store reads and stats results;
* :mod:`clestudy.cli` is a thin command-line layer over all of them.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__: str  # declared only: the value comes from __getattr__ below, on first use


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use (PEP 562).

    :mod:`importlib.metadata` costs a noticeable part of ``clestudy --help``'s start-up, so it is
    imported only when the version is asked for.
    """
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("clestudy")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        value = "0.0.0+unknown"
    globals()["__version__"] = value
    return value
