"""Results of a run: every recorded variable at every saved time, for every member."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.orderstats import row_quantiles

if TYPE_CHECKING:
    import pandas as pd  # imported where a table is made: a run needs only numpy


@dataclass(frozen=True, slots=True, eq=False)
class Results:
    """Values shaped ``(n_times, n_variables, n_members)``, with labels.

    A single run (one member) reads like a DataFrame: ``res["x"]`` is a Series indexed by time.
    An ensemble gives ``res["x"]`` as a DataFrame of time x member, and :meth:`quantiles`.

    Examples
    --------
    >>> res = Results(np.array([0.0, 1.0]), ("x",), np.array([[[1.0]], [[2.0]]]),
    ...               ("k",), np.array([[0.5]]), "euler", "demo")
    >>> res["x"].tolist()
    [1.0, 2.0]
    """

    times: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray
    parameter_names: tuple[str, ...]
    parameters: np.ndarray  # (n_params, n_members)
    method: str
    model_name: str

    @property
    def n_members(self) -> int:
        """Number of ensemble members (1 for a single run)."""
        return int(self.values.shape[2])

    @property
    def is_ensemble(self) -> bool:
        """Whether the run had more than one member."""
        return self.n_members > 1

    def index(self, name: str) -> int:
        """The column of the variable ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ParameterError(
                f"name: '{name}' is not in the results.{did_you_mean(name, self.names)}"
                " Ask for a stock, flow or auxiliary that was recorded"
            ) from None

    def __getitem__(self, name: str) -> pd.Series | pd.DataFrame:
        import pandas as pd

        column = self.values[:, self.index(name), :]
        time = pd.Index(self.times, name="time")
        if not self.is_ensemble:
            return pd.Series(column[:, 0], index=time, name=name)
        members = pd.RangeIndex(self.n_members, name="member")
        return pd.DataFrame(column, index=time, columns=members)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.names)

    def renamed(self, names: Mapping[str, str]) -> Results:
        """The same results with variables and parameters renamed by ``names`` (others keep
        their names), e.g. ``res.renamed(model.original_names())`` for the names of an imported
        model's own file.

        >>> res = Results(np.array([0.0]), ("x",), np.zeros((1, 1, 1)), ("k",),
        ...               np.zeros((1, 1)), "euler", "demo")
        >>> res.renamed({"x": "X value"}).names
        ('X value',)
        """
        return replace(
            self,
            names=tuple(names.get(n, n) for n in self.names),
            parameter_names=tuple(names.get(n, n) for n in self.parameter_names),
        )

    def with_parameters(self) -> Results:
        """The results with every parameter added as a variable constant in time (after the
        recorded ones), as Vensim and PySD write constants into their tables.

        >>> res = Results(np.array([0.0, 1.0]), ("x",), np.zeros((2, 1, 1)), ("k",),
        ...               np.full((1, 1), 0.5), "euler", "demo")
        >>> res.with_parameters()["k"].tolist()
        [0.5, 0.5]
        """
        extra = [i for i, n in enumerate(self.parameter_names) if n not in self.names]
        constant = np.broadcast_to(
            self.parameters[extra][None, :, :], (len(self.times), len(extra), self.n_members)
        )
        return replace(
            self,
            names=(*self.names, *(self.parameter_names[i] for i in extra)),
            values=np.concatenate([self.values, constant], axis=1),
        )

    def member(self, i: int) -> Results:
        """The run of member ``i`` alone."""
        if not -self.n_members <= i < self.n_members:
            raise ParameterError(
                f"i: no member {i} (got {i}, members 0..{self.n_members - 1}). "
                "Use an index inside the ensemble"
            )
        return Results(
            self.times,
            self.names,
            self.values[:, :, i : i + 1 or None],
            self.parameter_names,
            self.parameters[:, i : i + 1 or None],
            self.method,
            self.model_name,
        )

    def to_frame(self) -> pd.DataFrame:
        """A single run as a DataFrame: index ``time``, one column per variable.

        For an ensemble, the median of each variable across members.
        """
        import pandas as pd

        return pd.DataFrame(
            self.central(), index=pd.Index(self.times, name="time"), columns=list(self.names)
        )

    def central(self) -> np.ndarray:
        """The values of a single run, or each variable's median across the members of an
        ensemble, shaped ``(n_times, n_outputs)``."""
        return self.values[:, :, 0] if not self.is_ensemble else member_medians(self.values)

    def quantiles(self, q: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.DataFrame:
        """Quantiles across members: columns ``(variable, quantile)``, index ``time``."""
        import pandas as pd

        levels = np.asarray(q, dtype=float)
        if levels.ndim != 1 or not ((levels >= 0) & (levels <= 1)).all():
            raise ParameterError(
                f"q: quantiles must lie in [0, 1] (got {list(q)}). Use e.g. [0.05, 0.5, 0.95]"
            )
        data = member_quantiles(self.values, levels)  # (n_q, n_times, n_vars)
        columns = pd.MultiIndex.from_product([self.names, levels], names=["variable", "quantile"])
        table = data.transpose(1, 2, 0).reshape(len(self.times), -1)
        return pd.DataFrame(table, index=pd.Index(self.times, name="time"), columns=columns)

    def __repr__(self) -> str:
        kind = f"{self.n_members} members" if self.is_ensemble else "single run"
        return (
            f"<Results {self.model_name!r}: {len(self.names)} variables, {len(self.times)} "
            f"times {self.times[0]:g}..{self.times[-1]:g}, {kind}, method={self.method}>"
        )


def member_quantiles(values: np.ndarray, levels: np.ndarray | Sequence[float]) -> np.ndarray:
    """``np.quantile(values, levels, axis=2)``, computed one variable at a time.

    The quantiles of ``(n_times, n_variables, n_members)`` values are the same, but only one
    variable's copy is partitioned at a time, along its contiguous members
    (:func:`~pssc_sim.orderstats.row_quantiles`).

    >>> values = np.arange(24.0).reshape(2, 3, 4)
    >>> np.array_equal(member_quantiles(values, [0.1, 0.5]),
    ...                np.quantile(values, [0.1, 0.5], axis=2))
    True
    """
    levels = np.asarray(levels, dtype=float)
    out = np.empty((*levels.shape, values.shape[0], values.shape[1]))
    for j in range(values.shape[1]):
        out[..., j] = row_quantiles(values[:, j, :], levels.reshape(-1)).reshape(
            *levels.shape, values.shape[0]
        )
    return out


def member_medians(values: np.ndarray) -> np.ndarray:
    """``np.median(values, axis=2)``, computed one variable at a time (see
    :func:`member_quantiles`)."""
    out = np.empty(values.shape[:2])
    for j in range(values.shape[1]):
        out[:, j] = np.median(values[:, j, :], axis=1)
    return out
