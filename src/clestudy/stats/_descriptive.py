"""Small descriptive helpers shared by the engine's modules."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["quartiles"]


def quartiles(values: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """Q1, median, Q3 by linear interpolation (R's default quantile type 7, NumPy's default).

    Written out because ``numpy.percentile`` costs more than the tests on 5 values:
    with sorted x and h = (n - 1) p, Q(p) = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).

    Examples
    --------
    >>> quartiles(np.array([4.0, 1.0, 3.0, 2.0]))
    (1.75, 2.5, 3.25)
    """
    ordered = np.sort(values)
    top = ordered.size - 1
    out = []
    for p in (0.25, 0.5, 0.75):
        h = top * p
        low = int(h)
        high = min(low + 1, top)
        out.append(float(ordered[low] + (h - low) * (ordered[high] - ordered[low])))
    return out[0], out[1], out[2]
