"""The intermediate representation (IR): frozen, typed descriptions of a model.

Every stage after parsing reads these objects and none changes them. Equations are sympy
expressions over :func:`~pssc_sim.ir.functions.variable_symbol` symbols. Stateful builtins have
already been lowered: what they need appears as hidden stocks, flows, auxiliaries and discrete
states whose ``origin`` names the user variable that called them.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy

from pssc_sim.errors import ModelError, shown
from pssc_sim.ir.dimensions import Dimensions, selected_rows
from pssc_sim.ir.functions import variable_symbol


class Perspective(enum.Enum):
    """The three perspectives of the Public Sector Scorecard."""

    OUTCOME = "outcome"
    PROCESS = "process"
    CAPABILITY = "capability"


class Better(enum.Enum):
    """Which direction of a measure is an improvement."""

    HIGHER = "higher"
    LOWER = "lower"


class Extrapolation(enum.Enum):
    """What a lookup returns outside its points."""

    FLAT = "flat"  # hold the end values (Vensim)
    LINEAR = "linear"  # continue the end segments (XMILE ``extrapolate``)
    DISCRETE = "discrete"  # step function holding each value until the next point (XMILE)


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """The time block of a model file: ``start`` to ``stop`` in steps of ``dt``, saved every
    ``save_every``. A run's grid is this block with any overrides applied
    (:class:`pssc_sim.integrate.grid.Grid`, which says which times are saved)."""

    start: float
    stop: float
    dt: float
    save_every: float
    units: str = ""
    origin: str = ""  # the calendar date (ISO ``YYYY-MM-DD``) or year at time zero, if known
    #: The times of the steps from start to stop, when they are not ``dt`` apart (a Vensim
    #: TIME STEP given by an equation over time), and the times saved then; else empty.
    steps: tuple[float, ...] = ()
    saved: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not np.isfinite([self.start, self.stop, self.dt, self.save_every]).all():
            raise ModelError(f"time: every value must be finite (got {self}). Use numbers")
        if self.stop <= self.start:
            raise ModelError(
                f"time.stop: stop must be after start (got start={self.start}, stop={self.stop}). "
                "Set stop greater than start"
            )
        if self.dt <= 0 or self.save_every <= 0:
            key = "dt" if self.dt <= 0 else "save_every"
            raise ModelError(
                f"time.{key}: dt and save_every must be positive (got dt={self.dt}, "
                f"save_every={self.save_every}). Use a positive step"
            )
        steps = np.asarray(self.steps, dtype=float)
        if self.steps and not (
            len(steps) >= 2
            and np.isfinite(steps).all()
            and (np.diff(steps) > 0).all()
            and steps[0] == self.start
            and steps[-1] == self.stop
        ):
            raise ModelError(
                f"time.step_times: the steps must rise from start to stop (got "
                f"{list(self.steps)[:6]}, start={self.start}, stop={self.stop}). List "
                "increasing times from start to stop"
            )
        if self.saved and not set(self.saved) <= set(self.steps):
            raise ModelError(
                f"time.saved_times: every saved time must be one of the steps (got "
                f"{sorted(set(self.saved) - set(self.steps))[:3]}). Save times of time.step_times"
            )


@dataclass(frozen=True, slots=True)
class Meta:
    """Documentation kept with a variable: units, a description, the source of its value and
    a label for readers."""

    units: str = ""
    description: str = ""
    source: str = ""
    label: str = ""  # the words a reader sees instead of the name, if given
    original: str = ""  # the name in the Vensim or XMILE file the variable was imported from


class Origin(enum.Enum):
    """Where a parameter comes from. Code that must tell the kinds apart reads this, never the
    parameter's name."""

    MODEL = "model"  # written in the model file, or in a mechanism fragment it includes
    INCLUDE = "include"  # the on/off switch ``<instance>_active`` of an included mechanism
    TARGET = "target"  # the hidden target structure of a measure (pssc_sim.ir.lowering)
    CULTURE = "culture"  # the culture lever CULTURE, added when an equation reads it
    RANDOM = "random"  # RANDOM_SEED and RANDOM_MEMBER, added when a random function is used


@dataclass(frozen=True, slots=True)
class Parameter:
    """A constant a scenario may override; ``range`` and ``distribution`` serve ensembles."""

    name: str
    value: float
    meta: Meta = Meta()
    range: tuple[float, float] | None = None
    distribution: Mapping[str, object] | None = None
    dims: tuple[str, ...] = ()
    values: tuple[float, ...] = ()
    origin: Origin = Origin.MODEL

    @property
    def hidden(self) -> bool:
        """Whether the parameter is target structure the reader added (set through a
        scenario's ``targets:``, not by name)."""
        return self.origin is Origin.TARGET

    def row_values(self) -> tuple[float, ...]:
        """One value per element (the ``values`` of an arrayed parameter, else ``value``)."""
        return self.values if self.dims else (self.value,)


@dataclass(frozen=True, slots=True)
class Stock:
    """An accumulation: ``d(stock)/dt`` is the sum of its inflows minus its outflows."""

    name: str
    initial: sympy.Expr
    meta: Meta = Meta()
    non_negative: bool = False
    origin: str | None = None
    dims: tuple[str, ...] = ()

    @property
    def hidden(self) -> bool:
        """Whether the stock was created by a stateful builtin rather than written by the user."""
        return self.origin is not None


@dataclass(frozen=True, slots=True)
class Flow:
    """A rate moving material from ``source`` to ``target`` (``None`` is a cloud)."""

    name: str
    rate: sympy.Expr
    source: str | None
    target: str | None
    meta: Meta = Meta()
    origin: str | None = None
    dims: tuple[str, ...] = ()

    @property
    def hidden(self) -> bool:
        """Whether the flow was created by a stateful builtin."""
        return self.origin is not None


@dataclass(frozen=True, slots=True)
class Auxiliary:
    """An algebraic variable, recomputed from the state at every evaluation."""

    name: str
    equation: sympy.Expr
    meta: Meta = Meta()
    origin: str | None = None
    dims: tuple[str, ...] = ()

    @property
    def hidden(self) -> bool:
        """Whether the auxiliary was created by a stateful builtin."""
        return self.origin is not None


@dataclass(frozen=True, slots=True)
class SampleMemory:
    """Discrete state of SAMPLE_IF_TRUE: holds the last sampled value between time steps.

    ``update`` is the hidden auxiliary whose value at the start of a step becomes the memory for
    the next step.
    """

    name: str
    initial: sympy.Expr
    update: str
    origin: str
    dims: tuple[str, ...] = ()

    @property
    def hidden(self) -> bool:
        """Always: discrete state is made by a stateful builtin, never written by the user."""
        return True


@dataclass(frozen=True, slots=True)
class FixedDelay:
    """Discrete state of DELAY_FIXED: a pipeline returning ``input`` from ``delay`` ago.

    The delay is evaluated once, at initialisation; the output is ``initial`` until a full delay
    has passed.
    """

    name: str
    input: sympy.Expr
    delay: sympy.Expr
    initial: sympy.Expr
    origin: str
    dims: tuple[str, ...] = ()

    @property
    def hidden(self) -> bool:
        """Always: discrete state is made by a stateful builtin, never written by the user."""
        return True


DiscreteState = SampleMemory | FixedDelay


@dataclass(frozen=True, slots=True)
class Lookup:
    """A graphical function: piecewise-linear through ``x``/``y`` points."""

    name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    extrapolation: Extrapolation = Extrapolation.FLAT
    meta: Meta = Meta()
    dims: tuple[str, ...] = ()
    #: one ``(x, y)`` table per element of an arrayed lookup, in row order (``x``/``y`` are the
    #: first); equations call it through :class:`~pssc_sim.ir.dimensions.TableLookup`
    tables: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] = ()

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y) or len(self.x) < 1:
            raise ModelError(
                f"lookups.{self.name}.points: x and y must have the same, non-zero length "
                f"(got {len(self.x)} and {len(self.y)}). Give [x, y] pairs"
            )
        tables = ((self.x, self.y), *self.tables)
        for axis, values in (
            ("x", [v for t in tables for v in t[0]]),
            ("y", [v for t in tables for v in t[1]]),
        ):
            bad = [v for v in values if not math.isfinite(v)]
            if bad:
                raise ModelError(
                    f"lookups.{self.name}.points: every {axis} value must be a finite number "
                    f"(got {shown(bad[0])}). Give plain numbers; extrapolation covers the ends"
                )
        if any(b <= a for a, b in zip(self.x, self.x[1:], strict=False)):
            raise ModelError(
                f"lookups.{self.name}.points: x values must increase strictly "
                f"(got {shown(list(self.x))}). Sort the points by x and remove duplicates"
            )

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        """Evaluate the lookup at ``x`` (vectorised)."""
        xs, ys = np.asarray(self.x), np.asarray(self.y)
        values = np.interp(x, xs, ys)
        if self.extrapolation is Extrapolation.LINEAR and len(xs) > 1:
            low_slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
            high_slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
            values = np.where(x < xs[0], ys[0] + (x - xs[0]) * low_slope, values)
            values = np.where(x > xs[-1], ys[-1] + (x - xs[-1]) * high_slope, values)
        elif self.extrapolation is Extrapolation.DISCRETE:
            index = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 1)
            values = ys[index]
        return np.asarray(values, dtype=float)

    def slope(self, x: np.ndarray | float) -> np.ndarray:
        """The derivative of the lookup at ``x`` (0 on flat ends and for discrete lookups)."""
        xs, ys = np.asarray(self.x), np.asarray(self.y)
        if len(xs) < 2 or self.extrapolation is Extrapolation.DISCRETE:
            return np.zeros_like(np.asarray(x, dtype=float))
        slopes = np.diff(ys) / np.diff(xs)
        index = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(slopes) - 1)
        result = slopes[index]
        if self.extrapolation is Extrapolation.FLAT:
            result = np.where((x < xs[0]) | (x > xs[-1]), 0.0, result)
        return np.asarray(result, dtype=float)

    def scalar(self, x: float) -> float:
        """Evaluate the lookup at one point with plain Python (the single-run fast path)."""
        xs, ys = self.x, self.y
        if x <= xs[0] or x >= xs[-1]:
            if self.extrapolation is Extrapolation.FLAT or len(xs) == 1:
                return ys[0] if x <= xs[0] else ys[-1]
            return float(self(x))
        if self.extrapolation is Extrapolation.DISCRETE:
            return float(self(x))
        i = bisect.bisect_right(xs, x) - 1
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


class SpreadKind(enum.Enum):
    """The shape of the spread of cases around a measure's mean (for threshold shares)."""

    NORMAL = "normal"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True, slots=True)
class Spread:
    """How individual cases spread around a measure's value: a ``kind`` of distribution with a
    ``mean`` and a standard deviation ``sd`` (both expressions of the model).

    It gives the share of cases below a threshold (e.g. responses within 8 minutes from the mean
    response time); the reported share uses the measure's reported value as the mean.
    """

    kind: SpreadKind
    mean: sympy.Expr
    sd: sympy.Expr


@dataclass(frozen=True, slots=True)
class Measure:
    """A PSS indicator: its perspective, which direction is better, its true and reported value,
    and optionally the spread of its cases (``distribution:`` in a model file)."""

    name: str
    perspective: Perspective
    better: Better
    true: sympy.Expr
    reported: sympy.Expr
    meta: Meta = Meta()
    distribution: Spread | None = None

    @property
    def true_column(self) -> str:
        """The name under which results record the true value."""
        return self.true.name if isinstance(self.true, sympy.Symbol) else self.name

    @property
    def reported_column(self) -> str:
        """The name under which results record the reported value."""
        return self.true_column if self.reported == self.true else f"{self.name}.reported"


@dataclass(frozen=True, slots=True, eq=False)
class Model:
    """A complete, validated, lowered model (compared and hashed by identity).

    ``auxiliaries`` are in evaluation order together with ``flows``: :attr:`algebraic_order` lists
    every flow and auxiliary name in the order they are computed.
    """

    name: str
    title: str
    time: TimeSpec
    parameters: tuple[Parameter, ...]
    stocks: tuple[Stock, ...]
    flows: tuple[Flow, ...]
    auxiliaries: tuple[Auxiliary, ...]
    lookups: tuple[Lookup, ...] = ()
    discrete: tuple[DiscreteState, ...] = ()
    measures: tuple[Measure, ...] = ()
    algebraic_order: tuple[str, ...] = ()
    source: str = ""
    dimensions: Dimensions = field(default_factory=Dimensions)
    #: parameters fixed when the model is built (the order of a SMOOTHN or DELAYN), with what
    #: each fixes: runs refuse to change them
    structural: Mapping[str, str] = field(default_factory=dict)
    _index: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)
    _rows: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, object] = {}
        for item in self.declarations():
            if item.name in index:
                raise ModelError(
                    f"{self.source or self.name}: the name '{item.name}' is defined twice. "
                    "Give every variable its own name"
                )
            index[item.name] = item
        object.__setattr__(self, "_index", MappingProxyType(index))
        object.__setattr__(
            self,
            "_rows",
            MappingProxyType(
                {
                    item.name: tuple(self.dimensions.labels(item.name, item.dims))
                    for item in self.declarations()
                    if not isinstance(item, Lookup)
                }
            ),
        )

    def __reduce__(self) -> tuple[type[Model], tuple[Any, ...]]:
        """Pickled as its public fields (the lookup tables are rebuilt on loading), so a model
        can go to a worker process."""
        return (
            Model,
            tuple(getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")),
        )

    def declarations(
        self,
    ) -> Iterator[Parameter | Stock | Flow | Auxiliary | Lookup | DiscreteState]:
        """Every named object of the model."""
        yield from self.parameters
        yield from self.stocks
        yield from self.flows
        yield from self.auxiliaries
        yield from self.lookups
        yield from self.discrete

    def __getitem__(self, name: str) -> object:
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def rows(self, name: str) -> tuple[str, ...]:
        """The element names of the variable ``name`` (its own name if it is not arrayed)."""
        return self._rows[name]

    def _labels(
        self, items: tuple[Parameter | Stock | Flow | Auxiliary | DiscreteState, ...]
    ) -> tuple[str, ...]:
        return tuple(row for item in items for row in self._rows[item.name])

    @property
    def stock_names(self) -> tuple[str, ...]:
        """Names of the stocks, hidden ones included, in state order (one per element of an
        arrayed stock, as ``population[0-4,A]``)."""
        return self._labels(self.stocks)

    @property
    def flow_names(self) -> tuple[str, ...]:
        """Names of the flows, in the column order of :meth:`stoichiometry`."""
        return self._labels(self.flows)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the parameters, in the row order of the parameter array."""
        return self._labels(self.parameters)

    @property
    def discrete_names(self) -> tuple[str, ...]:
        """Names of the discrete states, in the row order of their array."""
        return self._labels(self.discrete)

    def original_names(self) -> dict[str, str]:
        """The original name of every row of a variable imported from a Vensim or XMILE file
        (``meta.original``), by its identifier: ``{"v_100_true": "100% true",
        "population[young]": "Population[young]"}``. Variables without one are left out.
        """
        names: dict[str, str] = {}
        for item in self.declarations():
            original = getattr(getattr(item, "meta", None), "original", "")
            if not original or isinstance(item, Lookup):
                continue
            for row in self._rows[item.name]:
                names[row] = original + row[len(item.name) :]
        return names

    def parameter_rows(self, key: str) -> tuple[str, ...] | None:
        """The parameter rows ``key`` names: one row (``k``, ``rate[A]``), a whole arrayed
        parameter (``rate``) or a slice (``rate[young, A]`` with a subrange); None if none."""
        item = self._index.get(key)
        if isinstance(item, Parameter):
            return self._rows[key]
        name, bracket, rest = key.partition("[")
        item = self._index.get(name)
        if not bracket or not rest.endswith("]") or not isinstance(item, Parameter):
            return None
        rows = selected_rows(self.dimensions, name, item.dims, rest[:-1]) if item.dims else None
        return tuple(rows) if rows else None

    def parameter_values(self) -> tuple[float, ...]:
        """The parameter values written in the model, in the row order of the parameters."""
        return tuple(v for p in self.parameters for v in p.row_values())

    def non_negative_rows(self) -> tuple[int, ...]:
        """Rows of the state that belong to stocks declared non-negative."""
        rows: list[int] = []
        offset = 0
        for stock in self.stocks:
            size = len(self._rows[stock.name])
            if stock.non_negative:
                rows.extend(range(offset, offset + size))
            offset += size
        return tuple(rows)

    def stoichiometry(self) -> np.ndarray:
        """The matrix ``N`` (stocks x flows): -1 at a flow's source, +1 at its target; an
        arrayed flow moves each element between the same elements of its stocks."""
        rows, columns, signs = self._stoichiometry_entries()
        matrix = np.zeros((len(self.stock_names), len(self.flow_names)))
        np.add.at(matrix, (rows, columns), signs)
        return matrix

    def sparse_stoichiometry(self) -> Any:
        """:meth:`stoichiometry` as a ``scipy.sparse.csr_array``: a few entries per column,
        where the dense matrix of an arrayed model grows with the square of its elements."""
        from scipy import sparse

        rows, columns, signs = self._stoichiometry_entries()
        shape = (len(self.stock_names), len(self.flow_names))
        return sparse.csr_array((signs, (rows, columns)), shape=shape)

    def _stoichiometry_entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        first, offset = {}, 0
        for stock in self.stocks:
            first[stock.name] = offset
            offset += len(self._rows[stock.name])
        rows: list[np.ndarray] = []
        columns: list[np.ndarray] = []
        signs: list[np.ndarray] = []
        column = 0
        for flow in self.flows:
            size = len(self._rows[flow.name])
            for end, sign in ((flow.source, -1.0), (flow.target, 1.0)):
                if end is not None:
                    rows.append(first[end] + np.arange(size))
                    columns.append(column + np.arange(size))
                    signs.append(np.full(size, sign))
            column += size
        if not rows:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
        return np.concatenate(rows), np.concatenate(columns), np.concatenate(signs)

    def visible_variables(self) -> tuple[str, ...]:
        """Names reported in results: user stocks, flows and auxiliaries (each element of an
        arrayed one)."""
        names = [s.name for s in self.stocks if not s.hidden]
        names += [f.name for f in self.flows if not f.hidden]
        names += [a.name for a in self.auxiliaries if not a.hidden]
        return tuple(row for name in names for row in self._rows[name])

    def default_outputs(self) -> tuple[tuple[str, sympy.Expr], ...]:
        """What a run records by default, as ``(column, expression)`` pairs: every visible
        stock, flow and auxiliary, then the measures that are not plain variables (the true
        value, and the reported one when it differs as ``<measure>.reported``)."""
        outputs = [(name, variable_symbol(name)) for name in self.visible_variables()]
        for measure in self.measures:
            if not isinstance(measure.true, sympy.Symbol):
                outputs.append((measure.name, measure.true))
            if measure.reported != measure.true:
                outputs.append((f"{measure.name}.reported", measure.reported))
        return tuple(outputs)
