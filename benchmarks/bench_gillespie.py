"""Gillespie SSA: reaction events per second, ours against GillesPy2's C++ SSA and a Python loop.

Three models, each at 1, 100, 10^4 and 10^5 trajectories, with the horizon (and for the enzyme,
the system size) chosen per row so that one measurement fires about 10^6 to 10^7 events:

- birth-death, 0 -> X (k = 100), X -> 0 (gamma = 1), started at its mean X = 100 (~200 events
  per unit time);
- Michaelis-Menten, S + E -> SE, SE -> S + E, SE -> P + E from (S, E) = (300, 121): the chapter's
  enzyme, which converts all its substrate in ~600 events. Rows with few trajectories scale the
  system by Omega (counts x Omega, the bimolecular rate / Omega: the same kinetics in
  concentrations, ~600 Omega events); the 10^5 row stops early instead (t = 5);
- Lotka-Volterra, X -> 2X, X + Y -> 2Y, Y -> 0 with Gillespie's 1977 rates c1 = c3 = 10 and
  c2 = 0.004, started at the fixed point X = Y = 2500: noise-driven cycles of period ~0.6 that
  survive the longest horizon here (extinction is checked and reported).

Contenders, on the same network, initial state and output grid (5 time points):

- ours: ``companion.gillespie.ssa`` with ``backend="numba"`` and ``backend="torch"``; events
  are exact, ``ens.n_events.sum()``;
- GillesPy2's C++ ``SSACSolver``: compiled once per model (outside the timing), then
  ``model.run(solver=..., number_of_trajectories=n, seed=...)``; the time includes what a user
  pays (starting the simulation process, decoding its output). GillesPy2 does not report event
  counts, so its events are *estimated* as n x (mean events per trajectory of our numba runs of
  the same model, horizon and n);
- a plain direct-method loop in Python (``random`` and ``math``, combinatorial propensities),
  timed on one trajectory of 2 x 10^5 events; a serial loop does n trajectories in n times the
  time, so its events/s stands for every row (extrapolated).

Memory: the recorded ensemble's bytes per trajectory (tensor sizes), and the peak resident memory
per trajectory of a 10^6-trajectory run of each backend in a fresh process (recording plus all
working state). Run alone: ``python -m benchmarks bench_gillespie``.
"""

import gc
import json
import math
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from companion.gillespie import ReactionNetwork, ssa

N_TRAJS = (1, 100, 10_000, 100_000)
BACKENDS = ("numba", "torch")
GRID_POINTS = 5
REPEATS = {"numba": 5, "torch": 3, "GillesPy2": 2, "Python": 3}
PYTHON_EVENTS = 200_000
ARTICLE_EVENTS = 20_000  # the article-style loop is slow: fewer events give the same rate
MEMORY_TRAJ = 1_000_000


@dataclass(frozen=True)
class Model:
    name: str
    reactions: tuple[str, ...]
    rates: tuple[float, ...]
    x0: dict[str, int]
    rows: dict[int, tuple[float, float]]  # n_traj -> (t_max, Omega)
    torch_t1: float  # a shorter horizon for backend="torch" on one trajectory (~1.5 x 10^4 events)

    def network(self, omega: float = 1.0) -> tuple[ReactionNetwork, list[int]]:
        """The network at system size Omega: counts x Omega, a reaction of order m rate / Omega^(m-1)."""
        base = ReactionNetwork(list(self.reactions), rates=list(self.rates))
        if omega == 1.0:
            return base, [self.x0.get(s, 0) for s in base.species]
        order = base.reactants.sum(dim=1).tolist()
        rates = [k / omega ** (m - 1) for k, m in zip(self.rates, order)]
        return (ReactionNetwork(list(self.reactions), rates=rates),
                [round(self.x0.get(s, 0) * omega) for s in base.species])


MODELS = (
    Model("birth-death", ("0 -> X", "X -> 0"), (100.0, 1.0), {"X": 100},
          {1: (5000.0, 1), 100: (100.0, 1), 10_000: (2.0, 1), 100_000: (0.5, 1)}, 75.0),
    Model("Michaelis-Menten", ("S + E -> SE", "SE -> S + E", "SE -> P + E"), (1.66e-3, 1e-4, 0.1),
          {"S": 300, "E": 121},
          {1: (100.0, 2000), 100: (100.0, 20), 10_000: (100.0, 1), 100_000: (5.0, 1)}, 0.15),
    Model("Lotka-Volterra", ("X -> 2 X", "X + Y -> 2 Y", "Y -> 0"), (10.0, 0.004, 10.0),
          {"X": 2500, "Y": 2500},
          {1: (16.0, 1), 100: (0.4, 1), 10_000: (0.01, 1), 100_000: (0.0016, 1)}, 0.2),
)


# --- contender: a plain direct-method loop in Python -----------------------------------------

def python_direct_method(net: ReactionNetwork, x0: list[int], t_max: float, max_events: int,
                         seed: int) -> int:
    """One trajectory of Gillespie's direct method, one event per pass; returns the events fired."""
    rng = random.Random(seed)
    x = list(x0)
    rates = net.rates.tolist()
    needs = [[(s, m) for s, m in enumerate(row) if m] for row in net.reactants.tolist()]
    moves = [[(s, d) for s, d in enumerate(row) if d] for row in net.change.tolist()]
    a = [0.0] * len(rates)
    last = len(rates) - 1
    t, events = 0.0, 0
    while events < max_events:
        total = 0.0
        for r, k in enumerate(rates):
            for s, m in needs[r]:  # mass action: k times the ways to pick the reactants
                k *= x[s] if m == 1 else math.comb(x[s], m)
            a[r] = k
            total += k
        if total <= 0.0:
            break
        t -= math.log(1.0 - rng.random()) / total
        if t > t_max:
            break
        u, r = rng.random() * total, 0
        acc = a[0]
        while acc <= u and r < last:
            r += 1
            acc += a[r]
        for s, d in moves[r]:
            x[s] += d
        events += 1
    return events


def article_style_loop(net: ReactionNetwork, x0: list[int], t_max: float, max_events: int,
                       seed: int) -> int:
    """The loop as the article writes it: numpy arrays and ``scipy.special.comb`` for the
    propensities and ``rng.choice(p=...)`` for the reaction, every event. Returns events fired."""
    from scipy.special import comb

    need, change = net.reactants.numpy(), net.change.numpy()
    rates = net.rates.numpy()
    rng = np.random.default_rng(seed)
    x, t, events = np.array(x0), 0.0, 0
    while events < max_events:
        a = rates * comb(x, need).prod(axis=1)
        a0 = a.sum()
        if a0 <= 0:
            break
        t += rng.exponential(1.0 / a0)
        if t > t_max:
            break
        x = x + change[rng.choice(len(a), p=a / a0)]
        events += 1
    return events


# --- contender: GillesPy2's C++ SSA ----------------------------------------------------------

def gillespy2_solver(net: ReactionNetwork, x0: list[int], name: str):
    """Build the same model in GillesPy2 and compile its C++ SSA once; returns (model, solver)."""
    # GillesPy2 runs SCons through `scons` on PATH, else `<resolved sys.executable> -m SCons`; in
    # an unactivated venv the first is missing and the second is the base interpreter, which
    # lacks SCons. Putting the venv's bin/ first on PATH finds the venv's own `scons`.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    import gillespy2

    model = gillespy2.Model(name=name)
    params = [gillespy2.Parameter(name=f"k{r}", expression=repr(float(k)))
              for r, k in enumerate(net.rates.tolist())]
    species = [gillespy2.Species(name=s, initial_value=int(v), mode="discrete")
               for s, v in zip(net.species, x0)]
    model.add_parameter(params)
    model.add_species(species)
    for r, (need, make) in enumerate(zip(net.reactants.tolist(), net.products.tolist())):
        model.add_reaction(gillespy2.Reaction(
            name=f"r{r}", rate=params[r],
            reactants={species[s]: m for s, m in enumerate(need) if m},
            products={species[s]: m for s, m in enumerate(make) if m}))
    return model, gillespy2.SSACSolver(model=model)  # compiles here


# --- timing ----------------------------------------------------------------------------------

def best_rate(run, repeats: int) -> float:
    """Best events/s over repeats; ``run(i)`` does repeat i and returns the events it fired."""
    best = 0.0
    for i in range(repeats):
        start = time.perf_counter()
        events = run(i)
        best = max(best, events / (time.perf_counter() - start))
    return best


def _fmt(rate) -> str:
    return f"{rate / 1e6:9.2f}" if isinstance(rate, float) else f"{rate:>9s}"


def _ratio(a, b) -> str:
    return f"{a / b:8.3g}x" if isinstance(a, float) and isinstance(b, float) else f"{'-':>9s}"


def _attempt(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), None)``, or ``(None, a one-line reason)`` when it raises."""
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - any failure makes the contender unavailable
        lines = str(exc).strip().splitlines() or [""]
        return None, f"{type(exc).__name__}: {lines[0][:160]}"


def _ours(net, x0, t_max, n_traj, backend, t_run, per_traj, final):
    """``run(i)`` for :func:`best_rate`: our ``ssa`` to ``t_run``, seed i. A run to the row's
    full horizon ``t_max`` also fills ``per_traj`` (events per trajectory, for GillesPy2's
    estimate; from the first backend, or the only one) and ``final`` (mean end states)."""
    grid = torch.linspace(0.0, t_run, GRID_POINTS, dtype=torch.float64)

    def run(i):
        ens = ssa(net, x0=x0, t_max=t_run, n_traj=n_traj, seed=i, t_grid=grid, backend=backend)
        events = int(ens.n_events.sum())
        if t_run == t_max and (backend == BACKENDS[0] or not per_traj):
            per_traj.append(events / n_traj)
            final[backend] = ens.x[:, -1].double().mean(dim=0)
            final["alive"] = float((ens.x[:, -1] > 0).all(dim=1).double().mean())
        return events

    return run


def _theirs(model, solver, t_max, n_traj, events_per_traj, last):
    """``run(i)`` for :func:`best_rate`: GillesPy2's compiled SSA, seed i + 1; its result goes in
    ``last[0]``. It counts no events: the rate uses ``n_traj x events_per_traj`` (ours)."""

    def run(i):
        last[:] = [model.run(solver=solver, number_of_trajectories=n_traj, seed=i + 1)]
        end = float(last[0][0]["time"][-1])
        if len(last[0]) != n_traj or not math.isclose(end, t_max, rel_tol=1e-9):
            raise RuntimeError(f"GillesPy2 ran {len(last[0])} trajectories to t = "
                               f"{end}, asked for {n_traj} to {t_max}")
        return n_traj * events_per_traj

    return run


def report() -> None:
    started = time.perf_counter()
    print("\nGillespie SSA: reaction events per second (M = 10^6), best of repeats")
    print("context (targets): ours >= 15 M events/s with >= 10^3 trajectories; >= 50x the Python "
          "loop; GillesPy2's C++ SSA was measured at ~2.8-5.5 M events/s on this machine")
    threads = [f"torch {torch.get_num_threads()} threads"]
    try:
        import numba
        threads.append(f"numba {numba.__version__}, {numba.get_num_threads()} threads")
    except ImportError:
        pass
    try:
        import gillespy2
        threads.append(f"GillesPy2 {gillespy2.__version__} (one process, one thread)")
    except ImportError:
        pass
    print(f"{os.cpu_count()} cores; " + "; ".join(threads))

    notes, unavailable = [], {}
    header = (f"{'model':17s} {'n_traj':>7s} {'horizon':>15s} {'events/traj':>11s} "
              f"{'numba':>9s} {'torch':>9s} {'GillesPy2':>9s} {'Python':>9s}  "
              f"{'numba/GP2':>9s} {'torch/GP2':>9s} {'numba/Py':>9s} {'torch/Py':>9s}")
    rows_out, article_rates = [], []
    for model in MODELS:
        # Warm-ups outside the timing: numba's JIT compile, torch's first calls, GillesPy2's build.
        net1, x01 = model.network(model.rows[1][1])
        for backend in BACKENDS:
            if backend not in unavailable:
                _, reason = _attempt(ssa, net1, x0=x01, t_max=1e-3, n_traj=4, seed=0, backend=backend)
                if reason:
                    unavailable[backend] = reason

        # Python loop: one trajectory of the n = 1 row, 2 x 10^5 events, the same rate every row.
        t_max1 = model.rows[1][0]
        # the repeat index i is the seed, the last argument
        py_rate = best_rate(partial(python_direct_method, net1, x01, t_max1, PYTHON_EVENTS),
                            REPEATS["Python"])
        article_rates.append(best_rate(partial(article_style_loop, net1, x01, t_max1, ARTICLE_EVENTS), 2))

        solvers = {}
        for n_traj in N_TRAJS:
            t_max, omega = model.rows[n_traj]
            net, x0 = model.network(omega)
            rates, per_traj, final = {}, [], {}
            for backend in BACKENDS:
                if backend in unavailable:
                    rates[backend] = "n/a"
                    continue

                # The lock-step torch backend pays ~70 us of tensor launches per event on a
                # single trajectory: its n = 1 row runs a shorter horizon (events/s is per event).
                t_run = model.torch_t1 if backend == "torch" and n_traj == 1 else t_max
                run = _ours(net, x0, t_max, n_traj, backend, t_run, per_traj, final)
                rates[backend] = best_rate(run, REPEATS[backend])
                if backend == "numba" and n_traj == 10_000:
                    # GillesPy2 simulates on one core: numba's rate on one thread, per core.
                    import numba
                    threads = numba.get_num_threads()
                    numba.set_num_threads(1)
                    try:
                        one = best_rate(run, REPEATS[backend])
                    finally:
                        numba.set_num_threads(threads)
                    notes.append(f"{model.name}, n = 10^4: numba on 1 thread {one / 1e6:.1f} M "
                                 f"events/s ({threads} threads: {rates[backend] / 1e6:.1f})")
            mean_events = sum(per_traj) / len(per_traj) if per_traj else float("nan")

            gp2, key = "n/a", (model.name, omega)
            if "GillesPy2" not in unavailable and key not in solvers:
                name = f"{model.name}_{omega}".replace("-", "_")
                built, reason = _attempt(gillespy2_solver, net, x0, name)
                if reason:
                    unavailable["GillesPy2"] = reason
                else:
                    solvers[key] = built
            if "GillesPy2" not in unavailable:
                gp_model, solver = solvers[key]
                # The solver simulates its own copy of the model: a new horizon goes on that
                # copy (passing t= and increment= to run() works once, then fails with "Both
                # increment and timespan are set", as the first call sets the copy's timespan).
                solver.model.timespan(np.linspace(0.0, t_max, GRID_POINTS))
                gp_model.run(solver=solver, number_of_trajectories=1, seed=1)  # warm-up
                last = []
                gp2 = best_rate(_theirs(gp_model, solver, t_max, n_traj, mean_events, last),
                                REPEATS["GillesPy2"])
                if n_traj == 10_000 and BACKENDS[0] in final:
                    gp_final = np.array([[traj[s][-1] for s in net.species] for traj in last[0]])
                    ours = ", ".join(f"{s} {v:.1f}" for s, v in zip(net.species, final[BACKENDS[0]]))
                    theirs = ", ".join(f"{s} {v:.1f}" for s, v in zip(net.species, gp_final.mean(0)))
                    notes.append(f"{model.name}, 10^4 trajectories, mean state at t = {t_max:g}: "
                                 f"ours {ours}; GillesPy2 {theirs}")
            if model.name == "Lotka-Volterra" and "alive" in final:
                notes.append(f"Lotka-Volterra, n = {n_traj}, t = {t_max:g}: "
                             f"{100 * final['alive']:.1f}% of trajectories with both species alive")

            horizon = f"t={t_max:g}" + (f", Om={omega:g}" if omega != 1 else "")
            line = (f"{model.name:17s} {n_traj:7d} {horizon:>15s} {mean_events:11.3g} "
                    f"{_fmt(rates['numba'])} {_fmt(rates['torch'])} {_fmt(gp2)} {_fmt(py_rate)}  "
                    f"{_ratio(rates['numba'], gp2)} {_ratio(rates['torch'], gp2)} "
                    f"{_ratio(rates['numba'], py_rate)} {_ratio(rates['torch'], py_rate)}")
            rows_out.append((n_traj, rates, gp2, py_rate))
            if len(rows_out) == 1:
                print(header)
            print(line, flush=True)

    print("events/s in M/s. GillesPy2's events are estimated: n x mean events per trajectory of our "
          "numba runs of the same model and horizon (it reports no event count); its time includes "
          "starting the compiled simulation and decoding its output, not the one-time compile. "
          "Python: one trajectory of 2x10^5 events, extrapolated to n trajectories. torch, "
          "n = 1: a shorter horizon (" + ", ".join(f"{m.name} t={m.torch_t1:g}" for m in MODELS)
          + ").")
    for note in notes:
        print("  " + note)
    for name, reason in unavailable.items():
        print(f"  {name} unavailable: {reason}")
    print(f"  article-style loop (numpy and scipy.special.comb per event, rng.choice for the "
          f"reaction; one trajectory of {ARTICLE_EVENTS:,} events): "
          + ", ".join(f"{m.name} {r / 1e6:.3f} M events/s" for m, r in zip(MODELS, article_rates)))
    big = [row for row in rows_out if row[0] >= 10_000]
    for backend in BACKENDS:
        measured = [(r[backend], gp2, py) for _, r, gp2, py in big if isinstance(r[backend], float)]
        if not measured:
            continue
        low = min(rate for rate, _, _ in measured) / 1e6
        vs_py = min(rate / py for rate, _, py in measured)
        vs_gp2 = [rate / gp2 for rate, gp2, _ in measured if isinstance(gp2, float)]
        print(f"  vs targets, {backend} at >= 10^4 trajectories: >= {low:.1f} M events/s "
              f"({'met' if low >= 15 else 'missed'}: >= 15), >= {vs_py:.1f}x the Python loop "
              f"({'met' if vs_py >= 50 else 'missed'}: >= 50x), "
              f">= {low * 1e6 / max(article_rates):.0f}x the article-style loop"
              + (f", >= {min(vs_gp2):.1f}x GillesPy2" if vs_gp2 else ""))

    print("\nmemory per trajectory of our kernel (Michaelis-Menten, 4 species, 5 grid points, "
          f"{MEMORY_TRAJ:,} trajectories, fresh process each):")
    for backend in BACKENDS:
        if backend in unavailable:
            print(f"  {backend:6s} unavailable: {unavailable[backend]}")
            continue
        probe = subprocess.run(
            [sys.executable, "-c",
             f"from benchmarks.bench_gillespie import _memory_probe; _memory_probe({backend!r})"],
            capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
        if probe.returncode != 0:
            print(f"  {backend:6s} probe failed: {probe.stderr.strip().splitlines()[-1:]}")
            continue
        m = json.loads(probe.stdout.strip().splitlines()[-1])
        print(f"  {backend:6s} recorded ensemble {m['recorded']:.0f} B/trajectory "
              f"(x [n, 5, 4] int64 + n_events + t); peak resident growth {m['peak']:.0f} B/trajectory "
              f"(recording plus working state)")
    print(f"bench_gillespie took {time.perf_counter() - started:.0f} s")


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def _memory_probe(backend: str) -> None:
    """Print JSON: bytes per trajectory, recorded and peak resident growth, of one large run."""
    net, x0 = MODELS[1].network(1)
    grid = torch.linspace(0.0, 0.1, GRID_POINTS, dtype=torch.float64)
    ssa(net, x0=x0, t_max=0.1, n_traj=16, seed=0, t_grid=grid, backend=backend)  # compile, warm
    gc.collect()
    try:  # Linux: writing 5 resets the peak (VmHWM), so a compile's earlier peak does not count
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    resident = _status_bytes("VmRSS")
    ens = ssa(net, x0=x0, t_max=0.1, n_traj=MEMORY_TRAJ, seed=0, t_grid=grid, backend=backend)
    peak = _status_bytes("VmHWM")
    recorded = sum(v.numel() * v.element_size() for v in (ens.x, ens.t, ens.n_events))
    print(json.dumps({"recorded": recorded / MEMORY_TRAJ, "peak": (peak - resident) / MEMORY_TRAJ}))
