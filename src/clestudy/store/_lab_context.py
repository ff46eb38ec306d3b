"""The inputs a lab form's CTCAE grades need beyond the form: ranges, units and baselines.

Before a record's derived scores are computed, a form with a ``ctcaelabs`` derived score gets, for
each lab field whose CDASH annotation names a gradable ``LBTESTCD`` (``LBORRES (LBTESTCD=ALT)``):

* ``CODE``: the field's value (the code is the field's ``LBTESTCD`` in lower case);
* ``CODE_unit``: the field's declared unit;
* ``CODE_lln`` / ``CODE_uln``: the protocol's ``reference_ranges`` for the field, for the
  subject's sex (CDASH ``SEX``) and age at the lab date (``LBDAT`` or the form's visit date,
  against ``BRTHDAT``; else the recorded ``AGE``);
* ``CODE_baseline``: the subject's value of the same field at the protocol's baseline visit (none
  when this record *is* the baseline: the baseline is graded against its ranges only).

A lab with no range for the subject gets no limit, so the instrument leaves it ungraded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clestudy.instruments._ctcae_labs import LAB_TESTCD_TERMS
from clestudy.protocol import FormSpec, Protocol
from clestudy.protocol._field_types import stored_date
from clestudy.store._checks import _baseline_visit, _field_with_cdash

__all__ = ["lab_context"]

_INSTRUMENT = "ctcaelabs"
_TESTCD = re.compile(r"LBTESTCD\s*=\s*([A-Za-z0-9]+)")
_DAYS_PER_YEAR = 365.25


def _number(value: object) -> float | None:
    """A stored lab value (decimals are stored as their exact text) as a number; blank is None."""
    if value in (None, ""):
        return None
    return float(value) if isinstance(value, str | int | float) else None


def _lab_codes(form: FormSpec) -> dict[str, str]:
    """Field id -> lower-case LBTESTCD, for the gradable labs of ``form``."""
    codes: dict[str, str] = {}
    for field in form.fields:
        found = _TESTCD.search(field.cdash or "")
        if found is not None and found.group(1).lower() in LAB_TESTCD_TERMS:
            codes[field.id] = found.group(1).lower()
    return codes


def _value(protocol: Protocol, by_form: Mapping[str, Mapping[str, Any]], cdash: str) -> Any:
    found = _field_with_cdash(protocol, (cdash,)) if cdash != "AGE" else None
    if cdash == "AGE":
        for spec in protocol.forms:
            for field in spec.fields:
                if field.cdash == "AGE":
                    found = (spec.id, field.id)
    return None if found is None else by_form.get(found[0], {}).get(found[1])


def _sex_and_age(
    protocol: Protocol, form: FormSpec, values: Mapping[str, Any], by_form: Mapping[str, Any]
) -> tuple[str | None, float | None]:
    sex = next(
        (
            by_form.get(spec.id, {}).get(f.id)
            for spec in protocol.forms
            for f in spec.fields
            if f.cdash == "SEX"
        ),
        None,
    )
    lab_field = next((f.id for f in form.fields if f.cdash == "LBDAT"), form.visit_date)
    lab_date = stored_date(values.get(lab_field)) if lab_field else None
    birth = stored_date(_value(protocol, by_form, "BRTHDAT"))
    if lab_date is not None and birth is not None:
        age: float | None = (lab_date - birth).days / _DAYS_PER_YEAR
    else:
        recorded = _value(protocol, by_form, "AGE")
        age = float(recorded) if isinstance(recorded, int | float) else None
    return (sex if sex in ("F", "M") else None), age


def lab_context(
    protocol: Protocol, stored: Mapping[tuple[str, str], Mapping[str, Any]], visit_id: str,
    form: FormSpec, values: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The record's values plus the ``ctcaelabs`` inputs of its labs (see the module docstring).

    ``stored`` is the subject's stored values, ``{(visit, form): values}`` of the first instance
    of each form in record order (the batch's earlier saves included). A form without a ``ctcaelabs`` derived score gets its values back unchanged.
    """
    if not any(s.instrument == _INSTRUMENT for s in protocol.derived_for_form(form.id)):
        return dict(values)
    by_form = {form_key: v for (_, form_key), v in stored.items()}
    sex, age = _sex_and_age(protocol, form, values, by_form)
    baseline_visit = _baseline_visit(protocol)
    baseline = {} if visit_id == baseline_visit else stored.get((baseline_visit, form.id), {})
    out = dict(values)
    for field_id, code in _lab_codes(form).items():
        field = next(f for f in form.fields if f.id == field_id)
        out[code] = _number(values.get(field_id))
        out[f"{code}_unit"] = field.unit
        ref = protocol.reference_range(form.id, field_id, sex=sex, age=age)
        if ref is not None:
            out[f"{code}_lln"] = ref.lln if ref.lln else None
            out[f"{code}_uln"] = ref.uln
        out[f"{code}_baseline"] = _number(baseline.get(field_id)) or None
    return out
