"""Benchmark: the paired engine over 1,000 simulated endpoints vs a bare loop of its SciPy calls.

Run with ``python benchmarks/bench_stats.py`` (not part of pytest). Both timings come from the
same run; each is the best of ``--repeats`` runs. The bare loop makes exactly the SciPy calls the
engine makes for an endpoint without ties (paired t with its CI, exact and asymptotic Wilcoxon,
sign test); the engine adds input checks, pairing, descriptives, Hodges-Lehmann, rules and
warnings. Exit code 1 when the engine takes more than 1.5 times the loop (issue 4 acceptance).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from clestudy.stats import paired_comparison

LIMIT = 1.5


def simulate(endpoints: int, subjects: int, seed: int) -> pd.DataFrame:
    """Long table: subjects x 2 visits, one column per endpoint, continuous (no ties)."""
    rng = np.random.default_rng(seed)
    before = rng.normal(20.0, 5.0, size=(subjects, endpoints))
    after = before + rng.normal(-2.0, 3.0, size=(subjects, endpoints))
    columns = {
        f"endpoint_{j:04d}": np.concatenate([before[:, j], after[:, j]]) for j in range(endpoints)
    }
    ids = [f"S{i:02d}" for i in range(subjects)]
    frame = pd.DataFrame(columns)
    frame.insert(0, "visit", ["before"] * subjects + ["after"] * subjects)
    frame.insert(0, "subject", ids * 2)
    return frame


def run_engine(data: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    return paired_comparison(
        data, subject="subject", visit="visit", before="before", after="after", measures=measures
    )


def run_bare_loop(before: np.ndarray, after: np.ndarray) -> list[tuple[float, ...]]:
    results = []
    for j in range(before.shape[1]):
        x, y = before[:, j], after[:, j]
        d = y - x
        t = stats.ttest_rel(y, x, alternative="two-sided")
        ci = t.confidence_interval(confidence_level=0.95)
        exact = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="exact")
        asymptotic = stats.wilcoxon(
            d, zero_method="wilcox", correction=False, alternative="two-sided", method="asymptotic"
        )
        n_up = int(np.count_nonzero(d > 0))
        sign = stats.binomtest(n_up, int(np.count_nonzero(d)), 0.5, alternative="two-sided")
        results.append((t.pvalue, ci.low, exact.pvalue, asymptotic.pvalue, sign.pvalue))
    return results


def best_of_alternating(
    repeats: int, first: Callable[[], object], second: Callable[[], object]
) -> tuple[float, float]:
    """Best time of each, running them in turn so that load on the machine hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for work, bucket in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            work()
            bucket.append(time.perf_counter() - start)
    return min(times[0]), min(times[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--subjects", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args(argv)

    data = simulate(args.endpoints, args.subjects, args.seed)
    measures = [c for c in data.columns if c.startswith("endpoint_")]
    before = data.loc[data["visit"] == "before", measures].to_numpy()
    after = data.loc[data["visit"] == "after", measures].to_numpy()

    engine_rows = run_engine(data, measures)  # warm-up, and a check that both agree
    loop_rows = run_bare_loop(before, after)
    assert np.allclose(engine_rows["p_t"], [r[0] for r in loop_rows])
    assert np.allclose(engine_rows["p_wilcoxon_exact"], [r[2] for r in loop_rows])

    loop, engine = best_of_alternating(
        args.repeats, lambda: run_bare_loop(before, after), lambda: run_engine(data, measures)
    )
    ratio = engine / loop
    print(f"endpoints: {args.endpoints}, subjects: {args.subjects}, best of {args.repeats}")
    print(f"bare SciPy loop: {loop:.3f} s ({1e3 * loop / args.endpoints:.3f} ms per endpoint)")
    print(f"clestudy engine: {engine:.3f} s ({1e3 * engine / args.endpoints:.3f} ms per endpoint)")
    print(f"ratio engine / loop: {ratio:.3f} (limit {LIMIT})")
    return 0 if ratio <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
