"""Speed benchmarks, run by ``make bench``; each prints a ratio against a named baseline.

A benchmark module is ``benchmarks/bench_<idea>.py`` with a ``cases()`` generator yielding
``Case`` objects, and/or a ``report()`` function, called after its cases, that measures and
prints its own table (for a measure that is not seconds against one baseline, such as events per
second against several contenders). Timings are the best of several repeats (the least disturbed
by the machine), reported, never asserted: speed goals live here, not in the tests.
"""

import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Case:
    name: str
    ours: Callable[[], object]
    baseline: Callable[[], object]
    baseline_name: str
    repeats: int = 5


def best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first calls pay for allocation and lazy initialisation
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
