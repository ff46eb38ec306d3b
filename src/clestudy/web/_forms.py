"""Data-entry forms generated from the protocol: widgets, layout, and reading a posted form.

Each protocol field becomes a labelled input by its type (integer: a number box, or a list of its
allowed values; decimal: text with a decimal keyboard, stored as the exact text entered; text;
date; boolean and single choice: a list with a blank; multiple choice: a group of check boxes).
Two instruments get a widget of their own, found from the protocol's derived scores rather than
from the form's name:

* a form scored by ``clasi`` shows its 51 area items as a body-area grid (areas × erythema,
  scale, dyspigmentation, scarring), followed by the global items;
* a form scored by ``sledai2k`` shows its descriptors as a check list with their weights.

The posted form is read back into raw values (``None`` for a blank, a list for a multiple choice)
that the store validates; nothing here validates or scores.

Show-if: which fields the entered values hide is decided on the server by the protocol's own
evaluator (:func:`clestudy.protocol.hidden_fields`), when the page is drawn and on each live
preview; the page's script only toggles what the server says. :func:`to_clear` lists the hidden
fields that hold a value, which the page asks about before a save clears them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from clestudy.instruments import CLASI_AREAS, SLEDAI2K_DESCRIPTORS
from clestudy.protocol import FieldSpec, FormSpec, Protocol, hidden_fields

__all__ = [
    "CLASI_ITEMS",
    "FormLayout",
    "Section",
    "form_layout",
    "posted_values",
    "shown_value",
    "to_clear",
]

#: The CLASI area items, in the column order of the grid (Albrecht 2005).
CLASI_ITEMS = ("erythema", "scale", "dyspigmentation", "scarring")


@dataclass
class Section:
    """A run of fields drawn one way: ``"fields"``, ``"clasi_grid"`` or ``"sledai_checklist"``."""

    kind: str
    title: str
    fields: list[FieldSpec] = field(default_factory=list)
    grid: list[tuple[str, list[FieldSpec | None]]] = field(default_factory=list)
    weights: dict[str, int] = field(default_factory=dict)


@dataclass
class FormLayout:
    """The sections of a form, in form order."""

    form: FormSpec
    sections: list[Section]
    checklist: frozenset[str] = frozenset()


def _instruments(protocol: Protocol, form: FormSpec) -> set[str]:
    return {d.instrument for d in protocol.derived_for_form(form.id)}


def form_layout(protocol: Protocol, form: FormSpec) -> FormLayout:
    """Lay a form out in sections: plain fields, the CLASI grid, the SLEDAI-2K check list."""
    instruments = _instruments(protocol, form)
    grid_ids: set[str] = set()
    grid_rows: list[tuple[str, list[FieldSpec | None]]] = []
    if "clasi" in instruments:
        for area in CLASI_AREAS:
            # the scalp has no area scarring item: ``scalp_scarring`` is the separate 0/3/4/5/6
            # global item of the CLASI (clestudy.instruments CLASI_FIELDS), not a grid cell
            cells = [
                None if (area, item) == ("scalp", "scarring") else form.field(f"{area}_{item}")
                for item in CLASI_ITEMS
            ]
            if any(cells):
                grid_rows.append((area, cells))
                grid_ids.update(c.id for c in cells if c is not None)
    checklist: set[str] = set()
    if "sledai2k" in instruments:
        checklist = {
            f.id for f in form.fields if f.id in SLEDAI2K_DESCRIPTORS and f.type == "boolean"
        }
    sections: list[Section] = []
    for spec in form.fields:
        if spec.id in grid_ids:
            if not any(s.kind == "clasi_grid" for s in sections):
                sections.append(Section("clasi_grid", "CLASI body areas", grid=grid_rows))
            continue
        kind = "sledai_checklist" if spec.id in checklist else "fields"
        if not sections or sections[-1].kind != kind:
            title = "SLEDAI-2K descriptors" if kind == "sledai_checklist" else ""
            sections.append(Section(kind, title))
        sections[-1].fields.append(spec)
        if kind == "sledai_checklist":
            sections[-1].weights[spec.id] = SLEDAI2K_DESCRIPTORS[spec.id]
    return FormLayout(form, sections, frozenset(checklist))


def posted_values(layout: FormLayout, posted: FormData) -> dict[str, Any]:
    """The raw values of every field of the form from a posted HTML form.

    A blank is ``None`` (it clears the field); a multiple choice is the list of ticked codes
    (``None`` when none is ticked); a check-list box sends ``false`` from a hidden input before
    it, so the last value posted wins.
    """
    values: dict[str, Any] = {}
    for spec in layout.form.fields:
        if spec.type == "multiple_choice":
            chosen = [v for v in posted.getlist(spec.id) if isinstance(v, str) and v]
            values[spec.id] = chosen or None
            continue
        sent = [v for v in posted.getlist(spec.id) if isinstance(v, str)]
        text = sent[-1].strip() if sent else ""
        values[spec.id] = text or None
    return values


def shown_value(spec: FieldSpec, values: Mapping[str, Any]) -> Any:
    """A stored or entered value as the widget shows it (booleans as ``true``/``false``)."""
    value = values.get(spec.id)
    if value is None:
        return [] if spec.type == "multiple_choice" else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if spec.type == "multiple_choice":
        return list(value) if isinstance(value, list | tuple) else [value]
    return str(value)


def _holds_value(value: object) -> bool:
    return value not in (None, "", [], ())


def to_clear(
    form: FormSpec, entered: Mapping[str, Any], stored: Mapping[str, Any]
) -> dict[str, str]:
    """The fields that the ``entered`` values hide although they hold a value (entered or
    stored), each with its show-if: a save clears them, so the page asks first.

    >>> from clestudy.protocol import load_protocol
    >>> ae = load_protocol("lenalidomide-cle-open-label").form("ae")
    >>> to_clear(ae, {"aeout": "RECOVERING/RESOLVING"}, {"aeendat": "2024-03-20"})
    {'aeendat': "aeout not in ('RECOVERING/RESOLVING', 'NOT RECOVERED/NOT RESOLVED')"}
    >>> to_clear(ae, {"aeout": "RECOVERED/RESOLVED"}, {"aeendat": "2024-03-20"})
    {}
    """
    return {
        name: why
        for name, why in hidden_fields(form, entered).items()
        if _holds_value(entered.get(name)) or _holds_value(stored.get(name))
    }
