"""Read protocol YAML safely: bounded size, nesting and alias expansion; no duplicated keys.

PyYAML's safe loader builds no objects, but it still composes a document recursively (so
``'[' * 10000`` ends in a ``RecursionError``) and it lets aliases share nodes, so that a
400-byte "billion laughs" document stands for ~10^9 nodes that validation then walks. It also keeps
the last of two equal keys without a word. This module composes the document once with limits and
returns the data, a map from every YAML path to its line, and the structural problems found.

Speed: when PyYAML has libyaml (``yaml.CSafeLoader``), a document is first scanned as events for
its nesting depth and then composed in C (about 25x faster than the pure-Python composer on a
built-in protocol); the alias, duplicate-key and line bookkeeping below runs on its nodes just the
same. A document the C path cannot take (too deep, not valid YAML) is composed again by the
bounded pure-Python loader, so every refusal keeps the same message and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from clestudy.errors import ProtocolError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_PROTOCOL_BYTES",
    "Loc",
    "ParsedYaml",
    "parse_yaml",
]

#: A protocol file larger than this is refused before it is parsed (the built-in ones are ~35 kB).
MAX_PROTOCOL_BYTES = 2_000_000
#: Deepest nesting of mappings and sequences (a protocol needs 6).
MAX_DEPTH = 40
#: Most nodes the document may stand for once its aliases are expanded (a protocol has ~3,000).
MAX_NODES = 100_000

Loc = tuple[str | int, ...]


@dataclass
class ParsedYaml:
    """The document's data, the line of each YAML path, and (path, message) problems."""

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    problems: list[tuple[Loc, str]] = field(default_factory=list)


class _TooDeepError(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that refuses nesting deeper than :data:`MAX_DEPTH` while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeepError(self.peek_event().start_mark.line + 1)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _fast_loader(text: str) -> tuple[yaml.SafeLoader | None, yaml.Node | None]:
    """The libyaml loader and the composed root of ``text``, or ``(None, None)`` when libyaml is
    absent or the document is too deep or not valid YAML (the bounded loader then says why)."""
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None:
        return None, None
    depth = 0
    try:
        for event in yaml.parse(text, Loader=c_loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return None, None
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        loader = c_loader(text)
    except yaml.YAMLError:
        return None, None
    try:
        return loader, loader.get_single_node()
    except yaml.YAMLError:
        loader.dispose()
        return None, None


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes ``node`` stands for with every alias expanded (linear time: shared nodes memoised)."""
    key = id(node)
    if key not in memo:
        memo[key] = 1  # a recursive alias counts once instead of looping
        if isinstance(node, yaml.MappingNode):
            total = sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = sum(_expanded_size(item, memo) for item in node.value)
        else:
            total = 0
        memo[key] = min(1 + total, MAX_NODES + 1)
    return memo[key]


def _index(node: yaml.Node, loc: Loc, out: ParsedYaml, seen: set[int]) -> None:
    """Record the line of every path and every duplicated mapping key (each shared node once)."""
    out.lines.setdefault(loc, node.start_mark.line + 1)
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and name in first and name != "<<":
                out.problems.append(
                    ((*loc, name), f"key '{name}' is given twice (lines {first[name]} and {line})")
                )
            first.setdefault(name, line)
            _index(value, (*loc, name), out, seen)
            out.lines[(*loc, name)] = first[name]
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*loc, i), out, seen)


def _yaml_error(exc: yaml.YAMLError, source: str) -> ProtocolError:
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}" if mark is not None else source
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return ProtocolError(f"{where}: not valid YAML: {problem}")


def parse_yaml(text: str, source: str) -> ParsedYaml:
    """Compose and construct one YAML document within the limits of this module.

    Raises
    ------
    ProtocolError
        For text that is too large, too deeply nested, expands too far through aliases, or is
        not valid YAML; the message names ``source`` and the line.

    Examples
    --------
    >>> parse_yaml("a: 1\\nb: [x, y]\\na: 2\\n", "p.yaml").problems
    [(('a',), "key 'a' is given twice (lines 1 and 3)")]
    >>> parse_yaml("[" * 10000, "deep.yaml")
    Traceback (most recent call last):
    ...
    clestudy.errors.ProtocolError: deep.yaml:1: nested more than 40 levels deep
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PROTOCOL_BYTES:
        raise ProtocolError(
            f"{source}: {size} bytes; a protocol may be at most {MAX_PROTOCOL_BYTES} bytes"
        )
    fast, fast_root = _fast_loader(text)
    try:
        loader = fast if fast is not None else _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise ProtocolError(
            f"{source}:{line}: not valid YAML: character #x{exc.character:04x} is not allowed"
        ) from None
    try:
        root = fast_root if fast is not None else loader.get_single_node()
        if root is None:
            return ParsedYaml(None)
        if _expanded_size(root, {}) > MAX_NODES:
            raise ProtocolError(
                f"{source}: aliases (*name) expand the document to more than {MAX_NODES} "
                "values; write the repeated parts out or reuse fewer of them"
            )
        parsed = ParsedYaml(loader.construct_document(root))
    except _TooDeepError as exc:
        raise ProtocolError(
            f"{source}:{exc.line}: nested more than {MAX_DEPTH} levels deep"
        ) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    finally:
        loader.dispose()
    _index(root, (), parsed, set())
    return parsed
