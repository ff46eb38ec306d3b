"""The safe expression language of declared edit checks, on :mod:`simpleeval` (never ``eval``).

A rule is one Python-like expression over the form's field ids, e.g. ``wbc >= neut + lym`` or
``days_between(exstdat, lbdat) <= 28``. It is parsed and name-checked when the protocol loads, so
a typo fails at ``clestudy protocol check``, not at the first save:

* names: the form's field ids, and the context dates ``today``, ``baseline_date``,
  ``birth_date`` and ``enrolment_date`` (a field id takes precedence over a context name);
* functions: ``abs``, ``min``, ``max``, ``len`` and ``days_between(start, end)`` (whole days);
* operators: arithmetic, comparisons, ``and``/``or``/``not``, ``in``, ``x if c else y``, and
  tuple or list literals; no attribute access, subscripts, comprehensions or f-strings.

Values reach the rule typed: integer fields as ``int``, decimal fields as :class:`~decimal.Decimal`
(so ``3.3 >= 1.1 + 2.2`` holds, as written), dates as :class:`datetime.date`, booleans as ``bool``,
single choices as their code and multiple choices as a tuple of codes. Decimal literals in a rule
are decimals too. The rule must give ``True`` or ``False``: a trial run with a value of each
field's type at load time refuses a rule that gives anything else or that mixes types
(``rsdat > 3``).
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import threading
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import simpleeval  # type: ignore[import-untyped]

from clestudy.errors import RecordValidationError
from clestudy.protocol._field_types import FIELD_TYPES
from clestudy.protocol._model import FieldSpec, FormSpec

__all__ = [
    "CONTEXT_NAMES",
    "FUNCTIONS",
    "evaluate",
    "expression_names",
    "expression_problems",
    "typed_value",
]

#: Context dates a rule may name (filled in by the store from the subject and the visit).
CONTEXT_NAMES: tuple[str, ...] = ("today", "baseline_date", "birth_date", "enrolment_date")


def days_between(start: dt.date, end: dt.date) -> int:
    """Whole days from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise TypeError("days_between takes two dates")
    return (end - start).days


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "days_between": days_between,
    "len": len,
    "max": max,
    "min": min,
}

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
)

MAX_EXPRESSION_NODES = 200


class _DecimalEval(simpleeval.EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval with decimal literals, so that a rule compares decimals exactly."""

    def _eval_constant(self, node: ast.Constant) -> object:
        if isinstance(node.value, float):
            return Decimal(repr(node.value))
        return node.value


def _parse(expression: str) -> ast.Expression | str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "1if x" parses with a SyntaxWarning: refuse it
        try:
            return ast.parse(expression.strip(), mode="eval")
        except (SyntaxError, SyntaxWarning, ValueError) as exc:
            return f"not a valid expression ({getattr(exc, 'msg', exc)})"


def expression_names(expression: str) -> list[str]:
    """The names a (valid) expression reads, in order of first appearance, functions excluded."""
    return list(_names(expression))


@functools.lru_cache(maxsize=4096)
def _names(expression: str) -> tuple[str, ...]:
    # cached: edit checks and data-quality rules ask for the names of the same few expressions
    # once per record (parsing and walking the tree each time was most of a study-wide run)
    tree = _parse(expression)
    if isinstance(tree, str):
        return ()
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in called and node.id not in names:
            names.append(node.id)
    return tuple(names)


def expression_problems(expression: str, allowed: set[str]) -> list[str]:
    """Why ``expression`` is not a valid rule over the names ``allowed`` (empty when it is)."""
    tree = _parse(expression)
    if isinstance(tree, str):
        return [tree]
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_EXPRESSION_NODES:
        return [f"too long ({len(nodes)} parts; at most {MAX_EXPRESSION_NODES})"]
    problems: list[str] = []
    for node in nodes:
        if not isinstance(node, _ALLOWED_NODES):
            problems.append(f"'{type(node).__name__}' is not allowed in a rule")
        elif isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS
        ):
            shown = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            problems.append(f"unknown function '{shown}' (known: {', '.join(sorted(FUNCTIONS))})")
        elif isinstance(node, ast.Call) and node.keywords:
            problems.append("functions take no keyword arguments")
    for name in expression_names(expression):
        if name not in allowed and name not in ("True", "False"):
            problems.append(f"unknown name '{name}' (not a field of the form)")
    return problems


@functools.lru_cache(maxsize=4096)
def _parsed(expression: str) -> ast.AST:
    # simpleeval's own parse, once per expression: a save evaluates the same few show-ifs and
    # rules on every record, and parsing and compiling them each time was most of their cost
    return simpleeval.SimpleEval.parse(expression.strip())  # type: ignore[no-any-return]


class _Evaluators(threading.local):
    """One evaluator per thread (an evaluator keeps the expression it runs; building one per
    call cost more than the evaluation)."""

    def __init__(self) -> None:
        self.evaluator = _DecimalEval(functions=dict(FUNCTIONS), names={})


_EVALUATORS = _Evaluators()


def evaluate(expression: str, names: Mapping[str, object]) -> object:
    """Evaluate a checked expression with ``names`` bound.

    Raises
    ------
    ArithmeticError, TypeError, ValueError
        What the expression raises; simpleeval's own refusals (e.g. a power too large) become
        ``ValueError``.
    """
    evaluator = _EVALUATORS.evaluator
    evaluator.names = dict(names)
    try:
        return evaluator.eval(expression, previously_parsed=_parsed(expression))
    except simpleeval.InvalidExpression as exc:
        raise ValueError(str(exc)) from None
    finally:
        evaluator.names = {}


def typed_value(field: FieldSpec, value: object, where: str) -> object:
    """A stored (or entered) value as the type a rule sees; see the module docstring."""
    try:
        return FIELD_TYPES[field.type].typed(value)
    except (InvalidOperation, ValueError, TypeError):
        raise RecordValidationError(
            f"{where}: field '{field.id}': {value!r} is not a valid {field.type} value"
        ) from None


def trial_problem(expression: str, form: FormSpec) -> str | None:
    """Run ``expression`` once on a value of each field's type; say what went wrong, if anything."""
    names: dict[str, object] = dict.fromkeys(CONTEXT_NAMES, dt.date(2000, 1, 1))
    names.update({f.id: FIELD_TYPES[f.type].sample(f) for f in form.fields})
    try:
        result = evaluate(expression, names)
    except ZeroDivisionError:
        return None
    except (TypeError, ValueError, ArithmeticError) as exc:
        return f"cannot be evaluated on values of the fields' types ({exc})"
    if not isinstance(result, bool):
        return f"must give true or false, not a {type(result).__name__}"
    return None
