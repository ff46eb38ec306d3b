"""Read a range of events of an FCS file without reading the rest of its DATA segment.

In list mode (``$MODE L``) an FCS file stores its events one after another, each event one
record of the same size: ``$PAR`` values of ``$PnB`` bits for integer data (``$DATATYPE I``),
4 bytes for ``F`` and 8 for ``D``. Events ``[start, stop)`` are therefore the bytes
``BEGINDATA + start * record`` to ``BEGINDATA + stop * record - 1`` (FCS 3.1, section 3.3: the
DATA segment; Spidlen J et al., Cytometry A 2010;77:97-100, doi:10.1002/cyto.a.20825).

FlowIO (1.4) has no public call for part of the DATA segment: ``FlowData(..., only_text=True)``
reads HEADER and TEXT only. The range is decoded by FlowIO's own DATA parser (its private
``__parse_data``, given the range's first and last byte instead of the segment's), so byte order,
integer bit widths and ``$PnR`` bit masks are handled exactly as for the whole file, and the
``FlowData`` goes to ``flowkit.Sample`` as usual, which applies ``$PnE``/``$PnG``/``$TIMESTEP``.
Only the range's events are ever in memory (plus the TEXT segment): a worker gating part of a
10-million-event file holds that part, not the file.

A file is read by ranges only when its layout is unambiguous: list mode, ``F``, ``D`` or ``I``
with 8-, 16- or 32-bit values, a known byte order, one data set, and a DATA segment of exactly
``$TOT`` records. Anything else (an off-by-one DATA offset, ``$TOT`` disagreeing with the
segment, ASCII data) is read whole, as the local path reads it, so its errors and warnings are
the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["EventRange", "event_ranges", "read_event_range", "splittable_events"]

#: Events ``[start, stop)`` of a file, counted from 0.
EventRange = tuple[int, int]

_ITEM_BYTES = {"f": 4, "d": 8}
_BYTE_ORDERS = {"1,2,3,4", "1,2", "4,3,2,1", "2,1"}


def _layout(path: Path, ignore_offset_error: bool) -> tuple[Any, int, int] | None:
    """``(FlowData with TEXT only, first DATA byte, bytes per event)``, or ``None`` when the file
    is not to be read by ranges (see the module docstring)."""
    import flowio

    try:
        # our own handle: FlowIO leaves its file open when parsing fails
        with path.open("rb") as handle:
            data = flowio.FlowData(handle, only_text=True, ignore_offset_error=ignore_offset_error)
    except Exception:  # read it whole instead: the whole read raises the real error
        return None
    text = data.text
    kind = str(text.get("datatype", "")).lower()
    if str(text.get("mode", "")).lower() != "l" or text.get("byteord") not in _BYTE_ORDERS:
        return None
    channels = int(text["par"])
    if kind in _ITEM_BYTES:
        record = channels * _ITEM_BYTES[kind]
    elif kind == "i":
        widths = [int(text.get(f"p{i}b", 0)) for i in range(1, channels + 1)]
        if any(w not in (8, 16, 32) for w in widths):
            return None
        record = sum(widths) // 8
    else:
        return None
    if data.version == "2.0":
        first, last = data.header["data_start"], data.header["data_stop"]
    else:  # FlowIO reads the TEXT offsets (and has checked them against the HEADER's)
        first, last = int(text["begindata"]), int(text["enddata"])
    if record <= 0 or last - first + 1 != data.event_count * record:
        return None
    return data, first, record


def splittable_events(path: str | Path, *, ignore_offset_error: bool = False) -> int | None:
    """The number of events of a file that can be read by event ranges, else ``None``.

    Reads the HEADER and TEXT segments only.
    """
    layout = _layout(Path(path), ignore_offset_error)
    return None if layout is None else int(layout[0].event_count)


def event_ranges(n_events: int, size: int) -> list[EventRange]:
    """Consecutive ranges of at most ``size`` events covering ``n_events``.

    Examples
    --------
    >>> event_ranges(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    if size <= 0:
        raise ValueError(f"events per range must be positive, not {size}")
    return [(start, min(start + size, n_events)) for start in range(0, n_events, size)]


def read_event_range(path: Path, events: EventRange, *, ignore_offset_error: bool = False) -> Any:
    """Events ``[start, stop)`` of an FCS file as a ``flowkit.Sample`` (sample id: the stem).

    Raises
    ------
    FcsFileError
        The file cannot be read by ranges (it changed since it was planned) or the range is not
        inside it.
    """
    import flowkit as fk

    from clestudy.immuno._errors import FcsFileError

    start, stop = events
    layout = _layout(path, ignore_offset_error)
    if layout is None:
        raise FcsFileError(
            f"{path}: cannot read events {start + 1}-{stop} on their own (not a list-mode file of "
            "fixed-size events any more?); gate it whole"
        )
    data, first, record = layout
    if not 0 <= start < stop <= data.event_count:
        raise FcsFileError(
            f"{path}: events {start + 1}-{stop} are not in the file ({data.event_count} events)"
        )
    with path.open("rb") as handle:
        data._fh = handle  # FlowData closed its own handle after reading the TEXT segment
        parse = data._FlowData__parse_data  # FlowIO's DATA decoder, given the range's bytes
        data.events = parse(0, first + start * record, first + stop * record - 1, data.text)
    data.event_count = stop - start
    return fk.Sample(data, sample_id=path.stem)
