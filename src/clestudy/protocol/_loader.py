"""Load a protocol from YAML and validate it, with errors that name the file, line and YAML path.

Problems come from three places, and every one found is reported at once, one per line of a
single :class:`~clestudy.errors.ProtocolError` (``FILE:LINE: PATH: message``):

1. the YAML itself (:mod:`clestudy.protocol._yaml`): duplicated keys; size, nesting and alias
   limits and syntax errors stop the load at once;
2. the pydantic model: types, ranges, required keys, unknown keys, and the study settings, each
   checked by the instrument that reads it (:mod:`clestudy.instruments._settings`);
3. the cross-reference checks (:mod:`clestudy.protocol._references`), once the model validates.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clestudy.errors import ProtocolError
from clestudy.instruments._settings import settings_problems
from clestudy.protocol._model import Protocol
from clestudy.protocol._references import Loc, reference_errors
from clestudy.protocol._yaml import MAX_PROTOCOL_BYTES, parse_yaml

__all__ = ["BUILTIN_PROTOCOLS", "load_protocol", "parse_protocol"]

BUILTIN_PROTOCOLS: tuple[str, ...] = ("lenalidomide-cle-open-label", "pediatric-cle-chart-review")


def _format_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<document>"


def _line_for(index: Mapping[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in index:
            return index[loc[:end]]
    return None


def _model_errors(exc: ValidationError, data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Pydantic's errors, with the settings reported once per key, in file order."""
    settings_failed = False
    badly_typed: set[str] = set()
    errors = exc.errors()
    deeper = {tuple(e["loc"][:i]) for e in errors for i in range(len(e["loc"]))}
    for error in errors:
        loc: Loc = tuple(error["loc"])
        if error["type"] == "too_short" and loc in deeper:
            continue  # a list left too short only because its items failed: those say why
        if loc[:1] == ("settings",):
            settings_failed = True
            if len(loc) > 1:  # one error per member of the value's union type: keep the key
                badly_typed.add(str(loc[1]))
            continue
        yield loc, error["msg"].removeprefix("Value error, ")
    settings = data.get("settings")
    if not settings_failed or not isinstance(settings, dict):
        if settings_failed:
            yield ("settings",), "must be a mapping of setting names to values"
        return
    typed = {k: v for k, v in settings.items() if str(k) not in badly_typed}
    messages = dict(settings_problems(typed))
    for key in settings:
        if str(key) in badly_typed:
            yield ("settings", str(key)), "must be text, a number or true/false"
        elif key in messages:
            yield ("settings", str(key)), messages[key]


def parse_protocol(text: str, source: str = "<protocol>") -> Protocol:
    """Parse and validate protocol YAML text, reporting every problem found at once.

    Raises
    ------
    ProtocolError
        One line per problem, each ``SOURCE:LINE: YAML.PATH: message``.

    Examples
    --------
    >>> parse_protocol("id: x\\ntitle: T\\nversion: '1'\\narms: []\\n", "p.yaml")
    Traceback (most recent call last):
    ...
    clestudy.errors.ProtocolError: p.yaml:4: arms: Tuple should have at least 1 item after validation, not 0
    p.yaml:1: sites: Field required
    p.yaml:1: visits: Field required
    p.yaml:1: forms: Field required
    """
    parsed = parse_yaml(text, source)
    if not isinstance(parsed.data, dict):
        raise ProtocolError(f"{source}: a protocol must be a YAML mapping at the top level")
    problems = list(parsed.problems)
    protocol: Protocol | None = None
    try:
        protocol = Protocol.model_validate(parsed.data)
    except ValidationError as exc:
        problems.extend(_model_errors(exc, parsed.data))
    if protocol is not None:
        problems.extend(reference_errors(protocol))
    if problems:
        lines = []
        for loc, message in problems:
            line = _line_for(parsed.lines, loc)
            where = f"{source}:{line}" if line else source
            lines.append(f"{where}: {_format_path(loc)}: {message}")
        raise ProtocolError("\n".join(lines))
    if protocol is None:  # pragma: no cover - a failed validation always leaves a problem
        raise ProtocolError(f"{source}: not a valid protocol")
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
    size = path.stat().st_size
    if size > MAX_PROTOCOL_BYTES:
        raise ProtocolError(
            f"{path}: {size} bytes; a protocol may be at most {MAX_PROTOCOL_BYTES} bytes"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"{path}: byte {exc.start}: not UTF-8 text ({exc.reason}); save the protocol as UTF-8"
        ) from None
    return parse_protocol(text, str(path))
