"""Analysis tables read from the store: the tidy long table and per-endpoint wide tables.

``stats`` and ``report`` work on these DataFrames, so they behave the same on data from the
database, a REDCap export or a CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd

from clestudy.errors import NotFoundError
from clestudy.protocol._missing_codes import RESERVED_KEYS, coded_fields
from clestudy.store._service import Store

__all__ = ["endpoint_table", "tidy_table"]


def _numeric(value: object) -> object:
    if isinstance(value, str):
        try:
            return float(Decimal(value))
        except ArithmeticError:
            return value
    return value


def tidy_table(store: Store, *, include_incomplete: bool = False) -> pd.DataFrame:
    """One row per subject x visit x form x instance x item, with unit; derived values included.

    Columns: ``subject, visit, form, instance, status, item, value, unit, source, missing_code``
    where ``source`` is ``entered`` or ``derived:<instrument>/<version>``, ``status`` the
    record's, and ``missing_code`` the field's missing-data code (its ``value`` is then missing;
    :mod:`clestudy.protocol._missing_codes`), else missing.

    An ``incomplete`` record (a required field or a derived score's input is blank) is left out
    unless ``include_incomplete``: analyses and reports treat it as missing, never as a value
    computed from blanks. It has no derived score in any case.
    """
    rows: list[dict[str, object]] = []
    for record in store.records():
        if record.status == "incomplete" and not include_incomplete:
            continue
        form = store.protocol.form(record.form_id)
        if form is None:  # a form removed by a forced protocol amendment
            continue
        base = {
            "subject": record.subject_id,
            "visit": record.visit_id,
            "form": record.form_id,
            "instance": record.instance,
            "status": record.status,
        }
        coded = coded_fields(record.values)
        for item, value in record.values.items():
            if item in RESERVED_KEYS:
                continue
            spec = form.field(item)
            is_number = spec is not None and spec.type in ("integer", "decimal")
            rows.append(
                {
                    **base,
                    "item": item,
                    "value": _numeric(value) if is_number else value,
                    "unit": spec.unit if spec else None,
                    "source": "entered",
                }
            )
        for item, code in coded.items():
            spec = form.field(item)
            rows.append({**base, "item": item, "value": None, "unit": spec.unit if spec else None,
                         "source": "entered", "missing_code": code})  # fmt: skip
        for score in record.derived.values():
            for item, value in score["values"].items():
                rows.append(
                    {
                        **base,
                        "item": item,
                        "value": value,
                        "unit": None,
                        "source": f"derived:{score['instrument']}/{score['version']}",
                    }
                )
    columns = [
        "subject", "visit", "form", "instance", "status", "item", "value", "unit", "source",
        "missing_code",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def endpoint_table(
    store: Store, endpoint_ids: Sequence[str], visits: Sequence[str] | None = None
) -> pd.DataFrame:
    """Wide table for analysis: one row per subject x visit, one column per endpoint.

    Built from :func:`tidy_table`, so an incomplete record's endpoint is missing.

    Raises
    ------
    NotFoundError
        For an endpoint id that is not in the protocol.
    """
    tidy = tidy_table(store)
    frames = []
    for endpoint_id in endpoint_ids:
        endpoint = store.protocol.endpoint(endpoint_id)
        if endpoint is None:
            known = [e.id for e in store.protocol.endpoints]
            raise NotFoundError(f"unknown endpoint '{endpoint_id}' (endpoints: {known})")
        part = tidy[(tidy["form"] == endpoint.form) & (tidy["item"] == endpoint.item)]
        part = part[["subject", "visit", "value"]].rename(columns={"value": endpoint_id})
        part[endpoint_id] = pd.to_numeric(part[endpoint_id])
        frames.append(part.set_index(["subject", "visit"]))
    if not frames:
        return pd.DataFrame(columns=["subject", "visit"])
    wide = pd.concat(frames, axis=1).reset_index()
    if visits is not None:
        wide = wide[wide["visit"].isin(visits)]
    return wide.reset_index(drop=True)
