"""Run every ``benchmarks/bench_*.py`` (or those named on the command line) and print ratios."""

import importlib
import pkgutil
import sys
from pathlib import Path

import torch

from benchmarks import best_time


def main(names: list[str]) -> None:
    folder = Path(__file__).parent
    modules = sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if m.name.startswith("bench_"))
    if names:
        unknown = sorted(set(names) - set(modules))
        if unknown:
            raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(modules)}")
        modules = names
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of repeats, seconds")
    header = f"{'case':44s} {'ours':>10s} {'baseline':>10s}  ratio (baseline / ours)"
    for module in modules:
        bench = importlib.import_module(f"benchmarks.{module}")
        for case in getattr(bench, "cases", lambda: ())():
            ours, base = best_time(case.ours, case.repeats), best_time(case.baseline, case.repeats)
            if header:
                print(header)
                header = ""
            print(f"{case.name:44s} {ours:10.4f} {base:10.4f}  {base / ours:6.2f}x vs {case.baseline_name}")
        if hasattr(bench, "report"):
            bench.report()  # a measure that is not seconds-vs-baseline prints its own table


if __name__ == "__main__":
    main(sys.argv[1:])
