"""Cross-reference checks of a protocol that validated as a model.

Each check yields ``(YAML path, message)``; the loader turns the path into a line. They catch what
a per-field type cannot: a visit naming a form that does not exist, an endpoint naming a field not
on its form, an analysis naming an unknown visit, duplicated ids, a ``visit_date`` that is not a
date field, edit-check rules and show-ifs that do not parse or name unknown fields, and sex
codes outside CDISC controlled terminology.
"""

from __future__ import annotations

from collections.abc import Iterator

from clestudy.instruments import InputSpec, InstrumentInputError, instrument_inputs
from clestudy.protocol._expressions import CONTEXT_NAMES, expression_problems, trial_problem
from clestudy.protocol._model import FieldSpec, Protocol
from clestudy.protocol._quality import quality_rule_errors
from clestudy.protocol._sdtm_mapping import sdtm_mapping_errors
from clestudy.protocol._show_if import show_if_errors

__all__ = ["CDISC_SEX_CODES", "Loc", "reference_errors"]

Loc = tuple[str | int, ...]

#: CDISC controlled terminology C66731 (Sex) submission values.
CDISC_SEX_CODES: frozenset[str] = frozenset({"F", "M", "U", "UNDIFFERENTIATED"})


def reference_errors(p: Protocol) -> Iterator[tuple[Loc, str]]:
    """Yield (path, message) for every broken cross-reference or duplicated id."""
    id_lists: tuple[tuple[str, list[str]], ...] = (
        ("arms", [a.id for a in p.arms]),
        ("sites", [s.id for s in p.sites]),
        ("visits", [v.id for v in p.visits]),
        ("forms", [f.id for f in p.forms]),
        ("derived_scores", [d.id for d in p.derived_scores]),
        ("endpoints", [e.id for e in p.endpoints]),
    )
    for name, ids in id_lists:
        seen: set[str] = set()
        for i, item_id in enumerate(ids):
            if item_id in seen:
                yield (name, i, "id"), f"duplicated id '{item_id}'"
            seen.add(item_id)
    form_ids = [f.id for f in p.forms]
    for fi, form_spec in enumerate(p.forms):
        seen_fields: set[str] = set()
        for j, field in enumerate(form_spec.fields):
            if field.id in seen_fields:
                yield ("forms", fi, "fields", j, "id"), f"duplicated field id '{field.id}'"
            seen_fields.add(field.id)
    for vi, visit in enumerate(p.visits):
        for k, form_id in enumerate(visit.forms):
            if form_id not in form_ids:
                yield ("visits", vi, "forms", k), f"unknown form '{form_id}' (known: {form_ids})"
    for di, derived in enumerate(p.derived_scores):
        if derived.form not in form_ids:
            yield ("derived_scores", di, "form"), f"unknown form '{derived.form}'"
    for ei, endpoint in enumerate(p.endpoints):
        form = p.form(endpoint.form)
        if form is None:
            yield ("endpoints", ei, "form"), f"unknown form '{endpoint.form}'"
            continue
        if form.field(endpoint.item) is None and not p.derived_for_form(form.id):
            yield (
                ("endpoints", ei, "item"),
                f"'{endpoint.item}' is not a field of form '{form.id}'",
            )
    yield from _form_field_errors(p)
    yield from _instrument_errors(p)
    yield from _reference_range_errors(p)
    yield from _check_errors(p)
    yield from _randomization_errors(p)
    yield from show_if_errors(p)
    yield from quality_rule_errors(p)
    yield from sdtm_mapping_errors(p)
    visit_ids = [v.id for v in p.visits]
    endpoint_ids = [e.id for e in p.endpoints]
    for ai, analysis in enumerate(p.analysis_plan):
        if analysis.endpoint not in endpoint_ids:
            yield ("analysis_plan", ai, "endpoint"), f"unknown endpoint '{analysis.endpoint}'"
        for key in ("before_visit", "after_visit"):
            value = getattr(analysis, key)
            if value not in visit_ids:
                yield ("analysis_plan", ai, key), f"unknown visit '{value}' (known: {visit_ids})"


def _form_field_errors(p: Protocol) -> Iterator[tuple[Loc, str]]:
    """A ``visit_date`` that is not a date field; sex codes outside CDISC C66731."""
    for fi, form in enumerate(p.forms):
        if form.visit_date is not None:
            field = form.field(form.visit_date)
            if field is None or field.type != "date":
                yield (
                    ("forms", fi, "visit_date"),
                    f"'{form.visit_date}' is not a date field of the form",
                )
        for j, field in enumerate(form.fields):
            if field.cdash != "SEX":
                continue
            bad = [c.code for c in field.choices if c.code not in CDISC_SEX_CODES]
            if bad or field.type != "single_choice":
                yield (
                    ("forms", fi, "fields", j),
                    f"field '{field.id}' (CDASH SEX) must be a single choice of the CDISC sex "
                    f"codes {sorted(CDISC_SEX_CODES)}; got {bad or field.type}",
                )


def _check_errors(p: Protocol) -> Iterator[tuple[Loc, str]]:
    """Edit checks: known form, unique ids, rules that parse, name fields and run on them."""
    seen: set[str] = set()
    for ci, check in enumerate(p.edit_checks):
        if check.id in seen or check.id.startswith("builtin"):
            what = "duplicated" if check.id in seen else "reserved (built-in checks)"
            yield ("edit_checks", ci, "id"), f"{what} check id '{check.id}'"
        seen.add(check.id)
        form = p.form(check.form)
        if form is None:
            yield ("edit_checks", ci, "form"), f"unknown form '{check.form}'"
            continue
        allowed = {f.id for f in form.fields} | set(CONTEXT_NAMES)
        for key in ("rule", "when"):
            expression = getattr(check, key)
            if expression is None:
                continue
            problems = expression_problems(expression, allowed)
            trial = None if problems else trial_problem(expression, form)
            for problem in [*problems, *([trial] if trial else [])]:
                yield ("edit_checks", ci, key), f"{expression!r}: {problem}"
        for k, field_id in enumerate(check.fields):
            if form.field(field_id) is None:
                yield (
                    ("edit_checks", ci, "fields", k),
                    (f"'{field_id}' is not a field of form '{form.id}'"),
                )


#: Integer ranges up to this size are compared value by value with an instrument's inputs.
_ENUMERABLE = 10_000


def _disagreement(field: FieldSpec, spec: InputSpec) -> str | None:
    """Why ``field`` would let through a value that the instrument input ``spec`` refuses."""
    kinds = {
        "integer": ("integer",),
        "decimal": ("integer", "decimal"),
        "boolean": ("boolean",),
        "text": ("text", "single_choice"),
    }
    if field.type not in kinds.get(spec.type, ()):
        return f"is a {field.type} field"
    if field.type == "single_choice" and spec.allowed:
        extra = [c.code for c in field.choices if c.code not in spec.allowed]
        return f"has codes {extra}" if extra else None
    if field.type != "integer" and field.type != "decimal":
        return None
    if field.allowed:
        values: list[float] | None = list(field.allowed)
    elif field.min is not None and field.max is not None and field.max - field.min < _ENUMERABLE:
        values = list(range(int(-(-field.min // 1)), int(field.max // 1) + 1))
    else:
        values = None
    if field.type == "integer" and values is not None:
        refused = [v for v in values if not spec.accepts(int(v))]
        return f"allows {refused}" if refused else None
    low_ok = spec.minimum is None or (field.min is not None and spec.accepts(field.min))
    high_ok = spec.maximum is None or (field.max is not None and spec.accepts(field.max))
    if spec.allowed or not (low_ok and high_ok):
        shown = f"{'-inf' if field.min is None else field.min} to {field.max or 'inf'}"
        return f"allows {shown}"
    return None


def _instrument_errors(p: Protocol) -> Iterator[tuple[Loc, str]]:
    """A derived score's form fields must allow only what the instrument's inputs accept."""
    for di, derived in enumerate(p.derived_scores):
        try:
            inputs = instrument_inputs(derived.instrument)
        except InstrumentInputError as exc:
            yield ("derived_scores", di, "instrument"), str(exc)
            continue
        fi, form = next(((i, f) for i, f in enumerate(p.forms) if f.id == derived.form), (0, None))
        if form is None:
            continue
        for j, field in enumerate(form.fields):
            spec = inputs.get(field.id)
            problem = _disagreement(field, spec) if spec is not None else None
            if problem is not None:
                yield (
                    ("forms", fi, "fields", j),
                    f"field '{field.id}' {problem}; instrument '{derived.instrument}' "
                    f"accepts only {spec.describe() if spec else ''} for it",
                )


def _reference_range_errors(p: Protocol) -> Iterator[tuple[Loc, str]]:
    """A reference range names a numeric field of its form, in the field's unit, once."""
    seen: dict[tuple[object, ...], int] = {}
    for ri, ref in enumerate(p.reference_ranges):
        form = p.form(ref.form)
        field = form.field(ref.field) if form is not None else None
        if form is None:
            yield ("reference_ranges", ri, "form"), f"unknown form '{ref.form}'"
            continue
        if field is None or field.type not in ("integer", "decimal"):
            yield (
                ("reference_ranges", ri, "field"),
                f"'{ref.field}' is not a numeric field of form '{form.id}'",
            )
            continue
        if ref.unit != field.unit:
            yield (
                ("reference_ranges", ri, "unit"),
                f"'{ref.unit}' is not the unit of field '{field.id}' ({field.unit})",
            )
        key = (ref.form, ref.field, ref.sex, ref.age_min, ref.age_max)
        if key in seen:
            yield (
                ("reference_ranges", ri),
                f"the same range as reference_ranges[{seen[key]}] (form, field, sex and ages)",
            )
        seen.setdefault(key, ri)


def _randomization_errors(p: Protocol) -> Iterator[tuple[Loc, str]]:
    """The randomization section names the protocol's arms, a form of its visit, and
    categorical fields of that form."""
    spec = p.randomization
    if spec is None:
        return
    arms = [a.id for a in p.arms]
    if sorted(spec.ratio) != sorted(arms):
        yield ("randomization", "ratio"), f"the ratio must name every arm {arms}, no other"
    visit = p.visit(spec.visit)
    if visit is None:
        yield ("randomization", "visit"), f"unknown visit '{spec.visit}'"
    elif spec.form not in visit.forms:
        yield ("randomization", "form"), f"form '{spec.form}' is not collected at '{visit.id}'"
    form = p.form(spec.form)
    if form is None:
        yield ("randomization", "form"), f"unknown form '{spec.form}'"
        return
    if form.repeating:
        yield ("randomization", "form"), f"form '{form.id}' repeats; strata need one record"
    for i, field_id in enumerate(spec.strata):
        field = form.field(field_id)
        if field is None:
            yield ("randomization", "strata", i), f"'{field_id}' is not a field of '{form.id}'"
        elif field.type not in ("single_choice", "boolean"):
            yield (
                ("randomization", "strata", i),
                f"field '{field_id}' is {field.type}: only single_choice and boolean fields "
                "stratify",
            )
