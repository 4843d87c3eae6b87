"""Execute the chapters before Sphinx renders them, several at a time.

Jupyter Book 1 executes notebooks one after another inside Sphinx, so a book of six chapters on
two cores keeps one core idle for most of its build. Here each chapter runs in a process of its
own (``python -m booktools.execute``), up to ``jobs`` at a time, longest first (the durations of
the last build are remembered), each kernel limited to its share of the cores through the usual
thread variables so that two chapters do not oversubscribe two cores. The executed notebooks go
into the build's jupyter-cache, keyed as myst-nb keys them; Jupyter Book then renders in mode
"cache" and executes nothing again.

A chapter that fails prints its cell and traceback (or, on a timeout, the cell and the limit); the
chapters running beside it finish and are cached, and nothing is rendered.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

# Thread pools that torch, BLAS and numba size from the environment when a kernel starts.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
TIMINGS = ".chapter-seconds.json"


class ExecutionFailed(RuntimeError):
    """One or more chapters failed; each cause was printed on stderr already."""


@dataclass(frozen=True)
class Outcome:
    source: Path
    seconds: float
    notebook: object | None  # the executed nbformat notebook, None on failure
    error: str | None


def read_chapter(source: Path):
    """The chapter as myst-nb reads it (``nb_custom_formats`` in the generated ``_config.yml``),
    so that the cache key computed here is the one myst-nb looks up."""
    import jupytext

    return jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent")


def default_jobs(chapters: int) -> int:
    """``BOOK_JOBS`` from the environment, else one chapter per core."""
    value = os.environ.get("BOOK_JOBS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"BOOK_JOBS: {value!r} is not a positive whole number of chapters run at once")
        return min(int(value), max(chapters, 1))
    return max(1, min(os.cpu_count() or 1, chapters))


def kernel_environment(env: dict, jobs: int) -> dict:
    """``env`` for a chapter's process and kernel: its share of the cores, and the environment's
    own ``python3`` kernel before one in the user's Jupyter folder."""
    env = dict(env)
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    for name in THREAD_VARIABLES:
        env.setdefault(name, threads)
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    return env


def execute_chapters(sources: list[Path], *, cache_path: Path, timeout: int, env: dict,
                     jobs: int, timings_path: Path, label: str, root: Path) -> float:
    """Execute ``sources`` (py:percent chapters) ``jobs`` at a time into the jupyter-cache at
    ``cache_path``; returns the wall time. Raises :class:`ExecutionFailed` after printing the
    cause of every failure on stderr. ``label`` names the configuration whose durations order the
    next build (smoke and full differ); ``root`` shortens paths in messages."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    if not sources:
        return 0.0
    try:
        timings = json.loads(timings_path.read_text())
    except (OSError, ValueError):
        timings = {}
    known = timings.get(label, {})
    order = sorted(sources, key=lambda s: -known.get(s.stem, float("inf")))  # unknown first, then longest
    env = kernel_environment(env, jobs)
    print(f"Executing {len(sources)} chapter{'s' * (len(sources) > 1)}, {jobs} at a time "
          f"({env['OMP_NUM_THREADS']} thread{'s' * (env['OMP_NUM_THREADS'] != '1')} each)", flush=True)

    cache = get_cache(str(cache_path))
    started = time.monotonic()
    failures = []
    with tempfile.TemporaryDirectory(prefix="book-execute-") as scratch, \
            ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_worker, source, Path(scratch), timeout, env) for source in order]
        for future in as_completed(futures):
            outcome = future.result()
            name = outcome.source.relative_to(root).as_posix()
            error = outcome.error or _stderr_error(outcome.notebook)
            if error is not None:
                failures.append((name, error))
                print(f"  {name}: failed after {outcome.seconds:.0f} s", flush=True)
                continue
            # Only this thread writes to the cache's SQLite database.
            cache.cache_notebook_bundle(
                CacheBundleIn(outcome.notebook, str(outcome.source),
                              data={"execution_seconds": outcome.seconds}),
                check_validity=False, overwrite=True)
            # myst-nb would silently execute again whatever it cannot find: make sure it will.
            try:
                cache.match_cache_notebook(read_chapter(outcome.source))
            except KeyError:
                raise ExecutionFailed(f"{name}: executed, but its cache record does not match the "
                                      "chapter as myst-nb reads it (a booktools bug)") from None
            known[outcome.source.stem] = round(outcome.seconds, 1)
            print(f"  {name}: {outcome.seconds:.0f} s", flush=True)
    elapsed = time.monotonic() - started
    timings[label] = known
    timings_path.parent.mkdir(parents=True, exist_ok=True)
    timings_path.write_text(json.dumps(timings, indent=1, sort_keys=True))
    plain = not sys.stderr.isatty()  # IPython colours its tracebacks; a log file wants text
    for name, error in sorted(failures):
        print(f"error: {name}: {strip_colour(error) if plain else error}", file=sys.stderr)
    if failures:
        raise ExecutionFailed(f"{len(failures)} of {len(sources)} chapters failed")
    return elapsed


def _run_worker(source: Path, scratch: Path, timeout: int, env: dict) -> Outcome:
    import nbformat

    output = scratch / f"{source.stem}.ipynb"
    report = scratch / f"{source.stem}.error.json"
    log = scratch / f"{source.stem}.log"
    started = time.monotonic()
    with open(log, "wb") as sink:
        # The kernel's own log (a ZMQ traceback when a timed-out cell is interrupted) goes to the
        # file; it is shown only if the worker itself breaks.
        code = subprocess.run(
            [sys.executable, "-m", "booktools.execute", str(source), "--output", str(output),
             "--report", str(report), "--timeout", str(timeout)],
            env=env, cwd=source.parent, stdout=sink, stderr=subprocess.STDOUT).returncode
    seconds = time.monotonic() - started
    if code == 0:
        return Outcome(source, seconds, nbformat.read(output, as_version=4), None)
    if report.is_file():
        return Outcome(source, seconds, None, json.loads(report.read_text(encoding="utf-8"))["message"])
    tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
    return Outcome(source, seconds, None, f"the executing process stopped (exit code {code}):\n{tail}")


# Tags with which myst-nb drops a cell's stderr instead of warning (the warning fails a strict build).
_STDERR_EXEMPT = {"remove-stderr", "remove-output", "remove-cell"}


def _stderr_error(nb) -> str | None:
    """The build's message for the first cell that wrote to stderr, as myst-nb would find it
    when rendering (``stderr_output: warn`` under ``-W``), or None."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or _STDERR_EXEMPT & set(cell.metadata.get("tags", [])):
            continue
        if cell.metadata.get("mystnb", {}).get("output_stderr", "warn") in ("show", "remove"):
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
        if text:
            return (f"cell {index + 1} wrote to stderr, which fails the build (fix the warning or "
                    f"silence it in the cell):\n{text.rstrip()}")
    return None


def strip_colour(text: str) -> str:
    """``text`` without ANSI colour codes (IPython colours its tracebacks; a log file wants text)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# --------------------------------------------------------------------------- the worker process

def run_one(source: Path, output: Path, report: Path, timeout: int) -> int:
    """Execute one chapter in a fresh kernel, in its own folder; write the executed notebook to
    ``output`` (exit 0) or a one-message JSON ``report`` naming the cell (exit 1)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from traitlets.config import Config

    nb = read_chapter(source)
    current = {"index": None}

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index

    # Kernels started at the same moment over TCP can draw the same free port (and one dies
    # with "Address already in use"); IPC sockets in a folder of this process's own cannot clash.
    sockets = tempfile.mkdtemp(prefix="kernel-")
    config = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
    client = NotebookClient(nb, timeout=timeout, allow_errors=False, record_timing=False,
                            resources={"metadata": {"path": str(source.parent)}},
                            on_cell_start=on_cell_start, config=config)
    try:
        client.execute()
    except (CellTimeoutError, CellExecutionError, DeadKernelError) as err:
        index = current["index"]
        cell = nb.cells[index].source if index is not None else ""
        where = f"cell {index + 1}" if index is not None else "the kernel"
        if isinstance(err, CellTimeoutError):
            message = (f"{where} ran longer than the limit of {timeout} s per cell "
                       f"([execution].timeout in book.toml); the cell:\n{cell}")
        elif isinstance(err, DeadKernelError):
            message = f"the kernel died while running {where}:\n{cell}"
        else:
            message = f"{where} failed:\n{str(err).strip()}"
        report.write_text(json.dumps({"message": message}), encoding="utf-8")
        return 1
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    nbformat.write(nb, output)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools.execute",
                                     description="Execute one chapter (the book build runs this).")
    parser.add_argument("source", type=Path)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--timeout", type=int, required=True)
    args = parser.parse_args(argv)
    return run_one(args.source.resolve(), args.output, args.report, args.timeout)


if __name__ == "__main__":
    raise SystemExit(main())
