"""Stratified permuted blocks of randomly selected size, generated reproducibly from a seed.

Each stratum gets its own sequence of blocks. A block's size is drawn uniformly from the allowed
sizes (each a multiple of the ratio sum), it holds every arm exactly in the ratio, and its order
is a uniformly random permutation. Varying the block size at random keeps the arms balanced
within a stratum while making the last allocations of a block unpredictable to a site that knows
the ratio (Efird J., "Blocked randomization with randomly selected block sizes", Int J Environ
Res Public Health 2011;8(1):15-20, doi:10.3390/ijerph8010015; ICH E9 "Statistical principles for
clinical trials", section 2.3.2, Randomisation).

The generator is NumPy's ``Generator(PCG64(seed))`` (O'Neill M.E., "PCG: a family of simple
fast space-efficient statistically good algorithms for random number generation", Harvey Mudd
College HMC-CS-2014-0905, 2014): the same seed, ratio, sizes, strata and length give the same
list on every platform NumPy supports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from clestudy.errors import InputError

__all__ = ["Allocation", "list_sha256", "permuted_blocks", "seed_commitment"]


@dataclass(frozen=True)
class Allocation:
    """One row of an allocation list.

    Attributes
    ----------
    stratum : str
        The stratum key (:func:`clestudy.randomization.stratum_key`).
    sequence : int
        1-based position within the stratum: the order in which rows are used.
    arm : str
        The arm id.
    block : int or None
        1-based block number within the stratum (``None`` for a table without blocks).
    block_size : int or None
        The size of that block.
    """

    stratum: str
    sequence: int
    arm: str
    block: int | None = None
    block_size: int | None = None

    def as_dict(self) -> dict[str, str | int | None]:
        """The row as plain data (for hashing and JSON)."""
        return {
            "stratum": self.stratum,
            "sequence": self.sequence,
            "arm": self.arm,
            "block": self.block,
            "block_size": self.block_size,
        }


def permuted_blocks(
    ratio: Mapping[str, int],
    block_sizes: Sequence[int],
    strata: Sequence[str],
    per_stratum: int,
    seed: int,
) -> list[Allocation]:
    """A stratified permuted-block list with block sizes drawn at random.

    Parameters
    ----------
    ratio : mapping
        Arm id to allocation weight (positive integers), e.g. ``{"a": 1, "b": 1}``.
    block_sizes : sequence of int
        The allowed block sizes, each a positive multiple of ``sum(ratio.values())``.
    strata : sequence of str
        The stratum keys; each gets its own blocks, in this order.
    per_stratum : int
        The least number of rows per stratum; whole blocks are generated until it is reached.
    seed : int
        Non-negative; the whole list is a function of it (keep it sealed).

    Returns
    -------
    list of Allocation
        Stratum by stratum, in sequence order.

    Raises
    ------
    InputError
        For an empty ratio, a weight or block size that does not fit, or a negative seed.

    Examples
    --------
    >>> rows = permuted_blocks({"a": 1, "b": 1}, [2, 4], ["all"], 6, seed=2011)
    >>> rows == permuted_blocks({"a": 1, "b": 1}, [2, 4], ["all"], 6, seed=2011)
    True
    >>> all(r.block_size in (2, 4) for r in rows), len(rows) >= 6
    (True, True)
    """
    if not ratio or any(w < 1 for w in ratio.values()):
        raise InputError(f"ratio {dict(ratio)}: every arm needs a positive integer weight")
    total = sum(ratio.values())
    if not block_sizes or any(b < 1 or b % total for b in block_sizes):
        raise InputError(
            f"block sizes {list(block_sizes)} must be positive multiples of the ratio sum {total}"
        )
    if per_stratum < 1:
        raise InputError(f"rows per stratum must be at least 1, not {per_stratum}")
    if seed < 0:
        raise InputError("the seed must be a non-negative integer")
    rng = np.random.Generator(np.random.PCG64(seed))
    sizes = sorted(block_sizes)
    rows: list[Allocation] = []
    for stratum in strata:
        sequence = 0
        block = 0
        while sequence < per_stratum:
            block += 1
            size = int(sizes[int(rng.integers(len(sizes)))])
            content = [arm for arm, weight in ratio.items() for _ in range(weight * size // total)]
            for index in rng.permutation(len(content)):
                sequence += 1
                rows.append(Allocation(stratum, sequence, content[int(index)], block, size))
    return rows


def list_sha256(rows: Sequence[Allocation]) -> str:
    """SHA-256 of a list's rows (stratum, sequence, arm, block, block size) as sorted JSON.

    The ``allocation_table`` audit event records it, so an edit of the stored list is evident;
    it does not reveal the arms.
    """
    ordered = sorted(rows, key=lambda r: (r.stratum, r.sequence))
    text = json.dumps([r.as_dict() for r in ordered], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seed_commitment(seed: int) -> str:
    """The SHA-256 commitment to a seed that the store keeps instead of the seed.

    Whoever holds the sealed seed can later show that it generated the list (regenerate it and
    compare :func:`list_sha256`), and the commitment proves the seed was not changed since.

    >>> seed_commitment(1) == seed_commitment(1) != seed_commitment(2)
    True
    """
    return hashlib.sha256(f"clestudy-randomization-seed\0{seed}".encode()).hexdigest()
