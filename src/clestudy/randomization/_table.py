"""Reading and checking an uploaded allocation table (CSV).

The table has one column per stratification field (named as the field), then ``sequence`` (the
1-based order of use within the stratum) and ``arm`` (an arm id); an optional ``block`` column
numbers blocks. Every problem is reported at once, each naming the line and the column:

* the header must hold exactly those columns;
* stratum values must be codes of their field (``true``/``false`` for yes/no fields), arms arms
  of the ratio, sequences positive integers;
* a (stratum, sequence) pair may appear once, and each stratum's sequences run 1..n;
* every stratum has rows, and each stratum's arm counts keep to the ratio within one ratio sum
  (a table of whole blocks matches it exactly).
"""

from __future__ import annotations

import csv
import io
from collections import Counter

from clestudy.errors import InputError
from clestudy.protocol import Protocol
from clestudy.randomization._blocks import Allocation
from clestudy.randomization._strata import NO_STRATA, field_codes, strata_fields, strata_of

__all__ = ["parse_allocation_table"]


def _positive(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or int(text) < 1:
        return None
    return int(text)


def parse_allocation_table(
    text: str, protocol: Protocol, source: str = "table"
) -> list[Allocation]:
    """The rows of an allocation table for ``protocol``'s randomization, checked.

    Raises
    ------
    InputError
        Listing every problem, one per line, as ``SOURCE:LINE: column: message``.
    """
    spec = protocol.randomization
    if spec is None:
        raise InputError(f"study {protocol.id} is not randomized: it takes no allocation table")
    fields = strata_fields(protocol)
    expected = [f.id for f in fields] + ["sequence", "arm"]
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    has_block = header[-1:] == ["block"]
    if (header[:-1] if has_block else header) != expected:
        raise InputError(
            f"{source}:1: header: expected columns {','.join(expected)} (and optionally block), "
            f"found {','.join(header) or 'nothing'}"
        )
    problems: list[str] = []
    rows: list[Allocation] = []
    seen: dict[tuple[str, int], int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(f"{source}:{line}: row: {len(cells)} cells, expected {len(header)}")
            continue
        cells = [c.strip() for c in cells]
        parts = []
        for field, value in zip(fields, cells, strict=False):
            codes = field_codes(field)
            if value not in codes:
                problems.append(f"{source}:{line}: {field.id}: {value!r} is not one of {codes}")
            parts.append(f"{field.id}={value}")
        stratum = ";".join(parts) if parts else NO_STRATA
        sequence = _positive(cells[len(fields)])
        if sequence is None:
            problems.append(
                f"{source}:{line}: sequence: {cells[len(fields)]!r} is not a positive integer"
            )
        arm = cells[len(fields) + 1]
        if arm not in spec.ratio:
            problems.append(f"{source}:{line}: arm: {arm!r} is not one of {list(spec.ratio)}")
        block = None
        if has_block:
            block = _positive(cells[-1])
            if block is None:
                problems.append(f"{source}:{line}: block: {cells[-1]!r} is not a positive integer")
        if sequence is None:
            continue
        if (stratum, sequence) in seen:
            problems.append(
                f"{source}:{line}: sequence: {sequence} of stratum {stratum} repeats line "
                f"{seen[(stratum, sequence)]}"
            )
            continue
        seen[(stratum, sequence)] = line
        rows.append(Allocation(stratum, sequence, arm, block))
    problems.extend(_stratum_problems(protocol, rows, seen, source))
    if problems:
        raise InputError("\n".join(problems))
    return sorted(rows, key=lambda r: (r.stratum, r.sequence))


def _stratum_problems(
    protocol: Protocol, rows: list[Allocation], seen: dict[tuple[str, int], int], source: str
) -> list[str]:
    spec = protocol.randomization
    if spec is None:
        return []
    total = sum(spec.ratio.values())
    problems = []
    for stratum in strata_of(protocol):
        mine = [r for r in rows if r.stratum == stratum]
        if not mine:
            problems.append(f"{source}: stratum: {stratum} has no rows")
            continue
        last = max(seen[(stratum, r.sequence)] for r in mine)
        sequences = sorted(r.sequence for r in mine)
        if sequences != list(range(1, len(mine) + 1)):
            gap = next(i for i, s in enumerate(sequences, start=1) if s != i)
            problems.append(
                f"{source}:{last}: sequence: stratum {stratum} skips sequence {gap} (its "
                f"sequences must run 1..{len(mine)})"
            )
        counts = Counter(r.arm for r in mine)
        for arm, weight in spec.ratio.items():
            expected = len(mine) * weight / total
            if abs(counts[arm] - expected) > total:
                problems.append(
                    f"{source}:{last}: arm: stratum {stratum} allocates {counts[arm]} of "
                    f"{len(mine)} rows to {arm}, the ratio {weight}:{total - weight} calls for "
                    f"about {expected:g}"
                )
    return problems
