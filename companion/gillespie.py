r"""Gillespie's direct method (SSA) for the chemical master equation, batched and compiled.

A well-mixed system of species with counts :math:`x \in \mathbb{N}^S` changes by reactions
:math:`r = 1..R`. Reaction :math:`r` consumes :math:`\nu^-_{rs}` and produces :math:`\nu^+_{rs}`
molecules of species :math:`s` and fires at the mass-action propensity
:math:`a_r(x) = k_r \prod_s \binom{x_s}{\nu^-_{rs}}`. The probability law :math:`P(x, t)` obeys
the chemical master equation (CME)

.. math:: \partial_t P(x) = \sum_r a_r(x - \Delta_r) P(x - \Delta_r) - a_r(x) P(x),
   \qquad \Delta_r = \nu^+_r - \nu^-_r .

Gillespie's *direct method* samples its paths exactly. In state :math:`x` with total propensity
:math:`a_0 = \sum_r a_r(x)`, the time to the next event is exponential with rate :math:`a_0`,
:math:`\tau = -\ln(u_1)/a_0`, and the event is reaction :math:`j`, the smallest index with
:math:`\sum_{r \le j} a_r > u_2 a_0`; then :math:`x \leftarrow x + \Delta_j`. With
:math:`a_0 = 0` the state is absorbing and the path ends (held for ever).

Two ways to run many paths (:func:`ssa`):

* ``backend="torch"`` advances all trajectories in *lock-step*: one iteration computes the
  propensities of every trajectory as one ``[n_traj, R]`` tensor, draws all waiting times and
  reactions at once and applies all the updates with one gather. Python's cost is paid once per
  step instead of once per event and per path, and on a GPU the step costs about the same for
  10 or 10^6 trajectories. It loses where the batch is thin: a single long trajectory pays a
  dozen tensor launches per event (far slower than a compiled loop), and trajectories that finish
  early idle until the slowest is done (finished ones are compacted away periodically).
* ``backend="numba"`` runs the plain per-event loop, compiled, one trajectory per CPU thread.

On both, each trajectory has its own random stream, a function of ``(seed, trajectory index)``
alone (numba: xoshiro256** seeded by splitmix64; torch: a counter-based hash of the seed, the
index and the draw number), so a trajectory does not depend on the thread count, the batch it
shares or the chunk it runs in: ``ssa(..., first_trajectory=k)`` runs trajectories ``k, k+1, ...``
of a seed, and :mod:`companion.sweeps` builds ensembles and parameter sweeps from such chunks,
here or on a Dask cluster. Rates may also be given per trajectory (``rates=[n_traj, R]``), so a
sweep runs as one lock-step batch.

:func:`trajectory` records every event of one path (the article's plots), and
:func:`time_weighted_histogram` / :func:`event_weighted_histogram` turn such a record into a
stationary distribution, correctly (weights = dwell times) or as in the article (one count per
event, biased towards states with large :math:`a_0`, whose limit is :func:`jump_chain_law`);
:func:`compare_weightings` runs both on several independent paths, and :func:`batch_means` gives
the standard error of an average along one correlated path. :func:`cme_generator`,
:func:`cme_stationary` and :func:`cme_transient` solve the truncated master equation directly,
and :func:`mass_action_ode` gives the deterministic mean-field limit, for checks. The figures
are in :mod:`companion.figures.gillespie` (also here as ``plot_*``, loaded on use).

Every run has bounded work. A path may fire at most ``max_events`` events (:data:`MAX_EVENTS`
by default; an exploding network would otherwise run for ever), counts stay within
:data:`MAX_COUNT` (``2**62``, so int64 never wraps around), and a total propensity that
overflows float64 stops the run: each raises a :class:`SimulationLimitError` that names the
bound, the trajectory, the time and the state reached. :func:`mass_action_ode` stops on a
finite-time blow-up, and :func:`cme_transient` refuses work beyond :data:`MAX_CME_WORK`.

Introduced in: Gillespie simulation (kexue.fm/archives/5607).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import numbers
import re
import threading
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from companion.checks import integer as _integer
from companion.checks import positive_int as _positive_int
from companion.checks import real
from companion.checks import seed as _seed
from companion.figures import lazy

# The figures live in companion.figures.gillespie (they import matplotlib), loaded on first use.
__getattr__, __dir__ = lazy(__name__, ("plot_birth_death", "plot_gene_expression"))

__all__ = [
    "ReactionNetwork", "Ensemble", "Path", "ssa", "trajectory", "time_weighted_histogram",
    "event_weighted_histogram", "cme_generator", "cme_stationary", "cme_transient",
    "mass_action_ode", "numba_available", "two_stage_moments", "birth_death_law", "batch_means", "jump_chain_law",
    "compare_weightings", "SimulationLimitError", "EventLimitError", "CountLimitError",
]

BACKENDS = ("auto", "torch", "numba")
# Larger truncated boxes make the sparse LU of cme_stationary (and expm_multiply) slow and big.
MAX_CME_STATES = 2_000_000
#: The largest count a state may hold (x0 and every state reached): 2**62, a factor 2 below
#: int64's limit, so that no count can wrap around before the check stops the run.
MAX_COUNT = 2**62
#: Default bound on the events of one path (ssa on numba, trajectory): about 0.5 s compiled.
MAX_EVENTS = 10**7
#: Default bound for ssa's torch backend, one lock-step step per event of the slowest path:
#: about 2 minutes of steps on a CPU (each step costs ~100 us whatever the batch).
MAX_EVENTS_TORCH = 10**6
#: A reaction consumes at most this many molecules: 1/prod(nu!) must be a float64 (170! is the
#: largest factorial below 1.8e308).
MAX_ORDER = 170
#: The largest stoichiometric coefficient of a term, so the int64 stoichiometry cannot overflow.
MAX_COEFFICIENT = 2**31
#: mass_action_ode stops once an amount passes this (a finite-time blow-up): below it the
#: squares and cubes of bimolecular and trimolecular rates stay finite in float64.
MAX_ODE_AMOUNT = 1e100
#: cme_transient refuses a sparse exponential whose estimated work, ||Q t||_1 (nnz(Q) + 4000)
#: multiply-adds, passes this: about a minute on one core.
MAX_CME_WORK = 1e10
#: Boxes of at most this many states may use a dense expm, whose work does not grow with t.
MAX_DENSE_STATES = 1000
# The torch backend on CPU runs single-threaded below this many trajectories (see ssa).
_CPU_SERIAL_BELOW = 1 << 15
_NOTHING = ("0", "∅")
_TERM = re.compile(r"(?:(\d+)\s*)?(.+)")


class SimulationLimitError(RuntimeError):
    """A run stopped at one of its documented bounds (events, counts, propensity, work).

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """


class EventLimitError(SimulationLimitError):
    """A path needed more than ``max_events`` events (often an exploding network).

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """


class CountLimitError(SimulationLimitError):
    """A count would pass :data:`MAX_COUNT`, or the total propensity overflowed float64.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """


# ---------------------------------------------------------------------------------------------
# Reaction networks
# ---------------------------------------------------------------------------------------------

def _parse_side(side: str, text: str, where: str) -> list[tuple[int, str]]:
    side = side.strip()
    if side in _NOTHING:
        return []
    if not side:
        raise ValueError(f"malformed reaction {text!r}: the {where}-hand side is empty; write 0 "
                         f"or ∅ for nothing, e.g. '0 -> A' or 'A -> 0'")
    terms = []
    for term in side.split("+"):
        term = term.strip()
        match = _TERM.fullmatch(term)
        name = match.group(2).strip() if match else ""
        if not term or not name.isidentifier():
            raise ValueError(
                f"malformed reaction {text!r}: {term!r} is not a species term; a term is an "
                f"optional positive integer coefficient and a name (an identifier), like '2 A', "
                f"and terms are joined by '+'")
        coefficient = int(match.group(1)) if match.group(1) else 1
        if coefficient < 1:
            raise ValueError(f"malformed reaction {text!r}: the coefficient of {name!r} must be "
                             f"a positive integer, got {coefficient}")
        if coefficient > MAX_COEFFICIENT:
            raise ValueError(f"malformed reaction {text!r}: the coefficient of {name!r} must be "
                             f"at most 2**31, got {coefficient}")
        terms.append((coefficient, name))
    return terms


def _parse_reaction(text) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    if not isinstance(text, str):
        raise TypeError(f"each reaction must be a string like 'A + B -> C', got {text!r}")
    if text.count("->") != 1:
        raise ValueError(f"malformed reaction {text!r}: it must contain exactly one '->', as in "
                         f"'2 A + B -> C' (0 or ∅ stands for nothing)")
    left, right = text.split("->")
    return _parse_side(left, text, "left"), _parse_side(right, text, "right")


class ReactionNetwork:
    r"""A set of mass-action reactions written as strings, with their stoichiometry.

    Reactions read like ``"0 -> m"``, ``"m -> m + n"``, ``"2 A -> B"``, ``"S + E -> SE"`` or
    ``"X -> 0"``: terms are an optional positive integer coefficient and a species name (an
    identifier), joined by ``+``; ``0`` or ``∅`` is the empty side; ``"A + A"`` equals ``"2 A"``.
    Reaction :math:`r` has propensity (combinatorial mass action)

    .. math:: a_r(x) = k_r \prod_s \binom{x_s}{\nu^-_{rs}},

    e.g. :math:`k\,n(n-1)/2` for ``2 A -> B``: the number of distinct reactant tuples times the
    rate per tuple.

    .. note:: Porting a model from GillesPy2: its mass-action propensity of a homodimer reaction
       ``2 A -> ...`` is :math:`k\,n(n-1)` (ordered pairs; its ODE uses :math:`k n^2`), where this
       class, like Gillespie (1977) and the DSMTS test suite, uses :math:`k\,n(n-1)/2`. Double
       such a rate when you port it: :math:`k = 2\,k_\text{GillesPy2}`. Reactions between
       distinct species have the same rate in both.

    Args:
        reactions: list of reaction strings (``R`` of them). A coefficient is at most ``2**31``
            and a reaction consumes at most :data:`MAX_ORDER` (170) molecules in all.
        rates: ``R`` rate constants :math:`k_r \ge 0`, finite, real (not bool) (units 1/time;
            for a reaction of order :math:`m` the rate per distinct tuple of :math:`m` molecules),
            or a dict ``{name: rate}`` in the order of ``reactions`` that also names them (for
            :func:`companion.sweeps.sweep`), e.g. ``{"k_m": 2.0, "gamma_m": 1.0}``.
        species: optional species order; by default species are ordered by first appearance in
            ``reactions``. When given, every species in a reaction must be listed.

    Attributes:
        species: tuple of ``S`` names.
        reactions: tuple of the original strings.
        rates: float64 tensor ``[R]``.
        rate_names: tuple of ``R`` names: the keys of a dict ``rates``, else ``k0, k1, ...``.
        reactants: int64 tensor ``[R, S]``, :math:`\nu^-`.
        products: int64 tensor ``[R, S]``, :math:`\nu^+`.
        change: ``products - reactants``, int64 ``[R, S]``.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """

    def __init__(self, reactions: Sequence[str], rates, species: Sequence[str] | None = None):
        if isinstance(reactions, str) or not isinstance(reactions, Sequence) or not reactions:
            raise TypeError(f"reactions must be a non-empty list of strings like ['0 -> A', "
                            f"'A -> 0'], got {reactions!r}")
        parsed = [_parse_reaction(text) for text in reactions]

        if species is None:
            names: list[str] = []
            for left, right in parsed:
                for _, name in left + right:
                    if name not in names:
                        names.append(name)
        else:
            if isinstance(species, str) or not isinstance(species, Sequence):
                raise TypeError(f"species must be a list of names, got {species!r}")
            names = list(species)
            bad = [n for n in names if not isinstance(n, str) or not n.isidentifier()]
            if bad:
                raise ValueError(f"species names must be identifiers, got {bad[0]!r} in "
                                 f"species={names!r}")
            if len(set(names)) != len(names):
                raise ValueError(f"species names must be unique, got species={names!r}")
            for text, (left, right) in zip(reactions, parsed):
                for _, name in left + right:
                    if name not in names:
                        raise ValueError(f"unknown species {name!r} in reaction {text!r}; "
                                         f"species={tuple(names)!r}")
        if not names:
            raise ValueError(f"the reactions {list(reactions)!r} name no species")

        if isinstance(rates, Mapping):
            rate_names = tuple(rates)
            bad = [n for n in rate_names if not isinstance(n, str) or not n.isidentifier()]
            if bad:
                raise ValueError(f"rate names must be identifiers, got {bad[0]!r} in rates={rates!r}")
            rates = list(rates.values())
        else:
            rate_names = tuple(f"k{r}" for r in range(len(reactions)))
        rates_t = _as_rates(rates, reactions)
        index = {name: i for i, name in enumerate(names)}
        reactants = torch.zeros(len(parsed), len(names), dtype=torch.int64)
        products = torch.zeros_like(reactants)
        for r, (left, right) in enumerate(parsed):
            for coefficient, name in left:
                reactants[r, index[name]] += coefficient
            for coefficient, name in right:
                products[r, index[name]] += coefficient
            if int(products[r].max()) > MAX_COEFFICIENT:
                raise ValueError(f"reaction {reactions[r]!r} produces more than 2**31 molecules of "
                                 f"one species; at most 2**31 are supported")
            order = int(reactants[r].sum())
            if order > MAX_ORDER:
                raise ValueError(f"reaction {reactions[r]!r} consumes {order} molecules; at most "
                                 f"{MAX_ORDER} are supported (its propensity divides by the "
                                 f"factorials of its coefficients, which must be float64)")

        self.species: tuple[str, ...] = tuple(names)
        self.reactions: tuple[str, ...] = tuple(reactions)
        self.rates: torch.Tensor = rates_t
        self.rate_names: tuple[str, ...] = rate_names
        self.reactants: torch.Tensor = reactants
        self.products: torch.Tensor = products
        self.change: torch.Tensor = products - reactants
        self._index = index

    @property
    def n_species(self) -> int:
        return len(self.species)

    @property
    def n_reactions(self) -> int:
        return len(self.reactions)

    def index(self, species_name: str) -> int:
        """Position of ``species_name`` in :attr:`species` (the last axis of states)."""
        try:
            return self._index[species_name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown species {species_name!r}; species={self.species!r}") from None

    def __repr__(self) -> str:
        width = max(len(text) for text in self.reactions)
        lines = [f"    {text:<{width}s}  {name} = {k:.6g}"
                 for text, name, k in zip(self.reactions, self.rate_names, self.rates.tolist())]
        return (f"ReactionNetwork(species={self.species!r}, {self.n_reactions} reactions:\n"
                + "\n".join(lines) + ")")

    def propensities(self, x) -> torch.Tensor:
        r"""Mass-action propensities :math:`a_r(x) = k_r \prod_s \binom{x_s}{\nu^-_{rs}}`.

        Zero whenever a reactant count is short (:math:`x_s < \nu^-_{rs}`) or the rate is 0;
        ``inf`` where the exact value passes float64's range.

        Args:
            x: non-negative integer counts ``[..., S]`` (tensor, array or list; device kept for
                tensors; checking the sign costs one device synchronisation).

        Returns:
            float64 tensor ``[..., R]`` (units of ``rates``: events per unit time).

        Introduced in: Gillespie simulation (kexue.fm/archives/5607).
        """
        x = torch.as_tensor(x)
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"x must hold integer counts, got dtype {x.dtype}")
        if x.ndim == 0 or x.shape[-1] != self.n_species:
            raise ValueError(f"x must have shape [..., {self.n_species}] (species "
                             f"{self.species}), got shape {tuple(x.shape)}")
        if x.numel() and bool((x < 0).any()):
            index = tuple(int(i) for i in torch.nonzero(x < 0)[0])
            raise ValueError(f"x must hold non-negative counts, got {x[index].item()} at index {index}")
        nu = self.reactants.to(x.device)
        return _propensities_torch(x.to(torch.float64), nu, self.rates.to(x.device),
                                   _factorial_product(self.reactants).to(x.device))


def _as_rates(rates, reactions) -> torch.Tensor:
    # A bool is not a rate (True would silently become 1.0): reject bool tensors, arrays and items.
    dtype = getattr(rates, "dtype", None)
    if dtype in (torch.bool, np.bool_) or isinstance(rates, bool) or (
            isinstance(rates, Sequence) and not isinstance(rates, str)
            and any(isinstance(k, (bool, np.bool_)) for k in rates)):
        raise TypeError(f"rates must be real numbers (not bools), got rates={rates!r}")
    try:
        values = torch.as_tensor(rates, dtype=torch.float64).cpu().reshape(-1).clone()
        shape_ok = torch.as_tensor(rates).ndim <= 1
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"rates must be a sequence of numbers, got {rates!r}") from None
    if not shape_ok or values.numel() != len(reactions):
        raise ValueError(f"rates must have one value per reaction ({len(reactions)}), got "
                         f"{values.numel()}: rates={rates!r}")
    for r, k in enumerate(values.tolist()):
        if not math.isfinite(k) or k < 0:
            raise ValueError(f"rates must be finite and >= 0, got {k!r} for reaction "
                             f"{reactions[r]!r} (index {r})")
    return values


def _factorial_product(nu: torch.Tensor) -> torch.Tensor:
    """:math:`\\prod_s \\nu_{rs}!` per reaction, float64 ``[R]``."""
    return torch.tensor([math.prod(math.factorial(v) for v in row) for row in nu.tolist()],
                        dtype=torch.float64)


def _propensities_torch(x: torch.Tensor, nu: torch.Tensor, rates: torch.Tensor,
                        denominator: torch.Tensor) -> torch.Tensor:
    """float64 counts ``[..., S]`` -> propensities ``[..., R]`` (see ReactionNetwork.propensities)."""
    # Falling factorials x (x-1) ... (x-nu+1), exact integers in float64; factors are clamped at
    # 0, so short counts (0 <= x < nu) give a propensity of exactly +0, never -0 or negative.
    x = x.unsqueeze(-2)  # [..., 1, S] against nu [R, S]
    falling = torch.ones(x.shape[:-2] + nu.shape, dtype=torch.float64, device=x.device)
    for j in range(int(nu.max()) if nu.numel() else 0):
        falling = falling * torch.where(nu > j, (x - j).clamp_min(0), 1.0)
    # A zero rate, or a short count next to a factor that overflowed, gives 0 * inf = NaN, the
    # only way to get one: both mean the reaction cannot fire, so its propensity is exactly 0.
    return torch.nan_to_num(rates * (falling.prod(dim=-1) / denominator), nan=0.0, posinf=math.inf)


def _counts(network: ReactionNetwork, x0, name: str = "x0") -> np.ndarray:
    """Validate a state given as S counts or a dict name -> count; int64 numpy ``[S]``."""
    S = network.n_species
    if isinstance(x0, Mapping):
        unknown = [k for k in x0 if k not in network._index]
        if unknown:
            raise ValueError(f"unknown species {unknown[0]!r} in {name}; species={network.species!r}")
        items = [(s, x0.get(s, 0)) for s in network.species]
    else:
        if isinstance(x0, torch.Tensor):
            values = x0.detach().cpu().reshape(-1).tolist() if x0.ndim <= 1 else None
        elif isinstance(x0, (str, bytes)) or not hasattr(x0, "__len__"):
            values = None
        else:
            try:
                values = np.asarray(x0, dtype=object).reshape(-1).tolist() if np.ndim(x0) <= 1 else None
            except ValueError:  # ragged, e.g. [[], 1]
                values = None
        if values is None:
            raise TypeError(f"{name} must be a sequence of {S} counts or a dict species -> count, "
                            f"got {x0!r}")
        if len(values) != S:
            raise ValueError(f"{name} must have one count per species ({S}: "
                             f"{', '.join(network.species)}), got {len(values)} values: {values!r}")
        items = list(zip(network.species, values))
    out = np.empty(S, dtype=np.int64)
    for i, (species, v) in enumerate(items):
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v == int(v)
        if not ok or v < 0:
            raise ValueError(f"{name} must hold non-negative integer counts, got {v!r} for "
                             f"species {species!r}")
        if v > MAX_COUNT:
            raise ValueError(f"{name} must hold counts <= MAX_COUNT = 2**62, got {v!r} for "
                             f"species {species!r}")
        out[i] = int(v)
    return out


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Ensemble:
    """States of ``n_traj`` trajectories recorded on a time grid (the result of :func:`ssa`).

    ``t``: float64 ``[T]``; ``x``: int64 ``[n_traj, T, S]``, the state at each grid time
    (right-continuous: after every event at or before it); ``n_events``: int64 ``[n_traj]``, the
    events fired in ``(0, t_max]``; ``species``: names of the last axis. Tensors live on the
    device the simulation ran on.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """

    t: torch.Tensor
    x: torch.Tensor
    n_events: torch.Tensor
    species: tuple[str, ...]

    def counts(self, species_name: str) -> torch.Tensor:
        """Counts of one species, int64 ``[n_traj, T]``."""
        if species_name not in self.species:
            raise ValueError(f"unknown species {species_name!r}; species={self.species!r}")
        return self.x[..., self.species.index(species_name)]

    def to_numpy(self) -> dict[str, np.ndarray]:
        """``{"t": [T], "x": [n_traj, T, S], "n_events": [n_traj]}`` as numpy arrays (on CPU)."""
        return {"t": self.t.cpu().numpy(), "x": self.x.cpu().numpy(),
                "n_events": self.n_events.cpu().numpy()}


@dataclasses.dataclass
class Path:
    """Every event of one trajectory (the result of :func:`trajectory`); numpy arrays.

    ``t``: float64 ``[N+1]``, 0 then the time of each event; ``x``: int64 ``[N+1, S]``, row 0 the
    initial state, row ``i`` the state after event ``i``; ``reaction``: int64 ``[N]``, the index
    of each fired reaction; ``species``: names; ``t_end``: the time up to which the record is
    valid (``t_max`` when it was given and the run stopped there or was absorbed, else
    ``t[-1]``), the ``t_end`` to pass to :func:`time_weighted_histogram`; ``status``: why it
    stopped, ``"t_max"``, ``"n_events"`` or ``"absorbed"``.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """

    t: np.ndarray
    x: np.ndarray
    reaction: np.ndarray
    species: tuple[str, ...]
    t_end: float
    status: str

    def counts(self, species_name: str) -> np.ndarray:
        """Counts of one species after each event, int64 ``[N+1]``."""
        if species_name not in self.species:
            raise ValueError(f"unknown species {species_name!r}; species={self.species!r}")
        return self.x[:, self.species.index(species_name)]


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------


def _rounding(values) -> float:
    """Relative rounding of the float dtype ``values`` were given in (float64 for lists)."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return torch.finfo(dtype).eps
    if isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.floating):
        return float(np.finfo(dtype).eps)
    return float(np.finfo(np.float64).eps)


def _time_grid(t_grid, t_max: float) -> torch.Tensor:
    if t_grid is None:
        return torch.linspace(0.0, t_max, 101, dtype=torch.float64)
    try:
        grid = torch.as_tensor(t_grid, dtype=torch.float64).cpu()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"t_grid must be a 1-D sequence of times, got {t_grid!r}") from None
    if grid.ndim != 1 or grid.numel() == 0:
        raise ValueError(f"t_grid must be a non-empty 1-D sequence of times, got shape "
                         f"{tuple(grid.shape)}")
    # A float32 grid ending at t_max, e.g. linspace(0, 0.1, 11, dtype=float32), ends at
    # float32(0.1) > 0.1: times above t_max by the grid dtype's rounding alone are t_max.
    slack = t_max * _rounding(t_grid)
    if torch.isfinite(grid).all() and grid.max() > t_max and grid.max() <= t_max + slack:
        grid = grid.clamp_max(t_max)
    if not torch.isfinite(grid).all() or grid.min() < 0 or grid.max() > t_max:
        hint = (" (a grid that should end at t_max but ends above it: build it in float64, or "
                "pass t_max=float(t_grid[-1]))" if grid.max() > t_max else "")
        raise ValueError(f"t_grid must lie within [0, t_max] = [0, {t_max}], got values from "
                         f"{grid.min().item()} to {grid.max().item()}{hint}")
    if (grid[1:] < grid[:-1]).any():
        i = int(torch.nonzero(grid[1:] < grid[:-1])[0])
        raise ValueError(f"t_grid must be sorted ascending, got {grid[i].item()} before "
                         f"{grid[i + 1].item()} at index {i}")
    return grid.contiguous()


def numba_available() -> bool:
    """True when the ``numba`` package can be imported (the fast CPU backend of :func:`ssa`).

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# Compiled kernels (numba). Written as plain Python at module level and compiled on first use,
# so importing this module stays fast and works without numba; compiling module-level functions
# (not closures) lets numba cache the machine code between processes.
# ---------------------------------------------------------------------------------------------

_prange = range  # numba.prange once compiled
_U64_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_U64_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_U64_MIX2 = np.uint64(0x94D049BB133111EB)


def _nb_mix64(z):
    """splitmix64's finaliser: a bijective, well-mixing hash of 64-bit words."""
    z = (z ^ (z >> np.uint64(30))) * _U64_MIX1
    z = (z ^ (z >> np.uint64(27))) * _U64_MIX2
    return z ^ (z >> np.uint64(31))


def _nb_seed(seed, stream):
    """xoshiro256** state for random stream ``stream`` of ``seed`` (splitmix64 expansion)."""
    key = _nb_mix64(seed + _U64_GOLDEN) ^ _nb_mix64((stream + np.uint64(1)) * _U64_MIX1)
    s0 = _nb_mix64(key + _U64_GOLDEN)
    s1 = _nb_mix64(key + _U64_GOLDEN * np.uint64(2))
    s2 = _nb_mix64(key + _U64_GOLDEN * np.uint64(3))
    s3 = _nb_mix64(key + _U64_GOLDEN * np.uint64(4))
    if s0 == 0 and s1 == 0 and s2 == 0 and s3 == 0:  # the one forbidden state
        s0 = np.uint64(1)
    return s0, s1, s2, s3


def _nb_next(s0, s1, s2, s3):
    """One xoshiro256** step: a uniform float in [0, 1) (53 bits) and the new state."""
    v = s1 * np.uint64(5)
    v = ((v << np.uint64(7)) | (v >> np.uint64(57))) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 = s2 ^ s0
    s3 = s3 ^ s1
    s1 = s1 ^ s2
    s0 = s0 ^ s3
    s2 = s2 ^ t
    s3 = (s3 << np.uint64(45)) | (s3 >> np.uint64(19))
    return np.float64(v >> np.uint64(11)) * 1.1102230246251565e-16, s0, s1, s2, s3


def _nb_propensities(x, a, rates_c, r_ptr, r_sp, r_nu):
    """Fill ``a`` with the propensities of state ``x``; return their sum a0 (same order).

    a0 is never NaN: a zero rate is skipped (0 * an overflowed factor would be NaN), and a short
    count sets the propensity to 0 outright; it is +inf when the exact value overflows float64.
    """
    a0 = 0.0
    for r in range(rates_c.shape[0]):
        c = rates_c[r]  # k_r / prod nu! : only falling factorials remain
        if c > 0.0:
            for k in range(r_ptr[r], r_ptr[r + 1]):
                n = x[r_sp[k]]
                nu = r_nu[k]
                if n < nu:
                    c = 0.0
                    break
                f = np.float64(n)
                for j in range(1, nu):
                    f *= n - j
                c *= f
        a[r] = c
        a0 += c
    return a0


def _nb_choose(a, target):
    """Smallest r with a[0] + ... + a[r] > target among positive a[r] (never a zero one)."""
    cumulative = 0.0
    last = -1
    for r in range(a.shape[0]):
        if a[r] > 0.0:
            cumulative += a[r]
            last = r
            if cumulative > target:
                return r
    return last  # only if rounding put target at the very top: the last possible reaction


def _nb_apply(x, r, c_ptr, c_sp, c_d):
    for k in range(c_ptr[r], c_ptr[r + 1]):
        x[c_sp[k]] += c_d[k]


def _nb_fits(x, r, max_count, c_ptr, c_sp, c_d):
    """Whether reaction ``r`` keeps every count <= max_count (tested without forming x + d)."""
    for k in range(c_ptr[r], c_ptr[r + 1]):
        d = c_d[k]
        if d > 0 and x[c_sp[k]] > max_count - d:
            return False
    return True


# Why a run stopped early (ssa's `stop`, trajectory's status codes are in _nb_path).
_STOP_EVENTS, _STOP_COUNT, _STOP_PROPENSITY, _STOP_ABORTED = 1, 2, 3, 4


def _nb_ssa(x0, t_grid, t_max, seed, streams, max_events, max_count, rates_c, r_ptr, r_sp, r_nu,
            c_ptr, c_sp, c_d, out, n_events, stop, t_stop, x_stop, lowest):
    """Direct method for rows 0..n-1, row i on random stream ``streams[i]``; states on t_grid.

    ``x0`` is ``[1, S]`` or ``[n, S]`` and ``rates_c`` ``[1, R]`` or ``[n, R]``: one row for all
    trajectories, or row i for trajectory i.

    A trajectory that reaches a bound stops with ``stop[i]`` = 1 (more than max_events events),
    2 (a count would pass max_count) or 3 (a0 overflowed), its time and state in ``t_stop[i]``
    and ``x_stop[i]``. ``lowest[0]`` (n_traj at the start) is lowered towards the smallest such
    index; a trajectory above it gives up (``stop`` 4), as the run fails anyway. The update of
    ``lowest`` races, but every value written is a failing index, so no trajectory at or below
    the smallest failing one ever gives up: which one fails first does not depend on the
    thread count.
    """
    n_traj, T, S = out.shape
    for i in _prange(n_traj):
        # One row for all, or row i (numba's prange index is unsigned: min with a signed int
        # would be a float).
        row = np.int64(i)
        x = x0[min(row, x0.shape[0] - 1)].copy()
        a = np.empty(rates_c.shape[1])
        rates_i = rates_c[min(row, rates_c.shape[0] - 1)]
        s0, s1, s2, s3 = _nb_seed(seed, np.uint64(streams[i]))
        t = 0.0
        g = 0
        ev = 0
        code = 0
        while True:
            if (ev & 1023) == 0 and lowest[0] < i:
                code = 4
                break
            a0 = _nb_propensities(x, a, rates_i, r_ptr, r_sp, r_nu)
            if not a0 < math.inf:
                code = 3
                break
            if a0 > 0.0:
                u, s0, s1, s2, s3 = _nb_next(s0, s1, s2, s3)
                t_next = t - math.log1p(-u) / a0  # -log(1-u), u in [0, 1): finite
            else:
                t_next = math.inf  # absorbed: the state holds for ever
            # The current state holds on [t, t_next): it is the state at grid times before t_next.
            while g < T and t_grid[g] < t_next:
                for s in range(S):
                    out[i, g, s] = x[s]
                g += 1
            if t_next > t_max:
                break
            if ev >= max_events:
                code = 1
                break
            u, s0, s1, s2, s3 = _nb_next(s0, s1, s2, s3)
            r = _nb_choose(a, u * a0)
            if not _nb_fits(x, r, max_count, c_ptr, c_sp, c_d):
                code = 2
                break
            _nb_apply(x, r, c_ptr, c_sp, c_d)
            t = t_next
            ev += 1
        n_events[i] = ev
        stop[i] = code
        if code != 0:
            t_stop[i] = t
            for s in range(S):
                x_stop[i, s] = x[s]
            if code != 4 and i < lowest[0]:
                lowest[0] = i


def _nb_path(x, t, state, t_max, max_events, max_count, rates_c, r_ptr, r_sp, r_nu, c_ptr, c_sp,
             c_d, t_out, x_out, r_out, a):
    """Record events of one trajectory into t_out/x_out/r_out until they are full or it stops.

    ``x`` (state) and ``state`` (xoshiro256** words) are updated in place so that a call can
    continue where the last one stopped. Returns (events recorded, time, status) with status 0 =
    buffers full, 1 = next event after t_max, 2 = max_events reached, 3 = absorbed, 4 = a count
    would pass max_count, 5 = a0 overflowed. The random draws are those of :func:`_nb_ssa`'s
    trajectory 0 for the same seed.
    """
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    n = 0
    status = 0
    while True:
        if n >= max_events:
            status = 2
            break
        if n >= t_out.shape[0]:
            break
        a0 = _nb_propensities(x, a, rates_c, r_ptr, r_sp, r_nu)
        if a0 <= 0.0:
            status = 3
            break
        if not a0 < math.inf:
            status = 5
            break
        u, s0, s1, s2, s3 = _nb_next(s0, s1, s2, s3)
        t_next = t - math.log1p(-u) / a0
        if t_next > t_max:
            status = 1
            break
        u, s0, s1, s2, s3 = _nb_next(s0, s1, s2, s3)
        r = _nb_choose(a, u * a0)
        if not _nb_fits(x, r, max_count, c_ptr, c_sp, c_d):
            status = 4
            break
        _nb_apply(x, r, c_ptr, c_sp, c_d)
        t = t_next
        t_out[n] = t
        r_out[n] = r
        for s in range(x.shape[0]):
            x_out[n, s] = x[s]
        n += 1
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return n, t, status


def _nb_start_state(seed, stream, state):
    s0, s1, s2, s3 = _nb_seed(seed, stream)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


_NB_HELPERS = ("_nb_mix64", "_nb_seed", "_nb_next", "_nb_propensities", "_nb_choose", "_nb_apply",
               "_nb_fits")
_compiled = False


_compile_lock = threading.Lock()


def _compile_numba() -> None:
    """Replace the ``_nb_*`` functions by numba-compiled ones (once); ImportError without numba.

    Thread-safe: a Dask worker with several threads runs its first tasks concurrently, and a
    second thread must not wrap the already compiled functions again.
    """
    if _compiled:
        return
    with _compile_lock:
        _compile_numba_once()


def _compile_numba_once() -> None:
    global _compiled, _prange, _nb_ssa, _nb_path, _nb_start_state
    if _compiled:
        return
    try:
        import numba
    except ImportError as error:
        raise ImportError("backend='numba' needs the numba package (pip install 'numba>=0.60'); "
                          "backend='torch' works without it") from error
    namespace = globals()
    # Helpers first: the kernels resolve them (and prange) from the module's globals when they
    # are compiled.
    for name in _NB_HELPERS:
        namespace[name] = numba.njit(cache=True)(namespace[name])
    _prange = numba.prange
    _nb_ssa = numba.njit(cache=True, parallel=True)(_nb_ssa)
    _nb_path = numba.njit(cache=True)(_nb_path)
    _nb_start_state = numba.njit(cache=True)(_nb_start_state)
    _compiled = True


def _kernel_arrays(network: ReactionNetwork, rates: torch.Tensor | None = None):
    """The network as flat numpy index lists for the compiled loop (reactants and changes).

    ``rates`` (float64 ``[R]`` or ``[n, R]``, default the network's) become ``k_r / prod nu!``.
    """
    nu = network.reactants.numpy()
    change = network.change.numpy()
    rates = network.rates if rates is None else rates
    rates_c = rates.cpu().numpy() / _factorial_product(network.reactants).numpy()

    def sparse(matrix):
        rows, cols = np.nonzero(matrix)
        ptr = np.searchsorted(rows, np.arange(matrix.shape[0] + 1)).astype(np.int64)
        return ptr, cols.astype(np.int64), matrix[rows, cols].astype(np.int64)

    return (np.ascontiguousarray(rates_c, dtype=np.float64), *sparse(nu), *sparse(change))


# ---------------------------------------------------------------------------------------------
# Ensembles of trajectories
# ---------------------------------------------------------------------------------------------

def _limit_error(code: int, where: str, t: float, x, events: int, max_events: int, t_max: float,
                 species) -> SimulationLimitError:
    """The error for a run stopped by bound ``code`` (_STOP_*), naming the bound, path, time, state."""
    state = dict(zip(species, (int(v) for v in x)))
    if code == _STOP_EVENTS:
        return EventLimitError(
            f"{where} needs more than max_events={max_events:,} events before t_max={t_max!r}: "
            f"it reached time t={t!r} in state {state}; its counts may grow without bound (an "
            f"exploding network): raise max_events to simulate further")
    if code == _STOP_COUNT:
        return CountLimitError(
            f"{where} would take a count past MAX_COUNT = 2**62 at time t={t!r} after {events:,} "
            f"event(s), in state {state}; larger counts are not supported (int64)")
    return CountLimitError(
        f"{where}: the total propensity a0 overflowed float64 at time t={t!r} after {events:,} "
        f"event(s), in state {state}; the rates or counts are too large to simulate")


def ssa(network: ReactionNetwork, x0, *, t_max: float, n_traj: int = 1, seed: int = 0,
        t_grid=None, device=None, backend: str = "auto", max_events: int | None = None,
        first_trajectory: int = 0, rates=None) -> Ensemble:
    r"""Simulate ``n_traj`` independent trajectories with Gillespie's direct method.

    Each trajectory starts at ``x0`` and repeats, until time ``t_max`` or absorption,

    .. math::
       \tau = -\frac{\ln(1-u_1)}{a_0(x)}, \qquad
       j = \min\Big\{j : \sum_{r\le j} a_r(x) > u_2\, a_0(x)\Big\},

       (t, x) \leftarrow (t + \tau,\; x + \Delta_j),

    with :math:`u_1, u_2 \sim U[0, 1)` and :math:`a_0 = \sum_r a_r`; a reaction with
    :math:`a_r = 0` is never chosen, and a state with :math:`a_0 = 0` is held to ``t_max``.

    Args:
        network: the :class:`ReactionNetwork`.
        x0: initial counts: ``S`` non-negative integers (sequence, array or tensor) or a dict
            species -> count (missing species start at 0).
        t_max: final time, finite and > 0 (units of 1/rate).
        n_traj: number of trajectories, an integer >= 1.
        seed: integer seed in ``[0, 2**63)``. Trajectory ``i`` draws from its own random stream,
            a function of ``(seed, i)`` alone (numba: xoshiro256** seeded by splitmix64; torch:
            a counter-based splitmix64 hash of ``(seed, i, draw number)``), so a trajectory is
            the same whatever the batch, chunk, thread count or machine it runs in. The two
            backends draw different streams.
        t_grid: recording times ``[T]``, sorted, within ``[0, t_max]``; default
            ``torch.linspace(0, t_max, 101)``.
        device: torch device for ``backend="torch"``; default that of ``x0`` if it is a tensor,
            else CPU.
        backend: ``"torch"`` (lock-step tensors, any device), ``"numba"`` (compiled CPU loop,
            parallel over trajectories, thread-count independent) or ``"auto"`` (numba on CPU
            when installed, torch otherwise).
        max_events: the most events one trajectory may fire in ``(0, t_max]``, an integer >= 1;
            default :data:`MAX_EVENTS` (10**7, ~0.5 s per path compiled) on numba and
            :data:`MAX_EVENTS_TORCH` (10**6 lock-step steps, ~2 min on a CPU) on torch. Raise it
            for longer runs.
        first_trajectory: index of the first trajectory, an integer >= 0: the run simulates
            trajectories ``first_trajectory .. first_trajectory + n_traj - 1`` of ``seed``, so
            chunks ``ssa(..., n_traj=m, first_trajectory=k)`` concatenate, bit for bit, to one
            run of all of them (the basis of :mod:`companion.sweeps`).
        rates: rate constants for this run instead of ``network.rates``: ``[R]`` for all
            trajectories, or ``[n_traj, R]``, one row per trajectory (a parameter sweep as one
            batch); finite and >= 0.

    Returns:
        :class:`Ensemble` with ``t`` float64 ``[T]``, ``x`` int64 ``[n_traj, T, S]`` (state at
        each grid time, after all events at or before it), ``n_events`` int64 ``[n_traj]``.

    Raises:
        EventLimitError: a trajectory needs more than ``max_events`` events (e.g. an exploding
            network such as ``0 -> X, X -> 2 X``).
        CountLimitError: a count would pass :data:`MAX_COUNT` (``2**62``), or the total
            propensity overflowed float64.

        Either names the trajectory (the lowest-numbered one that failed, on both backends and
        for any thread count; numbered from 0 for the first of ``seed``), its time, its state
        and its number of events. The work before
        the error is bounded: numba stops trajectories above a failed one, torch checks every
        16 steps.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    if not isinstance(network, ReactionNetwork):
        raise TypeError(f"network must be a ReactionNetwork, got {type(network).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    device = _device(device, x0)
    counts = _counts(network, x0)
    t_max, n_traj, seed, grid, max_events = _run_arguments(t_max, n_traj, seed, t_grid, max_events)
    first = _integer(first_trajectory, "first_trajectory")
    if first + n_traj > 2**63:
        raise ValueError(f"first_trajectory + n_traj must be at most 2**63, got "
                         f"{first} + {n_traj}")
    rates = network.rates if rates is None else _batch_rates(network, rates, n_traj)
    streams = np.arange(first, first + n_traj, dtype=np.int64)
    return _simulate(network, counts, t_max, grid, seed, streams, rates, backend, device, max_events,
                     lambda row: f"ssa: trajectory {first + row}")


def _run_arguments(t_max, n_traj, seed, t_grid, max_events):
    """The checked arguments every ensemble run shares (ssa and companion.sweeps)."""
    t_max = real(t_max, "t_max", positive=True)
    n_traj = _positive_int(n_traj, "n_traj")
    seed = _seed(seed)
    grid = _time_grid(t_grid, t_max)
    if max_events is not None:
        max_events = _positive_int(max_events, "max_events")
    return t_max, n_traj, seed, grid, max_events


def _device(device, x0=None) -> torch.device:
    if device is None:
        return x0.device if isinstance(x0, torch.Tensor) else torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device must be a torch.device or a name like 'cpu' or 'cuda', got "
                         f"{device!r}") from None


def _batch_rates(network: ReactionNetwork, rates, n_traj: int) -> torch.Tensor:
    """Checked rate constants for a run of ``n_traj`` trajectories: float64 ``[R]`` or ``[n_traj, R]``.

    Args:
        network: the :class:`ReactionNetwork` (``R`` reactions).
        rates: ``R`` finite rates >= 0, or an ``[n_traj, R]`` array or tensor of them (one row per
            trajectory).
        n_traj: the number of trajectories of the run.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    shape = tuple(getattr(rates, "shape", ()))
    if len(shape) != 2:
        return _as_rates(rates, network.reactions)
    R = network.n_reactions
    if shape != (n_traj, R):
        raise ValueError(f"rates must have shape [{R}] or [n_traj, {R}] = [{n_traj}, {R}] (one row "
                         f"per trajectory, one column per reaction), got shape {list(shape)}")
    dtype = getattr(rates, "dtype", None)
    if dtype in (torch.bool, np.bool_) or torch.as_tensor(rates).is_complex():
        raise TypeError(f"rates must be real numbers, got dtype {dtype}")
    values = torch.as_tensor(rates).detach().to("cpu", torch.float64).clone()
    bad = ~(torch.isfinite(values) & (values >= 0))
    if bool(bad.any()):
        i, r = (int(v) for v in bad.nonzero()[0])
        raise ValueError(f"rates must be finite and >= 0, got {values[i, r].item()!r} for trajectory "
                         f"{i}, reaction {network.reactions[r]!r} (index {r})")
    return values


def _simulate(network, counts, t_max, grid, seed, streams, rates, backend, device, max_events,
              where) -> Ensemble:
    """Rows ``i`` on random streams ``streams[i]``; checked input.

    ``counts``: int64 numpy ``[S]`` or ``[n, S]``; ``rates``: float64 tensor ``[R]`` or ``[n, R]``.

    ``where(row)`` names a row in an error. Shared by :func:`ssa` and :mod:`companion.sweeps`.
    """
    n_traj = len(streams)
    if backend == "auto":
        backend = "numba" if device.type == "cpu" and numba_available() else "torch"
    if backend == "numba":
        if device.type != "cpu":
            raise ValueError(f"backend='numba' runs on the CPU, got device={str(device)!r}; use "
                             f"backend='torch' for {device.type}")
        max_events = MAX_EVENTS if max_events is None else max_events
        _compile_numba()
        S = network.n_species
        out = np.empty((n_traj, grid.numel(), S), dtype=np.int64)
        n_events = np.empty(n_traj, dtype=np.int64)
        stop = np.zeros(n_traj, dtype=np.int64)
        t_stop = np.zeros(n_traj)
        x_stop = np.zeros((n_traj, S), dtype=np.int64)
        lowest = np.array([n_traj], dtype=np.int64)
        rates_c, *arrays = _kernel_arrays(network, rates.reshape(-1, network.n_reactions))
        _nb_ssa(counts.reshape(-1, S), grid.numpy(), t_max, np.uint64(seed), streams, max_events, MAX_COUNT,
                rates_c, *arrays, out, n_events, stop, t_stop, x_stop, lowest)
        failed = np.nonzero((stop > 0) & (stop != _STOP_ABORTED))[0]
        if failed.size:
            i = int(failed[0])
            raise _limit_error(int(stop[i]), where(i), float(t_stop[i]), x_stop[i],
                               int(n_events[i]), max_events, t_max, network.species)
        return Ensemble(grid, torch.from_numpy(out), torch.from_numpy(n_events), network.species)
    max_events = MAX_EVENTS_TORCH if max_events is None else max_events
    run = (network, counts, t_max, seed, streams, rates, grid, device, max_events, where)
    if device.type == "cpu" and n_traj < _CPU_SERIAL_BELOW and torch.get_num_threads() > 1:
        # Each step is a few dozen ops on [n_traj, R] tensors: for small batches handing them to
        # a thread pool costs more than the work, and on a busy machine every op can wait a
        # scheduler time slice for a descheduled worker (seen: 20x slower on 2 loaded cores).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return _ssa_torch(*run)
        finally:
            torch.set_num_threads(threads)
    return _ssa_torch(*run)


# The torch backend's random numbers: a counter-based generator, so that a trajectory's draws
# depend on (seed, trajectory, draw number) alone and not on which rows share its batch (rows
# are compacted away as they finish). Draw c of stream i is mix64(key_i ^ mix64((c + 1) * G)),
# with key_i as in _nb_seed: hashing the counter before it meets the key keeps two streams from
# being shifted copies of each other. torch has no uint64 arithmetic, so the words live in int64
# (two's complement: + and * wrap identically) and >> is made logical by a mask.
_I64_GOLDEN, _I64_MIX1, _I64_MIX2 = (int(c) - 2**64 for c in (_U64_GOLDEN, _U64_MIX1, _U64_MIX2))


def _shr(z: torch.Tensor, k: int) -> torch.Tensor:
    return (z >> k) & ((1 << (64 - k)) - 1)


def _torch_mix64(z: torch.Tensor) -> torch.Tensor:
    """:func:`_nb_mix64` on int64 tensors (bit patterns of uint64 words)."""
    z = (z ^ _shr(z, 30)) * _I64_MIX1
    z = (z ^ _shr(z, 27)) * _I64_MIX2
    return z ^ _shr(z, 31)


def _py_mix64(z: int) -> int:
    z &= 2**64 - 1
    z = ((z ^ (z >> 30)) * int(_U64_MIX1)) & (2**64 - 1)
    z = ((z ^ (z >> 27)) * int(_U64_MIX2)) & (2**64 - 1)
    return z ^ (z >> 31)


def _torch_keys(seed: int, streams: torch.Tensor) -> torch.Tensor:
    """Per-stream keys, int64 ``[n]``: those of :func:`_nb_seed` before its state expansion."""
    seed_word = _py_mix64(seed + int(_U64_GOLDEN))
    seed_word -= 2**64 if seed_word >= 2**63 else 0
    return _torch_mix64((streams + 1) * _I64_MIX1) ^ seed_word


def _torch_uniforms(keys: torch.Tensor, counter: torch.Tensor) -> torch.Tensor:
    """Draws ``2 c`` and ``2 c + 1`` of each stream: float64 ``[2, n]`` in [0, 1), 53 bits."""
    c = 2 * counter + torch.arange(1, 3, device=counter.device).unsqueeze(-1)
    z = _torch_mix64(keys ^ _torch_mix64(c * _I64_GOLDEN))
    return _shr(z, 11).to(torch.float64) * 2.0**-53


def _ssa_torch(network, counts, t_max, seed, streams, rates, grid, device, max_events, where,
               check_every=16) -> Ensemble:
    """Lock-step direct method on ``device`` (see :func:`ssa` and :func:`_simulate`)."""
    f64 = dict(dtype=torch.float64, device=device)
    n_traj = len(streams)
    nu = network.reactants.to(device)
    change = network.change.to(device)
    rates = rates.to(device)
    per_row = rates.ndim == 2  # [n, R]: compacted with the rows
    keys = _torch_keys(seed, torch.as_tensor(streams, device=device))
    denominator = _factorial_product(network.reactants).to(device)
    grid = grid.to(device)
    T, S, R = grid.numel(), network.n_species, network.n_reactions
    reaction_index = torch.arange(R, device=device)

    # Recording without a host sync: each step writes the current state once, at the first grid
    # point of the interval [t, t_next) it holds on, and marks it; grid points later in the same
    # interval are forward-filled from the marks at the end. Column T of each row is a dump for
    # trajectories that write nothing this step.
    out = torch.zeros(n_traj * (T + 1), S, dtype=torch.int64, device=device)
    marked = torch.zeros(n_traj * (T + 1), dtype=torch.bool, device=device)
    n_events = torch.zeros(n_traj, dtype=torch.int64, device=device)

    ids = torch.arange(n_traj, device=device)  # global index of each row still simulated
    x = torch.as_tensor(counts, device=device).expand(n_traj, S).clone()
    t = torch.zeros(n_traj, **f64)
    next_g = torch.zeros(n_traj, dtype=torch.int64, device=device)
    events = torch.zeros(n_traj, dtype=torch.int64, device=device)
    active = torch.ones(n_traj, dtype=torch.bool, device=device)
    stop = torch.zeros(n_traj, dtype=torch.bool, device=device)  # rows stopped at a bound
    # The event and count bounds are tested in a step only when some row could reach them before
    # the next check: far from them (the usual case) that saves a few launches per step.
    max_up = max(0, int(network.change.max()))
    near_counts = int(counts.max()) > MAX_COUNT - check_every * max_up
    near_events = check_every > max_events

    step = 0
    while True:
        a = _propensities_torch(x.to(torch.float64), nu, rates, denominator)
        cumulative = a.cumsum(dim=-1)
        a0 = cumulative[:, -1]
        u = _torch_uniforms(keys, events)
        alive = a0 > 0
        # Absorbed rows get t_next = inf through `where`, never through a division by zero.
        tau = -torch.log1p(-u[0]) / torch.where(alive, a0, 1.0)
        t_next = torch.where(alive, t + tau, math.inf)

        new_g = torch.searchsorted(grid, t_next)  # grid points < t_next
        write = new_g > next_g
        row = ids * (T + 1) + torch.where(write, next_g, T)
        out.index_copy_(0, row, x)
        marked.index_copy_(0, row, write)
        next_g = torch.where(write, new_g, next_g)

        # The reaction: first positive propensity whose cumulative sum passes u2 * a0. Requiring
        # a > 0 keeps rounding in the cumulative sums from ever picking an impossible reaction;
        # if rounding leaves no candidate, the last possible reaction is taken.
        possible = a > 0
        candidate = (cumulative > (u[1] * a0).unsqueeze(-1)) & possible
        last_possible = (possible * reaction_index).argmax(dim=-1)
        chosen = torch.where(candidate.any(dim=-1), candidate.to(torch.int8).argmax(dim=-1), last_possible)
        due = active & (t_next <= t_max)
        # The bounds, as on numba: a0 overflowed (it is never NaN), one event too many, or a
        # count past MAX_COUNT. x + change cannot wrap: x <= 2**62 and a change is at most 2**31.
        moved = x + change[chosen]
        within = a0 < math.inf
        if near_events:
            within = within & (events < max_events)
        if near_counts:
            within = within & (moved <= MAX_COUNT).all(dim=-1)
        fire = due & within
        stop |= fire != due  # a stopped row holds its state, so the cause can be read off later
        x = torch.where(fire.unsqueeze(-1), moved, x)
        t = torch.where(fire, t_next, t)
        events += fire
        active = fire

        step += 1
        if step % check_every == 0:
            n_active, n_stopped, x_max, events_max = torch.stack(
                [active.sum(), stop.sum(), x.max(), events.max()]).tolist()
            near_counts = x_max > MAX_COUNT - check_every * max_up
            near_events = events_max + check_every > max_events
            if n_stopped:
                rows = torch.nonzero(stop).squeeze(-1)
                j = int(rows[ids[rows].argmin()])
                a0_j = float(_propensities_torch(x[j].to(torch.float64), nu, rates[j] if per_row else rates,
                                                 denominator).sum())
                code = (_STOP_PROPENSITY if a0_j == math.inf else
                        _STOP_EVENTS if int(events[j]) >= max_events else _STOP_COUNT)
                raise _limit_error(code, where(int(ids[j])), float(t[j]), x[j].tolist(),
                                   int(events[j]), max_events, t_max, network.species)
            if n_active == 0:
                break
            if n_active <= x.shape[0] // 2:
                # Compact: finished rows have written all their grid points; drop them.
                n_events.index_copy_(0, ids, events)
                keep = torch.nonzero(active).squeeze(-1)
                ids, x, t, next_g, events, active, stop, keys = (
                    v[keep] for v in (ids, x, t, next_g, events, active, stop, keys))
                if per_row:
                    rates = rates[keep]
    n_events.index_copy_(0, ids, events)

    out = out.view(n_traj, T + 1, S)[:, :T]
    marked = marked.view(n_traj, T + 1)[:, :T]
    source = torch.where(marked, torch.arange(T, device=device), -1).cummax(dim=1).values
    x_grid = out.gather(1, source.unsqueeze(-1).expand(-1, -1, S))
    return Ensemble(grid, x_grid, n_events, network.species)


# ---------------------------------------------------------------------------------------------
# One trajectory, every event
# ---------------------------------------------------------------------------------------------

def trajectory(network: ReactionNetwork, x0, *, t_max: float | None = None,
               n_events: int | None = None, seed: int = 0, max_events: int = MAX_EVENTS) -> Path:
    r"""Every event of one direct-method trajectory (for plots and per-event statistics).

    Same algorithm as :func:`ssa` (waiting time :math:`\tau = -\ln(1-u_1)/a_0`, reaction by
    cumulative propensities); stops before the first event after ``t_max``, after ``n_events``
    events, or on absorption (:math:`a_0 = 0`). With numba installed it runs compiled and draws
    the same random numbers as ``ssa(..., backend="numba")``'s trajectory 0 for the same seed;
    without numba the same code runs in plain Python (same output, slowly).

    Args:
        network: the :class:`ReactionNetwork`.
        x0: initial counts, as in :func:`ssa`.
        t_max: final time (finite, > 0), or None.
        n_events: maximum number of events (integer >= 1, at most ``max_events``), or None.
            At least one of ``t_max`` and ``n_events`` is required.
        seed: integer seed.
        max_events: the most events a path may record, an integer >= 1, default
            :data:`MAX_EVENTS` (10**7). It bounds the memory, about ``8 (S + 2)`` bytes per
            event (twice that while the record is assembled), and the time of a run stopped by
            ``t_max`` alone. Raise it for longer records.

    Returns:
        :class:`Path` with ``t`` float64 ``[N+1]`` (``t[0] = 0``), ``x`` int64 ``[N+1, S]``
        (row 0 = ``x0``, then the state after each event), ``reaction`` int64 ``[N]``.

    Raises:
        EventLimitError: the path needs more than ``max_events`` events before ``t_max``.
        CountLimitError: a count would pass :data:`MAX_COUNT`, or the total propensity
            overflowed float64. Both name the time and the state reached.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    if not isinstance(network, ReactionNetwork):
        raise TypeError(f"network must be a ReactionNetwork, got {type(network).__name__}")
    if t_max is None and n_events is None:
        raise ValueError("trajectory needs t_max or n_events (or both), got neither "
                         "(t_max=None, n_events=None)")
    counts = _counts(network, x0)
    t_limit = math.inf if t_max is None else real(t_max, "t_max", positive=True)
    bound = _positive_int(max_events, "max_events")
    if n_events is not None:
        n_events = _positive_int(n_events, "n_events")
        if n_events > bound:
            raise ValueError(f"n_events must be <= max_events ({bound:,}), got {n_events:,}; "
                             f"raise max_events to record more")
    # Without n_events, record one event more than the bound: a path that needs it fails.
    max_events = bound + 1 if n_events is None else n_events
    seed = _seed(seed)
    if numba_available():
        _compile_numba()
    arrays = _kernel_arrays(network)

    state = np.zeros(4, dtype=np.uint64)
    x = counts.copy()
    a = np.empty(network.n_reactions)
    capacity = min(max_events, 1 << 16)
    chunks_t, chunks_x, chunks_r = [np.zeros(1)], [counts[None, :].copy()], []
    t, recorded = 0.0, 0
    with np.errstate(over="ignore"):  # 64-bit wrap-around is intended in the plain-Python path
        _nb_start_state(np.uint64(seed), np.uint64(0), state)
        while True:
            t_out = np.empty(capacity)
            x_out = np.empty((capacity, network.n_species), dtype=np.int64)
            r_out = np.empty(capacity, dtype=np.int64)
            n, t, status = _nb_path(x, t, state, t_limit, max_events - recorded, MAX_COUNT, *arrays,
                                    t_out, x_out, r_out, a)
            chunks_t.append(t_out[:n])
            chunks_x.append(x_out[:n])
            chunks_r.append(r_out[:n])
            recorded += n
            if status != 0:
                break
            capacity = min(2 * capacity, 1 << 24)
    status = int(status)
    if status == 2 and n_events is None or status in (4, 5):
        code = {2: _STOP_EVENTS, 4: _STOP_COUNT, 5: _STOP_PROPENSITY}[status]
        raise _limit_error(code, f"trajectory (seed={seed})", float(t), x, recorded, bound, t_limit,
                           network.species)
    times = np.concatenate(chunks_t)
    reason = {1: "t_max", 2: "n_events", 3: "absorbed"}[status]
    t_end = t_limit if (t_max is not None and reason in ("t_max", "absorbed")) else float(times[-1])
    return Path(times, np.concatenate(chunks_x), np.concatenate(chunks_r), network.species, t_end,
                reason)


# ---------------------------------------------------------------------------------------------
# Histograms of one species along one path
# ---------------------------------------------------------------------------------------------

def _numpy_1d(value, name: str, dtype) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (one species), got shape {array.shape}")
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer)
                                       or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{name} must be a 1-D array of real numbers, got dtype {array.dtype}")
    return array.astype(dtype, copy=False)


def _count_array(value, name: str) -> np.ndarray:
    """A non-empty 1-D array of counts as int64; integer-valued floats are accepted, 1.5 or NaN
    are not (a cast would silently make them 1 and -2**63)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == object and array.ndim == 1:  # e.g. Python ints beyond int64
        items = array.tolist()
        for i, v in enumerate(items):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name} must hold integer counts, got {v!r} at index {i}")
            if not (math.isfinite(v) and v == int(v) and 0 <= v <= MAX_COUNT):
                raise ValueError(f"{name} must hold integer counts in [0, 2**62], got {v!r} at index {i}")
        array = np.array([int(v) for v in items], dtype=np.int64)
    array = _numpy_1d(array, name, array.dtype)
    if np.issubdtype(array.dtype, np.floating):
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(array) | (array != np.round(array)) | (array < 0) | (array > MAX_COUNT)
    else:
        bad = (array < 0) | (array > MAX_COUNT)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must hold integer counts in [0, 2**62], got {array[i].item()!r} "
                         f"at index {i}")
    return array.astype(np.int64)


def time_weighted_histogram(t, x, *, t_burn: float = 0.0, t_end: float | None = None):
    r"""Stationary distribution of one species from a per-event record, weighted by dwell time.

    State :math:`x_i` holds on :math:`[t_i, t_{i+1})` (the last one until ``t_end``); the window
    :math:`[t_\text{burn}, t_\text{end}]` gives

    .. math:: \hat p(n) = \frac{\sum_i |[t_i, t_{i+1}) \cap [t_\text{burn}, t_\text{end}]|\,
       \mathbf 1[x_i = n]}{t_\text{end} - t_\text{burn}},

    the time average, which converges to the stationary law :math:`\pi(n)` (ergodic theorem).

    Args:
        t: event times ``[N+1]``, finite, non-decreasing (e.g. ``Path.t``).
        x: counts of one species ``[N+1]`` (e.g. ``Path.counts("n")``): integers in
            ``[0, 2**62]``; floats are accepted when integer-valued, 1.5 or NaN are rejected.
        t_burn: start of the window (discard the transient), a finite number.
        t_end: end of the window, finite, > ``t_burn``; default ``t[-1]`` (the last state then
            has weight 0); pass ``Path.t_end`` to count the last state's dwell up to ``t_max``.

    Returns:
        ``(values, probs)``: numpy int64 states with positive weight, ascending, and float64
        probabilities summing to 1.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    t = _numpy_1d(t, "t", np.float64)
    x = _count_array(x, "x")
    if t.shape != x.shape:
        raise ValueError(f"t and x must have the same length, got {t.shape[0]} and {x.shape[0]}")
    if not np.isfinite(t).all() or (np.diff(t) < 0).any():
        raise ValueError("t must be finite and non-decreasing (event times)")
    t_end = float(t[-1]) if t_end is None else real(t_end, "t_end")
    t_burn = real(t_burn, "t_burn")
    if not t_burn < t_end:
        raise ValueError(f"need t_burn < t_end (both finite), got t_burn={t_burn!r}, "
                         f"t_end={t_end!r}")
    ends = np.append(t[1:], max(t_end, float(t[-1])))
    dwell = np.clip(np.minimum(ends, t_end) - np.maximum(t, t_burn), 0.0, None)
    values, inverse = np.unique(x, return_inverse=True)
    weights = np.bincount(inverse, weights=dwell, minlength=values.size)
    keep = weights > 0
    if not keep.any():
        raise ValueError(f"no dwell time in [t_burn, t_end] = [{t_burn}, {t_end}]")
    return values[keep], weights[keep] / weights[keep].sum()


def event_weighted_histogram(x, *, burn: int = 0):
    r"""Histogram of one species counting each visited state once per event (the article's).

    .. math:: \hat q(n) = \frac{1}{N+1-b}\sum_{i \ge b} \mathbf 1[x_i = n]
       \;\to\; \frac{\pi(n)\, \bar a_0(n)}{\sum_m \pi(m)\, \bar a_0(m)},

    the stationary law of the jump chain, *not* :math:`\pi`: a state is visited in proportion to
    how often it is left, :math:`\pi(n)` times its exit rate :math:`a_0`, so states with busy
    dynamics are over-counted (:math:`\bar a_0(n)` averages :math:`a_0` over the other species).
    Use :func:`time_weighted_histogram` for :math:`\pi`.

    Args:
        x: counts of one species after each event ``[N+1]``, as in
            :func:`time_weighted_histogram` (integer-valued; 1.5 or NaN are rejected).
        burn: number of leading events to drop (integer >= 0).

    Returns:
        ``(values, probs)``: numpy int64 states, ascending, and float64 frequencies summing to 1.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    x = _count_array(x, "x")
    if isinstance(burn, bool) or not isinstance(burn, numbers.Integral) or not 0 <= burn < x.size:
        raise ValueError(f"burn must be an integer in [0, {x.size}), got {burn!r}")
    values, counts = np.unique(x[burn:], return_counts=True)
    return values, counts / counts.sum()


def batch_means(values, *, weights=None, n_batches: int = 20):
    r"""Weighted mean of an autocorrelated series and its standard error by batch means.

    The series (``values[i]`` held with weight ``weights[i]``, e.g. a function of the state and
    its dwell time along one path) is cut into ``n_batches`` contiguous batches of equal total
    weight, an element straddling a cut being shared in proportion. With :math:`\bar f_b` the
    batch means,

    .. math:: \hat\mu = \frac{\sum_i w_i f_i}{\sum_i w_i}, \qquad
       \widehat{\mathrm{se}} = \frac{\mathrm{sd}(\bar f_1, \dots, \bar f_B)}{\sqrt B},

    valid when a batch is much longer than the correlation time (then the batch means are
    nearly independent); for independent draws it is an ordinary standard error.

    Args:
        values: 1-D series ``[N]``, finite.
        weights: non-negative weights ``[N]`` with a positive sum (dwell times); default all 1.
        n_batches: number of batches, integer >= 2 (and at most ``N``).

    Returns:
        ``(mean, se)`` as floats.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    f = _numpy_1d(values, "values", np.float64)
    w = np.ones_like(f) if weights is None else _numpy_1d(weights, "weights", np.float64)
    n_batches = _positive_int(n_batches, "n_batches")
    if w.shape != f.shape:
        raise ValueError(f"values and weights must have the same length, got {f.size} and {w.size}")
    if not (np.isfinite(f).all() and np.isfinite(w).all()) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("values must be finite and weights finite, >= 0 with a positive sum")
    if not 2 <= n_batches <= f.size:
        raise ValueError(f"n_batches must be in [2, {f.size}] (the series' length), got {n_batches}")
    # Cumulative weight and cumulative weighted sum are piecewise linear in each other, so the
    # sum over any weight window is a difference of two interpolations.
    cum_w = np.concatenate([[0.0], np.cumsum(w)])
    cum_f = np.concatenate([[0.0], np.cumsum(w * f)])
    cuts = np.linspace(0.0, cum_w[-1], n_batches + 1)
    means = np.diff(np.interp(cuts, cum_w, cum_f)) / (cum_w[-1] / n_batches)
    return float(cum_f[-1] / cum_w[-1]), float(means.std(ddof=1) / math.sqrt(n_batches))


# ---------------------------------------------------------------------------------------------
# The truncated chemical master equation
# ---------------------------------------------------------------------------------------------

def _box(network: ReactionNetwork, max_counts) -> tuple[int, ...]:
    limits = _counts(network, max_counts, name="max_counts")
    shape = tuple(int(m) + 1 for m in limits)
    n_states = math.prod(shape)
    if n_states > MAX_CME_STATES:
        raise ValueError(f"max_counts={limits.tolist()} gives a box of {n_states:,} states; at most "
                         f"{MAX_CME_STATES:,} are supported (use a smaller truncation or simulate)")
    return shape


def cme_generator(network: ReactionNetwork, max_counts):
    r"""Sparse generator :math:`Q` of the master equation truncated to a box, :math:`\dot p = Qp`.

    States are the box :math:`\prod_s \{0, \dots, M_s\}`, flattened in C order
    (``numpy.ravel_multi_index`` with shape ``tuple(m + 1 for m in max_counts)``). For each
    state :math:`j` and reaction :math:`r` with target :math:`i = j + \Delta_r` inside the box,

    .. math:: Q_{ij} \mathrel{+}= a_r(x_j), \qquad Q_{jj} \mathrel{-}= a_r(x_j).

    Transitions that would leave the box are dropped *together with their outflow* (a
    reflecting truncation): every column sums exactly to zero and probability is conserved, at
    the price of a small distortion near the boundary; choose ``max_counts`` where the law is
    negligible. (The alternative, keeping the outflow, makes :math:`Q` leak probability.)

    Args:
        network: the :class:`ReactionNetwork`.
        max_counts: largest count per species, ``S`` non-negative integers or a dict; at most
            ``2·10^6`` states in all.

    Returns:
        ``scipy.sparse.csr_matrix`` of shape ``[n, n]``, ``n = prod(max_counts + 1)``, rates in
        1/time.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    import scipy.sparse

    shape = _box(network, max_counts)
    n = math.prod(shape)
    states = np.stack(np.unravel_index(np.arange(n), shape), axis=-1)  # [n, S]
    a = network.propensities(torch.from_numpy(states)).numpy()  # [n, R]
    rows, cols, vals = [], [], []
    for r, delta in enumerate(network.change.numpy()):
        if not delta.any():
            continue  # x -> x: no change of state
        target = states + delta
        ok = (a[:, r] > 0) & (target >= 0).all(axis=1) & (target < np.array(shape)).all(axis=1)
        source = np.nonzero(ok)[0]
        destination = np.ravel_multi_index(tuple(target[ok].T), shape)
        rows += [destination, source]
        cols += [source, source]
        vals += [a[ok, r], -a[ok, r]]
    if not rows:
        return scipy.sparse.csr_matrix((n, n))
    return scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                   shape=(n, n))


def cme_stationary(network: ReactionNetwork, max_counts) -> np.ndarray:
    r"""Stationary law of the truncated master equation: :math:`Qp = 0`, :math:`\sum p = 1`.

    Solved as a sparse linear system (LU): one equation of :math:`Qp = 0` is redundant (the
    columns of :math:`Q` sum to zero) and is replaced by :math:`p_j = 1` for one state
    :math:`j`, which keeps the LU sparse; :math:`p` is then normalised. The first try pins the
    state with index 0 and, if that state carries little mass, a second pins the most likely one
    (for accuracy); if pinning fails (:math:`p_j = 0`), the equation is replaced by the dense
    normalisation :math:`\sum p = 1` instead (slower, same answer).

    Args:
        network: the :class:`ReactionNetwork`.
        max_counts: the truncation box, as in :func:`cme_generator`.

    Returns:
        float64 array of shape ``tuple(m + 1 for m in max_counts)``: ``p[x_1, ..., x_S]``.

    Raises:
        ValueError: when the stationary law in the box is not unique (the chain is not
        irreducible there, e.g. absorbing states or conservation laws).

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    import warnings

    import scipy.sparse
    import scipy.sparse.linalg

    shape = _box(network, max_counts)
    Q = cme_generator(network, max_counts)
    n = Q.shape[0]
    scale = max(float(np.abs(Q.diagonal()).max()), 1e-300)

    def solve(system, rhs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.sparse.linalg.MatrixRankWarning)
            return scipy.sparse.linalg.spsolve(system.tocsc(), rhs)

    def stationary(p):
        return bool(np.isfinite(p).all()) and np.abs(Q @ p).max() <= 1e-9 * scale * np.abs(p).max() \
            and p.min() >= -1e-8 * np.abs(p).max()

    def pinned(j):
        # Q p = 0 with the equation of state j replaced by p_j = 1: sparse, so the LU stays
        # sparse (a dense row of ones for the normalisation fills it in, ~8x slower).
        keep = scipy.sparse.diags((np.arange(n) != j).astype(np.float64))
        system = keep @ Q + scipy.sparse.csr_matrix(([1.0], ([j], [j])), shape=(n, n))
        rhs = np.zeros(n)
        rhs[j] = 1.0
        p = solve(system, rhs)
        return p / p.sum() if stationary(p) and p.sum() > 0 else None

    # Pin the first state, then re-pin at the most likely one for accuracy if the first carries
    # little mass; fall back to the normalisation row when pinning fails (e.g. p_0 = 0).
    p = pinned(0)
    if p is not None and p[0] < 1e-6 * p.max():
        p = pinned(int(np.argmax(p)))
    if p is None:
        system = scipy.sparse.vstack([scipy.sparse.csr_matrix(np.ones((1, n))), Q[1:]])
        rhs = np.zeros(n)
        rhs[0] = 1.0
        p = solve(system, rhs)
    # A singular system (several closed classes) gives NaNs or a p that is not stationary.
    finite = bool(np.isfinite(p).all())
    if not finite or np.abs(Q @ p).max() > 1e-9 * scale * np.abs(p).max() or p.min() < -1e-8:
        box = [m - 1 for m in shape]
        raise ValueError(f"the truncated master equation with max_counts={box} has no unique "
                         f"stationary law (absorbing states or separate closed classes in the box)")
    p = np.clip(p, 0.0, None)
    return (p / p.sum()).reshape(shape)


def cme_transient(network: ReactionNetwork, x0, t, max_counts) -> np.ndarray:
    r"""Law at time(s) ``t`` of the truncated master equation from the state ``x0``.

    .. math:: p(t) = e^{tQ}\, \delta_{x_0},

    stepping from one requested time to the next. Each step applies the exponential with
    ``scipy.sparse.linalg.expm_multiply``, whose work grows with :math:`\|Q\,\Delta t\|_1`
    (about :math:`\|Q \Delta t\|_1 (\mathrm{nnz}(Q) + 4000)` multiply-adds, ~6 ns each). On
    a box of at most :data:`MAX_DENSE_STATES` (1000) states where that estimate exceeds the
    cost of a dense ``scipy.linalg.expm`` of :math:`Q \Delta t` (scaling and squaring: about
    :math:`n^3 (\log_2 \|Q \Delta t\|_1 + 10)` flops, so large rates or long times cost a
    few squarings more), the dense exponential is used instead. Work beyond
    :data:`MAX_CME_WORK` (about a minute) is refused with a ``ValueError``.

    Args:
        network: the :class:`ReactionNetwork`.
        x0: initial counts (inside the box), as in :func:`ssa`.
        t: a time >= 0, or a sorted 1-D sequence of times ``[T]``, finite.
        max_counts: the truncation box, as in :func:`cme_generator`.

    Returns:
        float64 array ``box`` (scalar ``t``) or ``[T, *box]``, ``box = tuple(m + 1 for m in
        max_counts)``.

    Raises:
        ValueError: for bad arguments, or when a sparse exponential on a box too large for the
            dense one would exceed :data:`MAX_CME_WORK` (use a smaller box,
            :func:`cme_stationary` for times far beyond the relaxation time, or :func:`ssa`).

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    import scipy.linalg
    import scipy.sparse.linalg

    shape = _box(network, max_counts)
    start = _counts(network, x0)
    if (start >= np.array(shape)).any():
        raise ValueError(f"x0={start.tolist()} lies outside the box max_counts={[m - 1 for m in shape]}")
    try:
        if isinstance(t, (str, bytes)):  # numpy would read '1' as 1.0
            raise TypeError
        times = np.asarray(t.detach().cpu() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"t must be a time >= 0 or a sorted 1-D sequence of times, got {t!r}") from None
    scalar = times.ndim == 0
    if times.ndim > 1 or times.size == 0:
        raise ValueError(f"t must be a time >= 0 or a non-empty sorted 1-D sequence of times, got "
                         f"shape {times.shape}")
    times = times.reshape(-1)
    if not np.isfinite(times).all() or (times < 0).any() or (np.diff(times) < 0).any():
        raise ValueError(f"t must be finite, >= 0 and sorted ascending, got {t!r}")
    Q = cme_generator(network, max_counts).tocsc()
    n = Q.shape[0]
    norm = float(abs(Q).sum(axis=0).max()) if Q.nnz else 0.0  # ||Q||_1, the largest column sum

    def sparse_work(dt):
        return norm * dt * (Q.nnz + 4000)

    def dense_work(dt):
        # In the units of sparse_work: a dense flop costs ~1/30 of a sparse multiply-add.
        return n**3 * (math.log2(max(norm * dt, 1.0)) + 10) / 30 if n <= MAX_DENSE_STATES else math.inf

    steps = np.diff(np.concatenate([[0.0], times]))
    work, last = 0.0, None
    for dt in steps[steps > 0].tolist():
        if dense_work(dt) < sparse_work(dt):
            work += n * n / 30 if dt == last else dense_work(dt)  # an equal step reuses exp(Q dt)
            last = dt
        else:
            work += sparse_work(dt)
    if work > MAX_CME_WORK:
        raise ValueError(f"cme_transient: ||Q||_1 t = {norm * times[-1]:.3g} on a box of {n:,} states "
                         f"needs about {work:.2g} operations, above MAX_CME_WORK = {MAX_CME_WORK:.0e}; "
                         f"use a smaller box (up to {MAX_DENSE_STATES} states take a dense "
                         f"exponential whose work hardly grows with t), cme_stationary for times far "
                         f"beyond the relaxation time, or ssa")
    dense_dt, dense_exp = None, None  # the last dense exp(Q dt), reused for an equal step
    p = np.zeros(n)
    p[np.ravel_multi_index(tuple(start), shape)] = 1.0
    out, now = [], 0.0
    for when in times:
        if when > now:
            dt = float(when - now)
            if dense_work(dt) < sparse_work(dt):
                if dt != dense_dt:
                    dense_dt, dense_exp = dt, scipy.linalg.expm(Q.toarray() * dt)
                p = dense_exp @ p
            else:
                p = scipy.sparse.linalg.expm_multiply(Q * dt, p)
            p = np.clip(p, 0.0, None)
            p /= p.sum()
            now = when
        out.append(p.reshape(shape))
    return out[0] if scalar else np.stack(out)


def jump_chain_law(network: ReactionNetwork, law) -> np.ndarray:
    r"""What an event-weighted histogram converges to: the law weighted by the event rate.

    .. math:: q(x) = \frac{\pi(x)\, a_0(x)}{\sum_y \pi(y)\, a_0(y)},
       \qquad a_0(x) = \sum_r a_r(x).

    Along a stationary path, state :math:`x` is occupied a fraction :math:`\pi(x)` of the time
    and, while occupied, ends by an event at rate :math:`a_0(x)`, so it is recorded
    :math:`\pi(x) a_0(x)` times per unit time: :math:`q` is the stationary law of the *jump
    chain* (the sequence of states, one per event; reactions that change nothing count too).

    Args:
        network: the :class:`ReactionNetwork`.
        law: a law on the box ``tuple(m + 1 for m in max_counts)``, e.g. from
            :func:`cme_stationary`: non-negative, finite, summing to > 0.

    Returns:
        float64 array of the same shape, summing to 1.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    law = np.asarray(law, dtype=np.float64)
    if law.ndim != network.n_species or not np.isfinite(law).all() or (law < 0).any() \
            or law.sum() <= 0:
        raise ValueError(f"law must be a non-negative finite array with one axis per species "
                         f"({network.n_species}) and a positive sum, got shape {law.shape}")
    states = np.stack(np.unravel_index(np.arange(law.size), law.shape), axis=-1)
    a0 = network.propensities(torch.from_numpy(states)).sum(-1).numpy().reshape(law.shape)
    q = law * a0
    if q.sum() <= 0:
        raise ValueError("the law sits on absorbing states only (a0 = 0): no events to count")
    return q / q.sum()


# ---------------------------------------------------------------------------------------------
# Deterministic mean field
# ---------------------------------------------------------------------------------------------

def mass_action_ode(network: ReactionNetwork, x0, t_grid, *, max_steps: int = 10**6) -> np.ndarray:
    r"""Reaction-rate equations, the large-number limit of the master equation.

    .. math:: \frac{dx_s}{dt} = \sum_r \Delta_{rs}\, k_r \prod_{s'}
       \frac{x_{s'}^{\nu^-_{rs'}}}{\nu^-_{rs'}!},

    solved with scipy's LSODA (the exact Jacobian, rtol 1e-10), step by step, with the output
    times read from each step's interpolant as ``scipy.integrate.solve_ivp`` does. For
    networks of order <= 1 (no two reactant molecules) it is exactly the mean of the CME.

    The work is bounded: a solution that blows up in finite time (e.g. ``2 X -> 3 X``, where
    :math:`\dot x = x^2/2`) stops once an amount passes :data:`MAX_ODE_AMOUNT` (``1e100``) or
    stops being finite, and any run stops after ``max_steps`` steps; both raise a
    :class:`SimulationLimitError` naming the time reached.

    Args:
        network: the :class:`ReactionNetwork`.
        x0: initial amounts (counts), as in :func:`ssa`.
        t_grid: output times ``[T]``, sorted, >= 0 (the start is t = 0).
        max_steps: the most solver steps, an integer >= 1 (default 10**6, some seconds).

    Returns:
        float64 numpy array ``[T, S]``.

    Raises:
        SimulationLimitError: on a blow-up before ``t_grid[-1]`` or after ``max_steps`` steps.
        RuntimeError: when the solver itself fails.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    from scipy.integrate import LSODA

    start = _counts(network, x0).astype(np.float64)
    max_steps = _positive_int(max_steps, "max_steps")
    try:
        if isinstance(t_grid, (str, bytes)):  # numpy would read '1' as 1.0
            raise TypeError
        times = np.asarray(t_grid.detach().cpu() if isinstance(t_grid, torch.Tensor) else t_grid,
                           dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"t_grid must be a sorted 1-D sequence of times, got {t_grid!r}") from None
    if times.ndim != 1 or times.size == 0 or not np.isfinite(times).all() or (times < 0).any() \
            or (np.diff(times) < 0).any():
        raise ValueError(f"t_grid must be a non-empty sorted 1-D sequence of finite times >= 0, "
                         f"got {t_grid!r}")
    nu = network.reactants.numpy().astype(np.float64)
    delta = network.change.numpy().astype(np.float64)
    k = network.rates.numpy() / _factorial_product(network.reactants).numpy()

    def rates(x):
        return k * np.prod(np.maximum(x, 0.0) ** nu, axis=1)

    def f(_, x):
        return delta.T @ rates(x)

    def jac(_, x):
        x = np.maximum(x, 0.0)
        d = np.empty_like(nu)  # d rate_r / d x_s
        for s in range(nu.shape[1]):
            powers = x ** nu
            powers[:, s] = np.where(nu[:, s] > 0, nu[:, s] * x[s] ** np.maximum(nu[:, s] - 1, 0), 0.0)
            d[:, s] = k * powers.prod(axis=1)
        return delta.T @ d

    out = np.empty((times.size, start.size))
    done = int(np.searchsorted(times, 0.0, side="right"))  # output times at t = 0
    out[:done] = start
    if done == times.size:
        return out
    scale, t_end = max(1.0, float(start.max())), float(times[-1])
    solver = LSODA(f, 0.0, start, t_end, jac=jac, rtol=1e-10, atol=1e-10 * scale)
    steps = 0
    # Near a blow-up x**nu overflows before the check below sees it: inf is caught there.
    with np.errstate(over="ignore", invalid="ignore"):
        while solver.status == "running":
            message = solver.step()
            steps += 1
            if solver.status == "failed":
                raise RuntimeError(f"mass_action_ode: the LSODA solver failed at t = {solver.t!r}: {message}")
            if not np.isfinite(solver.y).all() or solver.y.max() > MAX_ODE_AMOUNT:
                s = int(np.argmax(np.where(np.isfinite(solver.y), solver.y, np.inf)))
                raise SimulationLimitError(
                    f"mass_action_ode: the amount of {network.species[s]!r} passed MAX_ODE_AMOUNT = "
                    f"{MAX_ODE_AMOUNT:.0e} at t = {solver.t!r}, before t_grid[-1] = {t_end!r}: the "
                    f"solution blows up in finite time or grows too large to follow (ask for "
                    f"earlier times)")
            later = int(np.searchsorted(times, solver.t, side="right"))
            if later > done:
                out[done:later] = solver.dense_output()(times[done:later]).T
                done = later
            if solver.status == "running" and steps >= max_steps:
                raise SimulationLimitError(
                    f"mass_action_ode: max_steps={max_steps:,} solver steps reached at t = {solver.t!r}, "
                    f"before t_grid[-1] = {t_end!r}; raise max_steps to go on")
    return out


# ------------------------------------------------------------------------ theory

def two_stage_moments(k_m: float, k_p: float, gamma_m: float, gamma_p: float) -> dict:
    r"""Stationary moments of the two-stage gene-expression model (Su's example).

    Reactions :math:`\emptyset\to m` (``k_m``), :math:`m\to m+n` (``k_p``), :math:`m\to\emptyset`
    (``gamma_m``), :math:`n\to\emptyset` (``gamma_p``); rates per unit time. Closed forms:
    mRNA is Poisson(:math:`k_m/\gamma_m`); protein mean :math:`k_m k_p/(\gamma_m\gamma_p)`, Fano
    factor :math:`1 + k_p/(\gamma_m+\gamma_p)`, :math:`\mathrm{Cov}(m,n) = k_p\mathrm{Var}(m)/(\gamma_m+\gamma_p)`.
    Also the means that an *event-weighted* histogram estimates,
    :math:`\mathbb E[x\,a_0]/\mathbb E[a_0]` with :math:`a_0 = k_m + (k_p+\gamma_m)m + \gamma_p n`.

    Returns a dict with ``m_mean, m_var, n_mean, n_var, cov, fano, a0_mean, m_mean_event,
    n_mean_event``. Every rate must be a finite number > 0; the results are computed as ratios
    (e.g. the event means as :math:`\bar x + \mathrm{Cov}(x, a_0)/\mathbb E[a_0]`), so they stay
    finite wherever the exact values are.

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    k_m, k_p, gamma_m, gamma_p = (real(value, name, positive=True) for name, value in (
        ("k_m", k_m), ("k_p", k_p), ("gamma_m", gamma_m), ("gamma_p", gamma_p)))
    m_mean = m_var = k_m / gamma_m
    n_mean = m_mean * (k_p / gamma_p)
    ratio = k_p / (gamma_m + gamma_p)
    fano = 1 + ratio
    n_var = fano * n_mean
    cov = ratio * m_var
    a0_mean = k_m + (k_p + gamma_m) * m_mean + gamma_p * n_mean
    # E[x a0] / E[a0] = E[x] + Cov(x, a0) / E[a0], with the rates of a0 divided by the largest
    # (the ratio does not change): no squared means, no product of a huge rate and a huge mean.
    c = max(k_m, k_p + gamma_m, gamma_p)
    b, g = (k_p + gamma_m) / c, gamma_p / c
    a0_scaled = k_m / c + b * m_mean + g * n_mean
    m_event = m_mean + (b * m_var + g * cov) / a0_scaled
    n_event = n_mean + (b * cov + g * n_var) / a0_scaled
    return dict(m_mean=m_mean, m_var=m_var, n_mean=n_mean, n_var=n_var, cov=cov, fano=fano,
                a0_mean=a0_mean, m_mean_event=m_event, n_mean_event=n_event)


def birth_death_law(k: float, gamma: float, x0: int, t: float, n_max: int) -> np.ndarray:
    r"""Exact law of birth–death at time ``t`` from ``x0``, on ``0..n_max``.

    :math:`X_t = \mathrm{Binomial}(x_0, e^{-\gamma t}) + \mathrm{Poisson}\big(\tfrac{k}{\gamma}(1-e^{-\gamma t})\big)`:
    the initial molecules survive independently, the newcomers arrive as a Poisson stream.

    Args:
        k: birth rate, a finite number >= 0.
        gamma: death rate per molecule, a finite number > 0.
        x0: initial count, an integer >= 0.
        t: time, a finite number >= 0.
        n_max: largest count of the returned law, an integer >= 0.

    Returns:
        float64 array ``[n_max + 1]``: :math:`P(X_t = n)` for ``n = 0..n_max`` (summing to 1
        less the mass above ``n_max``).

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    from scipy import stats

    k = real(k, "k")
    gamma = real(gamma, "gamma", positive=True)
    t = real(t, "t")
    for name, value in (("k", k), ("t", t)):
        if value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    x0 = _integer(x0, "x0")
    n_max = _integer(n_max, "n_max")
    survive = math.exp(-gamma * t)
    mean_new = k / gamma * -math.expm1(-gamma * t)  # expm1: exact for small gamma t as well
    grid = np.arange(n_max + 1)
    survivors = stats.binom.pmf(grid, x0, survive)
    newcomers = stats.poisson.pmf(grid, mean_new)
    # Convolve only where the pmfs are non-zero (~40 standard deviations around their means):
    # a direct convolution of the full grids costs n_max**2.
    law = np.zeros(n_max + 1)
    (a,), (b,) = np.nonzero(survivors), np.nonzero(newcomers)
    if a.size and b.size:
        left, right = survivors[a[0]:a[-1] + 1], newcomers[b[0]:b[-1] + 1]
        if left.size * right.size <= 10**7:
            part = np.convolve(left, right)
        else:  # wide laws (counts of 10**5 and more): by FFT, exact to ~1e-16 absolute
            from scipy.signal import fftconvolve

            part = np.clip(fftconvolve(left, right), 0.0, None)
        start = int(a[0] + b[0])
        if start <= n_max:
            part = part[: n_max + 1 - start]
            law[start:start + part.size] = part
    return law


def compare_weightings(network: ReactionNetwork, x0, species: str, *, n_events: int,
                       n_paths: int = 8, seed: int = 0, t_burn: float = 10.0) -> dict:
    r"""Time- against event-weighted estimates from ``n_paths`` independent long paths.

    Path ``i`` is :func:`trajectory` with ``seed + i`` and ``n_events`` events from ``x0``. After
    the burn-in (time ``t_burn``, clipped to half the path when the path is shorter), each path
    gives the time-weighted means (:func:`time_weighted_histogram`: weights = dwell times, which
    estimate the stationary law :math:`\pi`) and the event-weighted means
    (:func:`event_weighted_histogram`: one count per event, which estimate
    :func:`jump_chain_law`) of every species. The paths are independent, so the spread over
    them gives honest standard errors: ``x.std(0, ddof=1) / sqrt(n_paths)``.

    Args:
        network: the :class:`ReactionNetwork`.
        x0: initial counts, as in :func:`ssa`.
        species: the species whose pooled histograms are returned.
        n_events: events per path, integer >= 1.
        n_paths: number of paths (seeds ``seed .. seed + n_paths - 1``), integer >= 2.
        seed: integer seed of the first path.
        t_burn: burn-in time, > 0.

    Returns:
        dict with ``time_means``, ``event_means`` and ``event_means_all`` (float64
        ``[n_paths, S]``; the last counts every event from the start, with no burn-in, as in the
        article), ``values`` (int64 ``[V]``, the levels of ``species`` seen), ``time_probs`` and
        ``event_probs`` (float64 ``[V]``, the paths' histograms averaged) and ``path`` (the
        :class:`Path` of the first seed).

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    if not isinstance(network, ReactionNetwork):
        raise TypeError(f"network must be a ReactionNetwork, got {type(network).__name__}")
    column = network.index(species)
    n_paths = _positive_int(n_paths, "n_paths")
    if n_paths < 2:
        raise ValueError(f"n_paths must be >= 2 (for a standard error), got {n_paths}")
    t_burn = real(t_burn, "t_burn", positive=True)
    seed = _seed(seed)
    n_events = _positive_int(n_events, "n_events")
    time_means, event_means, event_all, hists = [], [], [], []
    for i in range(n_paths):
        # n_events bounds each path itself: no further cap on events is needed.
        path = trajectory(network, x0, n_events=n_events, seed=seed + i,
                          max_events=max(n_events, MAX_EVENTS))
        if i == 0:
            first = path
        cut = min(t_burn, float(path.t[-1]) / 2)
        burn = int(np.searchsorted(path.t, cut))
        t_stats, e_stats = [], []
        for s in range(network.n_species):
            values, probs = time_weighted_histogram(path.t, path.x[:, s], t_burn=cut)
            e_values, e_probs = event_weighted_histogram(path.x[:, s], burn=burn)
            t_stats.append(values @ probs)
            e_stats.append(e_values @ e_probs)
            if s == column:
                hists.append(((values, probs), (e_values, e_probs)))
        time_means.append(t_stats)
        event_means.append(e_stats)
        event_all.append(path.x.mean(axis=0))
    support = np.unique(np.concatenate([v for pair in hists for v, _ in pair]))

    def pooled(which):
        total = np.zeros(support.size)
        for pair in hists:
            values, probs = pair[which]
            total[np.searchsorted(support, values)] += probs
        return total / len(hists)

    return dict(time_means=np.array(time_means), event_means=np.array(event_means),
                event_means_all=np.array(event_all), values=support, time_probs=pooled(0),
                event_probs=pooled(1), path=first)
