r"""Ensembles and parameter sweeps of :func:`companion.gillespie.ssa`, here or on a Dask cluster.

Statistics of a stochastic model need many trajectories, and a study needs them at many
parameter values. :func:`sweep` runs ``n_traj`` trajectories at every point of a parameter grid
(rates by name, initial counts by species) and returns per-point moments with their standard
errors (:class:`Sweep`); :func:`ensemble` runs one ensemble in chunks and returns every
trajectory. Both run in this process, or on a Dask cluster when given a ``distributed.Client``
(or a scheduler address).

Three properties make a chunked run the same as one run, bit for bit:

* trajectory ``i`` of ``seed`` draws from its own random stream, a function of ``(seed, i)``
  alone (:func:`~companion.gillespie.ssa`, ``first_trajectory``), so it is the same in any chunk,
  batch, process or machine;
* every point of a sweep uses trajectories ``0 .. n_traj - 1`` of ``seed`` (common random
  numbers: differences between neighbouring points are less noisy than the points themselves);
* a chunk returns exact integer power sums :math:`\sum_i x_i^p`, ``p = 1..4``, which add up the
  same in any order; means and central moments are formed once, from the totals, with one
  correctly rounded division each.

So summaries are computed where the data is: a worker returns ``[T, S]`` sums, never its
trajectories, and a sweep of :math:`10^8` trajectories ships kilobytes. Dask is imported only
when a client is passed (``pip install 'kexue-companion[distributed]'``).

The numba backend runs each task on all the threads numba is allowed (its own pool, which
Dask's ``threads_per_worker`` does not limit): with several workers on one machine, start them
with ``NUMBA_NUM_THREADS=1`` (``LocalCluster(..., env={"NUMBA_NUM_THREADS": "1"})``) so that
they do not oversubscribe the cores.

Introduced in: Gillespie simulation (kexue.fm/archives/5607).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
import uuid
from collections.abc import Mapping

import numpy as np
import torch

from companion import progress
from companion.checks import choice, real
from companion.checks import positive_int as _positive_int
from companion.gillespie import (BACKENDS, MAX_COUNT, Ensemble, ReactionNetwork, _counts, _device,
                                 _run_arguments, _simulate)

__all__ = ["grid", "sweep", "ensemble", "Sweep", "connect", "DEFAULT_CHUNK_VALUES", "TASKS_PER_POINT"]

#: Default chunk size: about this many recorded values (trajectories x grid times x species)
#: per chunk, 32 MiB of int64, so that memory stays bounded however many trajectories are asked.
DEFAULT_CHUNK_VALUES = 1 << 22
#: On a cluster the default chunk is also at most ``ceil(n_traj / TASKS_PER_POINT)`` trajectories.
TASKS_PER_POINT = 8


def grid(**axes) -> dict[str, np.ndarray]:
    """The Cartesian product of parameter axes, as equal-length arrays (one entry per point).

    ``grid(k_p=[5, 10], gamma_m=[0.5, 1, 2])`` has 6 points; the first axis varies slowest.
    Each axis is a non-empty 1-D sequence of numbers.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    if not axes:
        raise ValueError("grid needs at least one axis, e.g. grid(k_p=[5, 10])")
    values = {name: _axis(name, v) for name, v in axes.items()}
    points = list(itertools.product(*values.values()))
    return {name: np.array([p[j] for p in points]) for j, name in enumerate(values)}


def _axis(name, values) -> list:
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__") or np.ndim(values) != 1:
        raise ValueError(f"parameter {name!r} must be a 1-D sequence of values, got {values!r}")
    if len(values) == 0:
        raise ValueError(f"parameter {name!r} must have at least one value, got {values!r}")
    out = np.asarray(values).tolist()
    for v in out:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError(f"parameter {name!r} must hold real numbers, got {v!r}")
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class Sweep:
    r"""Per-point moments of a :func:`sweep`: ``P`` points, ``T`` times, ``S`` species.

    Attributes:
        params: ``{name: [P]}``, the parameter values of each point.
        t: float64 ``[T]``, the recording times.
        species: the names of the last axis.
        n_traj: trajectories per point.
        sums: int ``[P, 4, T, S]`` (Python ints, exact): :math:`\sum_i x_i^p` for ``p = 1..4``.
        events: ``[P]`` Python ints, the events fired by all trajectories of each point.

    The moment arrays below are float64 ``[P, T, S]``, each value the correctly rounded result of
    exact integer arithmetic on the sums (so they do not depend on how the run was chunked).

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """

    params: dict[str, np.ndarray]
    t: np.ndarray
    species: tuple[str, ...]
    n_traj: int
    sums: np.ndarray
    events: np.ndarray

    def __len__(self) -> int:
        return len(self.sums)

    def _central(self, p: int) -> np.ndarray:
        """:math:`n^p \\mu_p` as exact integers (p = 2, 3, 4), from the power sums."""
        n = self.n_traj
        s1, s2, s3, s4 = (self.sums[:, k] for k in range(4))
        if p == 2:
            return n * s2 - s1 * s1
        if p == 3:
            return n * n * s3 - 3 * n * s1 * s2 + 2 * s1 ** 3
        return n ** 3 * s4 - 4 * n * n * s1 * s3 + 6 * n * s1 * s1 * s2 - 3 * s1 ** 4

    @staticmethod
    def _divide(numerator: np.ndarray, denominator: int) -> np.ndarray:
        # int / int is correctly rounded in Python, however large the integers.
        return np.array([int(v) / denominator for v in numerator.reshape(-1)]).reshape(numerator.shape)

    @property
    def mean(self) -> np.ndarray:
        """Sample mean of the counts, ``[P, T, S]``."""
        return self._divide(self.sums[:, 0], self.n_traj)

    @property
    def var(self) -> np.ndarray:
        """Unbiased sample variance, ``[P, T, S]`` (NaN with one trajectory)."""
        n = self.n_traj
        if n < 2:
            return np.full(self.sums[:, 0].shape, math.nan)
        return self._divide(self._central(2), n * (n - 1))

    @property
    def sem(self) -> np.ndarray:
        """Standard error of :attr:`mean`, :math:`\\sqrt{s^2/n}`, ``[P, T, S]``."""
        return np.sqrt(self.var / self.n_traj)

    @property
    def mean_events(self) -> np.ndarray:
        """Mean number of events per trajectory, ``[P]``."""
        return np.array([int(e) / self.n_traj for e in self.events])

    def fano(self, species: str) -> tuple[np.ndarray, np.ndarray]:
        r"""Fano factor :math:`F = s^2/\bar x` of one species and its standard error, each ``[P, T]``.

        The error is the delta-method one from the sample's own central moments,
        :math:`\operatorname{se}(F)^2 = \big[\mu_2^3/m^4 + (\mu_4 - \mu_2^2)/m^2
        - 2\mu_2\mu_3/m^3\big]/n` (for a Poisson law, :math:`\sqrt{2/n}`). NaN where the mean is 0.
        """
        if species not in self.species:
            raise ValueError(f"unknown species {species!r}; species={self.species!r}")
        s = self.species.index(species)
        n = self.n_traj
        m = self.mean[..., s]
        with np.errstate(divide="ignore", invalid="ignore"):
            fano = self.var[..., s] / m
            mu2, mu3, mu4 = (self._divide(self._central(p)[..., s], n ** p) for p in (2, 3, 4))
            se2 = (mu2 ** 3 / m ** 4 + (mu4 - mu2 ** 2) / m ** 2 - 2 * mu2 * mu3 / m ** 3) / n
            return np.where(m > 0, fano, math.nan), np.where(m > 0, np.sqrt(np.maximum(se2, 0)), math.nan)

    def __repr__(self) -> str:
        names = ", ".join(self.params)
        return (f"Sweep({len(self)} points over ({names}), {self.n_traj} trajectories each, "
                f"{len(self.t)} times, species={self.species!r})")


def _parameters(network: ReactionNetwork, params) -> tuple[dict[str, np.ndarray], int]:
    if not isinstance(params, Mapping) or not params:
        raise TypeError(f"params must be a non-empty dict name -> values (see companion.sweeps.grid), "
                        f"got {params!r}")
    known = set(network.rate_names) | set(network.species)
    both = set(network.rate_names) & set(network.species)
    out, lengths = {}, {}
    for name, values in params.items():
        if name not in known:
            raise ValueError(f"unknown parameter {name!r}: a sweep varies a rate "
                             f"({', '.join(network.rate_names)}) or an initial count "
                             f"({', '.join(network.species)})")
        if name in both:
            raise ValueError(f"parameter {name!r} is both a rate name and a species; rename one")
        out[name] = np.asarray(_axis(name, values))
        lengths[name] = len(out[name])
    if len(set(lengths.values())) > 1:
        raise ValueError(f"params must all have the same length (one value per point; use "
                         f"companion.sweeps.grid for a Cartesian product), got lengths {lengths}")
    return out, next(iter(lengths.values()))


def _points(network, params, x0, n_points):
    """Checked rates ``[P, R]`` (float64 tensor) and initial counts ``[P, S]`` (int64) per point."""
    base = _counts(network, x0)
    rates = network.rates.expand(n_points, -1).clone()
    counts = np.tile(base, (n_points, 1))
    for name, values in params.items():
        if name in network.rate_names:
            r = network.rate_names.index(name)
            for p, k in enumerate(values.tolist()):
                rates[p, r] = real(k, f"params[{name!r}][{p}]", nonnegative=True)
        else:
            s = network.index(name)
            for p, v in enumerate(values.tolist()):
                if not float(v).is_integer() or not 0 <= v <= MAX_COUNT:
                    raise ValueError(f"params[{name!r}][{p}] must be an initial count, an integer "
                                     f"in [0, 2**62], got {v!r}")
                counts[p, s] = int(v)
    return rates, counts


def _chunks(n_traj: int, chunk_size: int) -> list[tuple[int, int]]:
    return [(k, min(chunk_size, n_traj - k)) for k in range(0, n_traj, chunk_size)]


def _power_sums(x: np.ndarray) -> np.ndarray:
    """Exact :math:`\\sum_i x_i^p`, ``p = 1..4``, over axis 0 of int64 counts: object ``[4, ...]``."""
    n, top = len(x), int(np.abs(x).max(initial=0))
    if n * top ** 4 < 2**63:  # every partial sum fits in int64: fast and exact
        sums = [(x ** p).sum(axis=0, dtype=np.int64) for p in range(1, 5)]
        return np.array(sums).astype(object)
    big = x.astype(object)
    return np.array([(big ** p).sum(axis=0) for p in range(1, 5)], dtype=object)


def _run_block(network, counts, rates, t_max, seed, first, n, t_grid, backend, device,
               max_events, labels):
    """Trajectories ``first .. first + n - 1`` at each point of a block: integer sums per point.

    ``counts`` ``[B, S]`` and ``rates`` ``[B, R]`` describe ``B`` points; ``labels`` name them.
    Returns (``[B, 4, T, S]`` power sums, ``[B]`` event totals), both Python ints.
    """
    B = len(counts)
    # Row j * B + b is trajectory first + j of point b: interleaving the points gives every
    # thread of the numba loop (which splits rows into contiguous blocks) the same mix of cheap
    # and costly points.
    streams = np.repeat(np.arange(first, first + n, dtype=np.int64), B)
    ens = _simulate(network, np.tile(counts, (n, 1)), t_max, t_grid, seed, streams,
                    rates.repeat(n, 1), backend, device, max_events,
                    lambda row: f"{labels[row % B]}, trajectory {first + row // B}")
    x = ens.x.cpu().numpy().reshape(n, B, *ens.x.shape[1:])
    events = ens.n_events.cpu().numpy().reshape(n, B)
    return (np.stack([_power_sums(x[:, b]) for b in range(B)]),
            np.array([int(events[:, b].sum()) for b in range(B)], dtype=object))


def sweep(network: ReactionNetwork, params, x0, *, t_max: float, n_traj: int, seed: int = 0,
          t_grid=None, backend: str = "auto", device=None, max_events: int | None = None,
          chunk_size: int | None = None, client=None, timeout: float = 10.0,
          progress_bar: bool = True) -> Sweep:
    r"""Run ``n_traj`` trajectories at every point of a parameter grid; moments per point.

    Args:
        network: the :class:`~companion.gillespie.ReactionNetwork`; name its rates with a dict
            (``ReactionNetwork(reactions, {"k_m": 2.0, ...})``) to sweep them by name.
        params: ``{name: values}``, every ``values`` 1-D and of the same length ``P`` (one value
            per point; :func:`grid` builds a Cartesian product). A name is a rate
            (``network.rate_names``: finite, >= 0) or a species (its initial count: an integer
            in ``[0, 2**62]``); what ``params`` leaves out comes from ``network.rates`` and ``x0``.
        x0: the initial counts, as in :func:`~companion.gillespie.ssa`.
        t_max, t_grid, max_events, backend, device: as in :func:`~companion.gillespie.ssa`
            (``device`` only for ``backend="torch"`` in this process; workers run on their CPU).
        n_traj: trajectories per point, an integer >= 1; every point uses trajectories
            ``0 .. n_traj - 1`` of ``seed``.
        seed: integer seed in ``[0, 2**63)``.
        chunk_size: trajectories per task, an integer >= 1; default about
            :data:`DEFAULT_CHUNK_VALUES` recorded values per task, and on a cluster at most
            ``n_traj /`` :data:`TASKS_PER_POINT` (so that unequal points balance). It changes
            memory and parallelism, never the result.
        client: ``None`` (run here, all points of a chunk as one batch), a
            ``distributed.Client``, or a scheduler address such as ``"tcp://10.0.0.5:8786"``
            (connected for this call, within ``timeout``). On a cluster each task is one point
            and one chunk, and returns only its sums.
        timeout: seconds to wait for a scheduler given by address, > 0.
        progress_bar: show a ``tqdm`` bar over tasks (never in the built book).

    Returns:
        :class:`Sweep`, equal bit for bit whatever ``chunk_size`` and ``client``.

    Raises:
        TypeError: ``client`` is not a ``distributed.Client`` or an address.
        ConnectionError: no scheduler answered at the address within ``timeout``.
        ValueError: unknown parameter names, lengths that differ, bad values (named).
        SimulationLimitError: as :func:`~companion.gillespie.ssa`, naming the point.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    setup = _setup(network, x0, t_max, n_traj, seed, t_grid, backend, device, max_events, chunk_size,
                   params=params, timeout=timeout, for_cluster=client is not None)
    (t_max, n_traj, seed, t_grid, device, max_events, chunk_size, timeout, values, rates,
     counts) = setup
    labels = [", ".join(f"{k}={v.tolist()[p]!r}" for k, v in values.items()) for p in range(len(counts))]
    labels = [f"sweep point {p} ({label})" for p, label in enumerate(labels)]
    P, (T, S) = len(counts), (t_grid.numel(), network.n_species)
    sums = np.zeros((P, 4, T, S), dtype=object)
    events = np.zeros(P, dtype=object)
    run = dict(network=network, t_max=t_max, seed=seed, t_grid=t_grid, backend=backend,
               max_events=max_events)

    if client is None:
        # All points of a chunk in one call: one lock-step batch on the torch backend.
        block = max(1, chunk_size // P)
        for first, n in progress.tqdm(_chunks(n_traj, block), desc="sweep", show=progress_bar):
            s, e = _run_block(counts=counts, rates=rates, first=first, n=n, device=device,
                              labels=labels, **run)
            sums += s
            events += e
    else:
        tasks = [dict(counts=counts[p:p + 1].copy(), rates=rates[p:p + 1].clone(), first=first, n=n,
                      device=torch.device("cpu"), labels=labels[p:p + 1], **run)
                 for p in range(P) for first, n in _chunks(n_traj, chunk_size)]
        points = [p for p in range(P) for _ in _chunks(n_traj, chunk_size)]
        for i, (s, e) in _on_cluster(client, timeout, tasks, progress_bar, "sweep"):
            sums[points[i]] += s[0]
            events[points[i]] += e[0]
    return Sweep(params=values, t=t_grid.numpy(), species=network.species, n_traj=n_traj,
                 sums=sums, events=events)


def ensemble(network: ReactionNetwork, x0, *, t_max: float, n_traj: int, seed: int = 0,
             t_grid=None, backend: str = "auto", device=None, max_events: int | None = None,
             chunk_size: int | None = None, client=None, timeout: float = 10.0,
             progress_bar: bool = True) -> Ensemble:
    """:func:`~companion.gillespie.ssa` in chunks, here or on a Dask cluster; every trajectory.

    The result equals ``ssa(network, x0, t_max=..., n_traj=..., seed=..., backend=...)`` bit for
    bit whatever ``chunk_size`` and ``client`` (workers run on their CPU; ``device`` applies in
    this process). Arguments are
    those of :func:`sweep`; the trajectories come back to this process, so for statistics of
    large ensembles use :func:`sweep` (one point: ``params={name: [value]}``), which ships sums.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    setup = _setup(network, x0, t_max, n_traj, seed, t_grid, backend, device, max_events, chunk_size,
                   timeout=timeout, for_cluster=client is not None)
    t_max, n_traj, seed, t_grid, device, max_events, chunk_size, timeout, _, rates, counts = setup
    tasks = [dict(network=network, counts=counts[0], t_max=t_max, t_grid=t_grid, seed=seed,
                  streams=np.arange(first, first + n, dtype=np.int64), rates=rates[0],
                  backend=backend, device=device, max_events=max_events,
                  where=_Where("ensemble: trajectory", first))
             for first, n in _chunks(n_traj, chunk_size)]
    if client is None:
        parts = [_simulate_task(task) for task in progress.tqdm(tasks, desc="ensemble", show=progress_bar)]
    else:
        parts = [None] * len(tasks)
        for task in tasks:
            task["device"] = torch.device("cpu")
        for i, part in _on_cluster(client, timeout, tasks, progress_bar, "ensemble", fn=_simulate_task):
            parts[i] = part
    return Ensemble(t_grid, torch.cat([p.x for p in parts]), torch.cat([p.n_events for p in parts]),
                    network.species)


class _Where:
    """Names row ``i`` of a chunk as trajectory ``first + i`` (a picklable ``where``)."""

    def __init__(self, prefix: str, first: int):
        self.prefix, self.first = prefix, first

    def __call__(self, row: int) -> str:
        return f"{self.prefix} {self.first + row}"


def _simulate_task(task: dict) -> Ensemble:
    return _simulate(task["network"], task["counts"], task["t_max"], task["t_grid"], task["seed"],
                     task["streams"], task["rates"], task["backend"], task["device"],
                     task["max_events"], task["where"])


def _block_task(task: dict):
    return _run_block(**task)


def _setup(network, x0, t_max, n_traj, seed, t_grid, backend, device, max_events, chunk_size,
           *, params=None, timeout, for_cluster):
    if not isinstance(network, ReactionNetwork):
        raise TypeError(f"network must be a ReactionNetwork, got {type(network).__name__}")
    choice(backend, "backend", BACKENDS)
    t_max, n_traj, seed, t_grid, max_events = _run_arguments(t_max, n_traj, seed, t_grid, max_events)
    timeout = real(timeout, "timeout", positive=True)
    device = _device(device)
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"backend='numba' runs on the CPU, got device={str(device)!r}")
    if params is None:
        values, n_points = {}, 1
    else:
        values, n_points = _parameters(network, params)
    rates, counts = _points(network, values, x0, n_points)
    if chunk_size is None:
        chunk_size = max(1, DEFAULT_CHUNK_VALUES // (t_grid.numel() * network.n_species))
        if for_cluster:
            # Several tasks per point, so that points of unequal cost spread over the workers
            # instead of leaving one long task at the end.
            chunk_size = min(chunk_size, -(-n_traj // TASKS_PER_POINT))
    else:
        chunk_size = _positive_int(chunk_size, "chunk_size")
    return t_max, n_traj, seed, t_grid, device, max_events, chunk_size, timeout, values, rates, counts


def connect(address: str, *, timeout: float = 10.0):
    """A ``distributed.Client`` for the scheduler at ``address``, or a clear error within ``timeout``.

    Args:
        address: e.g. ``"tcp://10.0.0.5:8786"`` (what ``dask scheduler`` prints), often read from
            the ``DASK_SCHEDULER_ADDRESS`` environment variable.
        timeout: seconds to wait for the scheduler to answer, > 0.

    Raises:
        ImportError: Dask distributed is not installed.
        ConnectionError: nothing answered at ``address`` within ``timeout`` seconds.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    distributed = _distributed()
    if not isinstance(address, str) or not address:
        raise TypeError(f"address must be a scheduler address such as 'tcp://127.0.0.1:8786', got {address!r}")
    timeout = real(timeout, "timeout", positive=True)
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ConnectionError(f"no Dask scheduler answered at {address!r} within {timeout:g} s "
                              f"({type(error).__name__}: {error}); start one with `dask scheduler` "
                              f"and workers with `dask worker {address}`") from None


def _distributed():
    try:
        import distributed
    except ImportError as error:
        raise ImportError("a Dask client needs the distributed package: pip install "
                          "'kexue-companion[distributed]'") from error
    return distributed


def _on_cluster(client, timeout, tasks, progress_bar, desc, fn=_block_task):
    """Submit ``fn(task)`` for every task and yield ``(index, result)`` as they finish.

    A lost worker's tasks are re-run elsewhere by the scheduler (the runs are deterministic, so
    the results are the same); on any error the remaining tasks are cancelled.
    """
    distributed = _distributed()
    own = isinstance(client, str)
    if own:
        client = connect(client, timeout=timeout)
    elif not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a distributed.Client, a scheduler address or None, got "
                        f"{type(client).__name__}")
    token = uuid.uuid4().hex[:12]
    futures = [client.submit(fn, task, key=f"companion-{desc}-{token}-{i}")
               for i, task in enumerate(tasks)]
    index = {f.key: i for i, f in enumerate(futures)}
    try:
        done = distributed.as_completed(futures, loop=client.loop, with_results=True)
        for future, result in progress.tqdm(done, desc=desc, total=len(futures), show=progress_bar):
            yield index[future.key], result
    finally:
        client.cancel(futures)
        if own:
            client.close()

