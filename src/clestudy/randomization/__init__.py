"""Randomization: strata, concealed allocation lists and their checks (pure, no I/O).

* :func:`strata_of` lists a protocol's strata (every combination of the stratification fields'
  codes) and :func:`stratum_key` names the stratum of one subject's baseline values.
* :func:`permuted_blocks` generates a stratified list of permuted blocks of randomly chosen size
  from a seed, reproducibly (the same seed gives the same list).
* :func:`parse_allocation_table` reads and checks an uploaded allocation table (CSV).
* :func:`arm_balance` and :func:`list_sha256` summarise a list.

The store (:mod:`clestudy.store._randomization`) keeps the list, conceals it and allocates from it.
"""

from clestudy.randomization._blocks import Allocation, list_sha256, permuted_blocks, seed_commitment
from clestudy.randomization._strata import (
    NO_STRATA,
    missing_strata_fields,
    strata_fields,
    strata_of,
    stratum_key,
)
from clestudy.randomization._table import parse_allocation_table

__all__ = [
    "NO_STRATA",
    "Allocation",
    "list_sha256",
    "missing_strata_fields",
    "parse_allocation_table",
    "permuted_blocks",
    "seed_commitment",
    "strata_fields",
    "strata_of",
    "stratum_key",
]
