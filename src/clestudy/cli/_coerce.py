"""Text and flag parameters without pydantic: converting the CLI's ``str`` and ``bool`` values.

Typer (0.29) converts every parameter value with a pydantic ``TypeAdapter`` built on first use,
so running any command imports pydantic and builds a schema (about 0.14 s on a quiet machine:
half of ``clestudy score``'s start-up; docs/performance.md), even for the ``--help`` flag every
command has. For a parameter annotated ``str`` or ``bool`` (or ``... | None``), with no custom
``parser``, that adapter returns a value of that very type unchanged. :func:`plain_params` gives
such parameters a converter that returns a ``str`` (a ``bool``) as it is and hands any other
value (bytes, the text of a boolean environment variable) to Typer's own adapter, so every result
and error stays Typer's. Other parameters (numbers, paths, choices, lists) keep Typer's conversion.

It touches Typer internals (``typer._coercion.RuntimeParam``, ``_TyperParameter._runtime_param``);
when they are not there (another Typer version) it changes nothing, and the CLI runs as before.
``tests/cli/test_startup.py`` checks that ``clestudy score`` loads no pydantic and that these
parameters convert as Typer's adapter does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["plain_params"]


def _plain_value_class() -> type | None:
    try:
        from typer._coercion import RuntimeParam, build_runtime_param
    except ImportError:  # pragma: no cover - another Typer layout: keep Typer's conversion
        return None

    @dataclass(frozen=True)
    class PlainValue(RuntimeParam):
        """A value of the annotated type stays itself; anything else goes through Typer's own."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if type(value) is self.annotation:
                return value
            typer_own = build_runtime_param(param.type_descriptor)
            param._runtime_param = typer_own
            return typer_own._coerce_value(value, param=param, ctx=ctx)

    return PlainValue


def _walk(command: Any) -> Iterator[Any]:
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _walk(sub)


def _convert(param: Any, plain_value: type) -> bool:
    descriptor = getattr(param, "type_descriptor", None)
    if (
        descriptor is None
        or getattr(param, "_runtime_param", False) is not None
        or descriptor.annotation not in (str, bool)
        or descriptor.file_annotation is not None
        or getattr(descriptor.parameter_info, "parser", None) is not None
    ):
        return False
    param._runtime_param = plain_value(
        parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
    )
    return True


def _convert_help_option(command: Any, plain_value: type) -> None:
    """Convert the ``--help`` option too, which Click creates on first use."""
    create = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = create(ctx)
        if option is not None:
            _convert(option, plain_value)
        return option

    command.get_help_option = get_help_option


def plain_params(command: Any) -> int:
    """Give every plain ``str`` and ``bool`` parameter of ``command``'s tree, and each command's
    ``--help`` option, the pydantic-free converter.

    Returns the number of declared parameters changed (0 when Typer's internals are not as
    expected, and nothing is changed).
    """
    plain_value = _plain_value_class()
    if plain_value is None:
        return 0
    changed = 0
    for cmd in _walk(command):
        if callable(getattr(cmd, "get_help_option", None)):
            _convert_help_option(cmd, plain_value)
        changed += sum(_convert(param, plain_value) for param in getattr(cmd, "params", ()))
    return changed
