"""Parameter sweeps: 2 local Dask workers against the same sweep in this process, and the torch
backend's batched per-trajectory rates against one ``ssa`` call per point.

Model: two-stage gene expression, 0 -> M (k_m = 2), M -> M + P (k_p), M -> 0 (gamma_m),
P -> 0 (gamma_p = 0.5), from M = P = 0, on ``grid(k_p=[5, 10, 20], gamma_m=[0.5, 1, 2])``: 9
points whose cost differs ~10x (from ~260 to ~2800 events per trajectory to t = 20).

a. Dask: ``sweep(..., backend="numba")`` at 64,000 trajectories per point to t = 20 (11 recording
   times), ~6 x 10^8 events: ~13-25 s in this process on the 2-core machine it was written on
   (numba on all cores' threads, 25-45 M events/s between runs). The same sweep on a
   ``distributed.LocalCluster`` of 2 worker processes (1 Dask thread each), started outside the
   timing; a warm-up task on each worker compiles numba (or loads its cache) outside the timing,
   and reports the worker's numba thread count (numba's own pool, which the Dask thread count
   does not limit; the workers start with ``NUMBA_NUM_THREADS=1``, so 1 each). Both runs use
   ``chunk_size=4000`` (16 tasks per point, 144 in all, so that the costly points cannot leave
   one worker idle at the end); a third run shows the default ``chunk_size`` on the cluster
   (``TASKS_PER_POINT`` tasks per point). One run each.
   Goal: the cluster within 10% of this process on a >= 10 s workload, printed, not asserted.
   The results must be bit-identical (exact integer sums), and are checked.
b. Torch, batched rates: the 9 points as one lock-step batch (``sweep(..., backend="torch")``
   with ``client=None`` and ``chunk_size`` = all trajectories, so one batch of ``[9 n, R]`` rates)
   against a loop of 9 ``ssa(..., backend="torch", rates=<that point's [R] rates>)`` calls, at
   2,000 trajectories per point to t = 5 (~3 x 10^6 events, a few seconds on a CPU; both run
   single-threaded on a CPU, as batches under 2^15 rows do). Events per second of each, best of
   repeats; the two must fire the same events at every point (same streams).

``gpu_check`` reuses :func:`batched_vs_loop` on CUDA. Run alone: ``python -m benchmarks bench_sweeps``.
"""

import os
import time

import torch

from companion.gillespie import ReactionNetwork, ssa
from companion.sweeps import DEFAULT_CHUNK_VALUES, TASKS_PER_POINT, grid, sweep

NETWORK = ReactionNetwork(["0 -> M", "M -> M + P", "M -> 0", "P -> 0"],
                          {"k_m": 2.0, "k_p": 10.0, "gamma_m": 1.0, "gamma_p": 0.5})
X0 = {"M": 0, "P": 0}
POINTS = grid(k_p=[5.0, 10.0, 20.0], gamma_m=[0.5, 1.0, 2.0])
DASK_TRAJ, DASK_T, DASK_CHUNK, DASK_TIMES = 64_000, 20.0, 4_000, 11
TORCH_TRAJ, TORCH_T, TORCH_TIMES, TORCH_REPEATS = 2_000, 5.0, 5, 3


def point_rates(network: ReactionNetwork = NETWORK, params=POINTS) -> torch.Tensor:
    """float64 ``[P, R]``: the network's rates with each point's swept values in place."""
    n_points = len(next(iter(params.values())))
    rates = network.rates.expand(n_points, -1).clone()
    for name, values in params.items():
        rates[:, network.rate_names.index(name)] = torch.as_tensor(values, dtype=torch.float64)
    return rates


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def batched_vs_loop(device="cpu", n_traj: int = TORCH_TRAJ, t_max: float = TORCH_T,
                    repeats: int = TORCH_REPEATS) -> dict:
    """Best events/s of the sweep as one torch batch and of one ``ssa`` call per point.

    Each timed run starts after ``torch.cuda.synchronize`` (on CUDA) and ends when its event
    counts are Python ints on the host (a device-to-host copy waits for the GPU), then synchronises
    again. Returns ``{"batched", "loop"}`` (events/s), ``"n_traj"`` (per point), ``"events"`` (per
    run), ``"seconds"`` (best of each) and ``"same"`` (the two fired the same events at every
    point).
    """
    device = torch.device(device)
    t_grid = torch.linspace(0.0, t_max, TORCH_TIMES, dtype=torch.float64)
    rates = point_rates()
    n_points = len(rates)
    common = dict(t_max=t_max, n_traj=n_traj, seed=0, t_grid=t_grid, backend="torch", device=device)

    def batched():
        s = sweep(NETWORK, POINTS, X0, chunk_size=n_points * n_traj, progress_bar=False, **common)
        return [int(e) for e in s.events]  # _run_block copies to the host: waits for the device

    def loop():
        return [int(ssa(NETWORK, X0, rates=rates[p], **common).n_events.sum()) for p in range(n_points)]

    out = {"seconds": {}, "n_traj": n_traj}
    for name, fn in (("batched", batched), ("loop", loop)):
        fn()  # warm-up: first calls, CUDA context and kernels
        best, events = float("inf"), None
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            events = fn()
            _sync(device)
            best = min(best, time.perf_counter() - start)
        out[name] = sum(events) / best
        out["seconds"][name] = best
        out[f"{name}_events"] = events
    out["events"] = sum(out["batched_events"])
    out["same"] = out["batched_events"] == out["loop_events"]
    return out


def _warm_worker() -> int:
    """On a worker: compile (or load) numba's kernel on a tiny sweep; the worker's numba threads."""
    import numba

    sweep(NETWORK, POINTS, X0, t_max=1.0, n_traj=4, backend="numba", progress_bar=False)
    return numba.get_num_threads()


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _identical(a, b) -> str:
    return f"sums {bool((a.sums == b.sums).all())}, events {bool((a.events == b.events).all())}"


def dask_table() -> None:
    n_points = len(next(iter(POINTS.values())))
    print(f"\nSweep on 2 local Dask workers against this process: gene expression, {n_points} points "
          f"(k_p x gamma_m), {DASK_TRAJ:,} trajectories per point to t = {DASK_T:g}, numba backend; "
          f"one run each, seconds")
    try:
        import distributed
        import numba
    except ImportError as error:
        print(f"  unavailable: {error}")
        return
    kw = dict(t_max=DASK_T, n_traj=DASK_TRAJ, seed=0, backend="numba", progress_bar=False,
              t_grid=torch.linspace(0.0, DASK_T, DASK_TIMES, dtype=torch.float64))
    default_chunk = min(max(1, DEFAULT_CHUNK_VALUES // (DASK_TIMES * NETWORK.n_species)),
                        -(-DASK_TRAJ // TASKS_PER_POINT))  # sweep's default on a cluster

    _warm_worker()  # numba compiles here, outside the timing
    here, t_here = _timed(lambda: sweep(NETWORK, POINTS, X0, chunk_size=DASK_CHUNK, **kw))
    events = sum(int(e) for e in here.events)
    print(f"  {'this process (numba, ' + str(numba.get_num_threads()) + ' threads)':58s} {t_here:8.2f}"
          f"   {events:.3g} events, {events / t_here / 1e6:.1f} M events/s")

    start = time.perf_counter()
    # NUMBA_NUM_THREADS=1: one thread per worker in all, as companion.sweeps advises.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", host="127.0.0.1",
                                  env={"NUMBA_NUM_THREADS": "1"}) as cluster, \
            distributed.Client(cluster) as client:
        t_start = time.perf_counter() - start
        start = time.perf_counter()
        workers = sorted(client.scheduler_info()["workers"])
        warm = [client.submit(_warm_worker, workers=[w], allow_other_workers=False, pure=False)
                for w in workers]
        threads = client.gather(warm)
        t_warm = time.perf_counter() - start
        print(f"  (cluster started in {t_start:.1f} s, warm-up {t_warm:.1f} s, outside the timing; "
              f"{len(workers)} workers x 1 Dask thread; numba threads per worker: {threads})")
        rows = ((f"2 Dask workers, chunk_size={DASK_CHUNK} ({n_points * -(-DASK_TRAJ // DASK_CHUNK)} tasks)",
                 DASK_CHUNK),
                (f"2 Dask workers, default chunk_size={default_chunk} "
                 f"({n_points * -(-DASK_TRAJ // default_chunk)} tasks)", None))
        ratios = []
        for name, chunk in rows:
            there, t_there = _timed(lambda chunk=chunk: sweep(NETWORK, POINTS, X0, chunk_size=chunk,
                                                              client=client, **kw))
            ratios.append(t_there / t_here)
            print(f"  {name:58s} {t_there:8.2f}   {t_there / t_here:.3f}x this process's time; "
                  f"bit-identical: {_identical(here, there)}")
    met = "met" if ratios[0] <= 1.10 and t_here >= 10 else "missed"
    print(f"  goal: the cluster within 10% of this process on a >= 10 s workload (Dask / here <= 1.10, "
          f"chunk_size={DASK_CHUNK}): {ratios[0]:.3f} on {t_here:.1f} s, {met}")
    print("  (this process runs one numba call per chunk over all points, on all cores' threads; each "
          "worker runs one task, one point and chunk, at a time)")


def torch_table() -> None:
    r = batched_vs_loop()
    print(f"\nTorch backend, batched rates on the CPU: the {len(point_rates())} points as one lock-step "
          f"batch (sweep, client=None) against one ssa(rates=[R]) call per point; {TORCH_TRAJ:,} "
          f"trajectories per point to t = {TORCH_T:g}, {r['events']:.3g} events; best of {TORCH_REPEATS}")
    print(f"  {'one batch (sweep)':24s} {r['batched'] / 1e6:8.2f} M events/s  ({r['seconds']['batched']:.2f} s)")
    print(f"  {'one ssa call per point':24s} {r['loop'] / 1e6:8.2f} M events/s  ({r['seconds']['loop']:.2f} s)")
    print(f"  ratio (batch / loop) {r['batched'] / r['loop']:.2f}x; same events at every point: {r['same']}; "
          f"torch {torch.get_num_threads()} threads (batches under 2^15 rows run on 1)")


def report() -> None:
    started = time.perf_counter()
    print(f"\nbench_sweeps: {os.cpu_count()} cores")
    dask_table()
    torch_table()
    print(f"bench_sweeps took {time.perf_counter() - started:.0f} s")
