"""REDCap branching logic translated into the protocol's show-if, where the language can say it.

REDCap shows a field when its branching logic is true (REDCap Help & FAQ, "Branching Logic";
docs/references.md [REDCap branching]). The common part of that language has a direct
translation into the edit-check expression language that clestudy's show-if uses
(:mod:`clestudy.protocol._show_if`):

==========================================  ==================================================
REDCap                                      show-if
==========================================  ==================================================
``[sex] = '1'`` (radio, dropdown)           ``sex == '1'`` (the choice code)
``[smoker] = '1'`` (yesno, truefalse)       ``smoker == True`` (``'0'``: ``False``)
``[age] >= 18``, ``[dose] < '2.5'``         ``age >= 18``, ``dose < 2.5`` (integer, decimal)
``[name] = 'x'`` (text)                     ``name == 'x'`` (``=`` and ``<>`` only)
``[f(2)] = '1'`` / ``'0'`` (checkbox)       ``'2' in f`` / ``'2' not in f``
``[x] <> ''`` / ``[x] = ''``                ``x != None`` / ``x == None``
``<>``, ``!=``; ``and``, ``or``, ``( )``    ``!=``; ``and``, ``or``, ``( )``
==========================================  ==================================================

An empty field reads as REDCap reads it (``''``): ``[x] = '1'`` is false and ``[x] <> '1'`` true
when ``x`` is blank (show-if: ``None == '1'`` is false, ``None != '1'`` true), and an ordering
(``[age] > 18``) on a blank is false in both.

Anything else is kept but not translated, with the reason: a field of another form (show-if reads
only its own form) or of another event (``[event][field]``), the field's own value, smart
variables, functions (``datediff``, ``sum``, ``if``...), an ordering of text, choice or date
values, a value that does not fit its field. The field keeps the original text in
``branching_logic`` either way, so that the dictionary exports back unchanged; a field with
branching logic and no ``show_if`` is flagged (shown always, nothing enforced) in the import's
report.

The other way, a native field's show-if is written as REDCap branching logic when the export
needs it (:func:`branching_from_show_if`: comparisons of a field with a value, ``in`` / ``not in``
a list of values, a code ``in`` a multiple choice, ``and``, ``or``); a show-if beyond that is
left out of the dictionary (the field is then always shown in REDCap).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from clestudy.protocol import FieldSpec
from clestudy.protocol._expressions import expression_problems

__all__ = ["Translation", "branching_from_show_if", "translate_branching"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ref>\[[^\[\]]+\])
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<op><>|!=|>=|<=|=|<|>)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z_][\w-]*)
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)
_REF = re.compile(r"^\[([a-z][a-z0-9_]*)(?:\(([^()]+)\))?\]$")
_PYTHON_OP = {"=": "==", "<>": "!=", "!=": "!=", ">=": ">=", "<=": "<=", ">": ">", "<": "<"}


@dataclass(frozen=True)
class Translation:
    """A branching logic's show-if, or ``None`` with the ``reason`` it has none."""

    show_if: str | None
    reason: str | None = None


class _UntranslatableError(Exception):
    """The logic uses what show-if cannot say (the message says what)."""


@dataclass
class _Parser:
    tokens: list[tuple[str, str]]
    field: FieldSpec
    fields: dict[str, FieldSpec]
    at: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _UntranslatableError("the logic ends too early")
        self.at += 1
        return token

    def _chain(self, word: str, part: Callable[[], str]) -> str:
        parts = [part()]
        while self.peek() == ("word", word):
            self.at += 1
            parts.append(part())
        return f" {word} ".join(parts)

    def expression(self) -> str:
        return self._chain("or", self.conjunction)

    def conjunction(self) -> str:
        return self._chain("and", self.primary)

    def primary(self) -> str:
        token = self.peek()
        if token == ("paren", "("):
            self.at += 1
            inner = self.expression()
            if self.take() != ("paren", ")"):
                raise _UntranslatableError("unbalanced parentheses")
            return f"({inner})"
        return self.comparison()

    def comparison(self) -> str:
        left = self.take()
        op = self.take()
        right = self.take()
        if op[0] != "op":
            raise _UntranslatableError(f"'{op[1]}' where a comparison was expected")
        if left[0] != "ref" and right[0] == "ref":
            flipped = {">": "<", "<": ">", ">=": "<=", "<=": ">="}
            left, right, op = right, left, ("op", flipped.get(op[1], op[1]))
        if left[0] != "ref" or right[0] not in ("str", "num"):
            raise _UntranslatableError(
                f"{left[1]} {op[1]} {right[1]}: only a field compared with a value is translated"
            )
        return self.compare(left[1], op[1], right)

    def compare(self, ref: str, op: str, value: tuple[str, str]) -> str:
        match = _REF.match(ref)
        if match is None:
            raise _UntranslatableError(f"{ref} is a smart variable or not a field of this form")
        name, code = match.group(1), match.group(2)
        spec = self.fields.get(name)
        if spec is None:
            raise _UntranslatableError(
                f"{ref} is not a field of this form (show-if reads its own form)"
            )
        if name == self.field.id:
            raise _UntranslatableError(f"{ref} is the field itself")
        text = value[1][1:-1] if value[0] == "str" else value[1]
        python_op = _PYTHON_OP[op]
        if code is not None:
            return _checkbox(spec, ref, code, op, text)
        if text == "" and op in ("=", "<>", "!="):
            return f"{name} {'==' if op == '=' else '!='} None"
        if spec.type == "boolean":
            if text not in ("0", "1") or op not in ("=", "<>", "!="):
                raise _UntranslatableError(f"{ref} {op} {value[1]}: a yes/no field is 1 or 0")
            return f"{name} {python_op} {text == '1'}"
        if spec.type in ("integer", "decimal"):
            return f"{name} {python_op} {_number(spec, ref, text)}"
        if op not in ("=", "<>", "!="):
            raise _UntranslatableError(f"{ref} {op} {value[1]}: ordering a {spec.type} value")
        if spec.type == "single_choice" and text not in {c.code for c in spec.choices}:
            raise _UntranslatableError(f"{ref} {op} {value[1]}: not a code of the field")
        if spec.type not in ("single_choice", "text"):
            raise _UntranslatableError(f"{ref} {op} {value[1]}: comparing a {spec.type} value")
        return f"{name} {python_op} {text!r}"


def _number(spec: FieldSpec, ref: str, text: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _UntranslatableError(f"{ref}: '{text}' is not a number") from None
    if spec.type == "integer" and number != number.to_integral_value():
        raise _UntranslatableError(f"{ref}: '{text}' is not an integer")
    return str(int(number)) if spec.type == "integer" else str(number)


def _checkbox(spec: FieldSpec, ref: str, code: str, op: str, text: str) -> str:
    if spec.type != "multiple_choice":
        raise _UntranslatableError(f"{ref}: only a checkbox field takes a (code)")
    codes = {c.code.lower(): c.code for c in spec.choices}
    if code.lower() not in codes or text not in ("0", "1") or op not in ("=", "<>", "!="):
        raise _UntranslatableError(f"{ref} {op} '{text}': not a code of the field ticked 1 or 0")
    ticked = (text == "1") == (op == "=")
    return f"{codes[code.lower()]!r} {'in' if ticked else 'not in'} {spec.id}"


def _tokens(logic: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(logic):
        kind = match.lastgroup or "other"
        text = match.group(kind)
        if kind == "word":
            text = text.lower()
            if text not in ("and", "or"):
                raise _UntranslatableError(f"'{match.group(kind)}' (a function or keyword)")
        if kind == "other":
            raise _UntranslatableError(f"'{text}'")
        if kind == "ref" and tokens and tokens[-1][0] == "ref":
            raise _UntranslatableError(f"{tokens[-1][1]}{text} reads a field of another event")
        tokens.append((kind, text))
    return tokens


def translate_branching(
    logic: str, field: FieldSpec, form_fields: Sequence[FieldSpec]
) -> Translation:
    """The show-if of ``field`` from its REDCap branching ``logic`` (see the module docstring).

    Examples
    --------
    >>> from clestudy.protocol import Choice
    >>> sex = FieldSpec(id="sex", label="Sex", type="single_choice",
    ...                 choices=(Choice(code="0", label="F"), Choice(code="1", label="M")))
    >>> born = FieldSpec(id="given_birth", label="Given birth", type="boolean")
    >>> kids = FieldSpec(id="num_children", label="Children", type="integer")
    >>> translate_branching('[sex] = "0" and [given_birth] = "1"', kids, [sex, born, kids])
    Translation(show_if="sex == '0' and given_birth == True", reason=None)
    >>> translate_branching("datediff([a], [b], 'd') > 3", kids, [sex, born, kids]).reason
    "'datediff' (a function or keyword)"
    """
    fields = {f.id: f for f in form_fields}
    try:
        tokens = _tokens(logic)
        if not tokens:
            raise _UntranslatableError("empty logic")
        parser = _Parser(tokens, field, fields)
        show_if = parser.expression()
        rest = parser.peek()
        if rest is not None:
            raise _UntranslatableError(f"'{rest[1]}' after a complete condition")
    except _UntranslatableError as exc:
        return Translation(None, str(exc))
    problems = expression_problems(show_if, set(fields))
    if problems:  # a safety net: the translation must be a valid show-if
        return Translation(None, "; ".join(problems))
    return Translation(show_if)


_REDCAP_OP = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=", ast.GtE: ">="}


def _literal(value: object) -> str | None:
    if value is True or value is False:
        return "'1'" if value else "'0'"
    if value is None:
        return "''"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if "'" not in value:
            return f"'{value}'"
        return f'"{value}"' if '"' not in value else None
    return None


def _redcap(node: ast.expr) -> str | None:
    if isinstance(node, ast.BoolOp):
        word = " and " if isinstance(node.op, ast.And) else " or "
        parts = [_redcap(v) for v in node.values]
        if any(p is None for p in parts):
            return None
        return word.join(f"({p})" if isinstance(v, ast.BoolOp) else str(p)
                         for p, v in zip(parts, node.values, strict=True))  # fmt: skip
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        return None
    left, op, right = node.left, node.ops[0], node.comparators[0]
    if isinstance(left, ast.Constant) and isinstance(right, ast.Name):  # 'code' in checkbox
        if not isinstance(left.value, str) or not isinstance(op, ast.In | ast.NotIn):
            return None
        return f"[{right.id}({left.value})] = '{1 if isinstance(op, ast.In) else 0}'"
    if not isinstance(left, ast.Name):
        return None
    if isinstance(op, ast.In | ast.NotIn) and isinstance(right, ast.Tuple | ast.List):
        values = [_literal(e.value) if isinstance(e, ast.Constant) else None for e in right.elts]
        if not values or any(v is None for v in values):
            return None
        if isinstance(op, ast.In):
            joined = " or ".join(f"[{left.id}] = {v}" for v in values)
            return f"({joined})" if len(values) > 1 else joined
        return " and ".join(f"[{left.id}] <> {v}" for v in values)
    symbol = _REDCAP_OP.get(type(op))
    if symbol is None or not isinstance(right, ast.Constant):
        return None
    value = _literal(right.value)
    return None if value is None else f"[{left.id}] {symbol} {value}"


def branching_from_show_if(show_if: str) -> str | None:
    """A native show-if as REDCap branching logic, or ``None`` when REDCap cannot say it.

    Examples
    --------
    >>> branching_from_show_if("aeout not in ('RECOVERING/RESOLVING', 'FATAL')")
    "[aeout] <> 'RECOVERING/RESOLVING' and [aeout] <> 'FATAL'"
    >>> branching_from_show_if("sex == 'F' and (smoker == True or '2' in race)")
    "[sex] = 'F' and ([smoker] = '1' or [race(2)] = '1')"
    >>> branching_from_show_if("days_between(a, b) > 3") is None
    True
    """
    try:
        tree = ast.parse(show_if.strip(), mode="eval")
    except SyntaxError:
        return None
    return _redcap(tree.body)
