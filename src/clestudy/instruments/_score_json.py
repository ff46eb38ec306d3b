"""The JSON adapter of ``clestudy score``: one object in, one object out, per instrument.

Pure translation between plain JSON values and the calculators (the CLI and the web API share
it), dispatched through the instrument registry: each registered instrument's ``score`` adapter
checks the keys against its ``score_inputs`` (unknown keys, missing required keys and wrong types
raise :class:`InstrumentInputError` naming the key). A result that is not a finite number is
refused, never printed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from clestudy.instruments._checks import InstrumentInputError
from clestudy.instruments._registry import INSTRUMENTS, get_instrument

__all__ = ["SCORE_INSTRUMENTS", "score_payload"]

SCORE_INSTRUMENTS: tuple[str, ...] = tuple(INSTRUMENTS)
"""The instruments ``clestudy score`` accepts (every registered instrument)."""


def _check_finite(instrument: str, result: Mapping[str, Any]) -> None:
    for key, value in result.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InstrumentInputError(
                f"{instrument}: {key}: the result is {value!r}; an input is too large or too "
                "close to 0; allowed: inputs whose result is a finite number"
            )


def score_payload(instrument: str, payload: object) -> dict[str, Any]:
    """Score one JSON object by the ``clestudy score`` contract of ``instrument``.

    Parameters
    ----------
    instrument : str
        One of :data:`SCORE_INSTRUMENTS`.
    payload : object
        The parsed JSON input; must be an object.

    Returns
    -------
    dict
        The JSON output object (contract keys plus extra detail keys), as the instrument's
        ``score_outputs`` in the registry lists them.

    Raises
    ------
    InstrumentInputError
        Unknown instrument, a non-object payload, an unknown or missing key, or a bad value
        (the message names the item).

    Examples
    --------
    >>> score_payload("prednisone-equivalent", {"drug": "methylprednisolone", "dose_mg": 16})
    {'prednisone_equivalent_mg': 20.0}
    >>> score_payload("sledai2k", {"descriptors": {"pyuria": True}})["score"]
    4
    """
    entry = get_instrument(instrument, item="score: instrument")
    if not isinstance(payload, Mapping):
        raise InstrumentInputError(
            f"{instrument}: input: got a JSON {type(payload).__name__}; allowed: one JSON object"
        )
    result = entry.score(payload)
    _check_finite(instrument, result)
    return result
