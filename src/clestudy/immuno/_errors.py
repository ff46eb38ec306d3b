"""Exceptions of the immune-profiling package; each names the file it is about."""

from __future__ import annotations

from clestudy.errors import InputError

__all__ = [
    "FcsFileError",
    "GatingStrategyError",
    "ManifestError",
    "MeasurementFileError",
    "PlateFileError",
]


class FcsFileError(InputError):
    """An FCS file that cannot be read, or that lacks a channel the strategy needs."""


class GatingStrategyError(InputError):
    """A Gating-ML file or FlowJo workspace that does not load, or names an unknown gate."""


class ManifestError(InputError):
    """A sample manifest that does not match the study or the files on disk."""


class PlateFileError(InputError):
    """A qPCR plate export with a missing column, a bad Ct or a missing gene."""


class MeasurementFileError(InputError):
    """A QuPath measurement export with a missing column or an unusable value."""
