"""A small study for the SDTM tests: a DM form and an AE form, written through the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from clestudy.protocol import Protocol

__all__ = ["read_both", "small_protocol"]


def small_protocol(**extra: Any) -> Protocol:
    """Two forms (DM at screening, a repeating AE form), ``extra`` top-level keys added."""
    return Protocol.model_validate({
        "id": "sdtm-small", "title": "SDTM small study", "version": "1",
        "arms": [{"id": "a", "name": "Arm A"}], "sites": [{"id": "s1", "name": "Site 1"}],
        "visits": [{"id": "day_0", "name": "Day 0", "day": 0, "forms": ["dm", "ae"]}],
        "forms": [
            {"id": "dm", "name": "Demographics", "domain": "DM", "fields": [
                {"id": "sex", "label": "Sex", "type": "single_choice", "cdash": "SEX",
                 "choices": [{"code": "F", "label": "Female"}, {"code": "M", "label": "Male"}]},
            ]},
            {"id": "ae", "name": "Adverse events", "domain": "AE", "repeating": True, "fields": [
                {"id": "aeterm", "label": "Reported term", "type": "text", "cdash": "AETERM"},
                {"id": "aestdat", "label": "Start date", "type": "date", "cdash": "AESTDAT"},
                {"id": "aeser", "label": "Serious", "type": "boolean", "cdash": "AESER"},
                {"id": "aenote", "label": "Investigator note", "type": "text"},
            ]},
        ],
        **extra,
    })  # fmt: skip


def read_both(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The XPT file read by pyreadstat and by pandas ``read_sas`` (the two must agree)."""
    frame, _ = pyreadstat.read_xport(str(path))
    by_pandas = pd.read_sas(str(path), format="xport", encoding="ascii")
    assert list(by_pandas.columns) == list(frame.columns) and len(by_pandas) == len(frame)
    return frame, by_pandas
