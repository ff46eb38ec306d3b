"""Load a protocol from YAML and validate it, with errors that name the YAML path and line.

Errors come from two places: the pydantic model (types, ranges, required keys) and the
cross-reference checks below (a visit naming a form that does not exist, an endpoint naming a field
that is not on its form, an analysis naming an unknown visit, duplicated ids). Both are reported as
one :class:`~clestudy.errors.ProtocolError` line: ``FILE:LINE: PATH: message``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from clestudy.errors import ProtocolError
from clestudy.protocol._expressions import CONTEXT_NAMES, expression_problems, trial_problem
from clestudy.protocol._model import Protocol

__all__ = ["BUILTIN_PROTOCOLS", "load_protocol", "parse_protocol"]

BUILTIN_PROTOCOLS: tuple[str, ...] = ("lenalidomide-cle-open-label", "pediatric-cle-chart-review")

Loc = tuple[str | int, ...]


def _format_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<document>"


def _line_index(text: str) -> dict[Loc, int]:
    """Map every YAML path to its 1-based line, walking the composed node tree."""
    index: dict[Loc, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return index

    def walk(node: yaml.Node, loc: Loc) -> None:
        index[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*loc, str(key.value)))
                index[(*loc, str(key.value))] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*loc, i))

    if root is not None:
        walk(root, ())
    return index


def _line_for(index: dict[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in index:
            return index[loc[:end]]
    return None


def _reference_errors(p: Protocol) -> Iterator[tuple[Loc, str]]:
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
    yield from _form_date_errors(p)
    yield from _check_errors(p)
    visit_ids = [v.id for v in p.visits]
    endpoint_ids = [e.id for e in p.endpoints]
    for ai, analysis in enumerate(p.analysis_plan):
        if analysis.endpoint not in endpoint_ids:
            yield ("analysis_plan", ai, "endpoint"), f"unknown endpoint '{analysis.endpoint}'"
        for key in ("before_visit", "after_visit"):
            value = getattr(analysis, key)
            if value not in visit_ids:
                yield ("analysis_plan", ai, key), f"unknown visit '{value}' (known: {visit_ids})"


def _form_date_errors(p: Protocol) -> Iterator[tuple[Loc, str]]:
    for fi, form in enumerate(p.forms):
        if form.visit_date is None:
            continue
        field = form.field(form.visit_date)
        if field is None or field.type != "date":
            yield (
                ("forms", fi, "visit_date"),
                f"'{form.visit_date}' is not a date field of the form",
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


def parse_protocol(text: str, source: str = "<protocol>") -> Protocol:
    """Parse and validate protocol YAML text.

    Raises
    ------
    ProtocolError
        On the first problem, as ``SOURCE:LINE: YAML.PATH: message``.

    Examples
    --------
    >>> parse_protocol("id: x\\ntitle: T\\nversion: '1'\\narms: []\\n", "p.yaml")
    Traceback (most recent call last):
    ...
    clestudy.errors.ProtocolError: p.yaml:4: arms: Tuple should have at least 1 item after validation, not 0
    """
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProtocolError(f"{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"{source}: a protocol must be a YAML mapping at the top level")
    index = _line_index(text)
    try:
        protocol = Protocol.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc: Loc = tuple(first["loc"])
        line = _line_for(index, loc)
        where = f"{source}:{line}" if line else source
        msg = first["msg"].removeprefix("Value error, ")
        raise ProtocolError(f"{where}: {_format_path(loc)}: {msg}") from None
    for loc, msg in _reference_errors(protocol):
        line = _line_for(index, loc)
        where = f"{source}:{line}" if line else source
        raise ProtocolError(f"{where}: {_format_path(loc)}: {msg}")
    return protocol


def load_protocol(name_or_path: str | Path) -> Protocol:
    """Load a built-in protocol by name, or a protocol YAML file by path.

    Examples
    --------
    >>> load_protocol("pediatric-cle-chart-review").visits[1].id
    'month_6'
    """
    name = str(name_or_path)
    if name in BUILTIN_PROTOCOLS:
        res = resources.files("clestudy.protocol").joinpath("builtin", f"{name}.yaml")
        return parse_protocol(res.read_text(encoding="utf-8"), f"{name}.yaml")
    path = Path(name)
    if not path.is_file():
        raise ProtocolError(
            f"{name}: no such protocol file, and not a built-in protocol "
            f"(built-in: {', '.join(BUILTIN_PROTOCOLS)})"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"{path}: byte {exc.start}: not UTF-8 text ({exc.reason}); save the protocol as UTF-8"
        ) from None
    return parse_protocol(text, str(path))
