"""clestudy: clinical treatment studies in cutaneous lupus, from first visit to published table.

The package is layered (see ``docs/architecture.md``):

* the pure core -- :mod:`clestudy.protocol`, :mod:`clestudy.instruments`, :mod:`clestudy.stats`,
  :mod:`clestudy.immuno` -- knows nothing of databases, HTTP or the terminal;
* :mod:`clestudy.store` owns the database and is the only write path, with its audit trail;
* :mod:`clestudy.report` lays out tables and figures from store reads and stats results;
* :mod:`clestudy.cli` is a thin command-line layer over all of them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("clestudy")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
