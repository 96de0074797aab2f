"""The names generated code may call besides its own: numpy, math, lookups, array helpers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from pssc_sim.compile.array_kernels import (
    allocate_available,
    allocate_by_priority,
    assemble_array,
    at_price,
    element_map,
    find_market_price,
    invert_matrix,
    reduce_array,
    table_lookup,
    vector_select,
    vector_sort,
)
from pssc_sim.compile.draws import (
    quantile,
    quantile_scalar,
    truncated_normal,
    truncated_normal_scalar,
    uniform_draw,
    uniform_draw_scalar,
)
from pssc_sim.ir.model import Lookup


def _quiet() -> Any:
    """numpy's floating-point warnings off: generated code checks the values it selects."""
    return np.errstate(all="ignore")


def _gammaln(x: Any) -> Any:
    """GAMMA_LN on arrays; scipy loads only for models that call it."""
    from scipy.special import gammaln

    return gammaln(x)


def _polygamma(n: Any, x: Any) -> Any:
    """The derivative of GAMMA_LN (``n = 0``) and beyond, for Jacobians."""
    from scipy.special import polygamma

    return polygamma(n, x)


def kernel_namespace(lookups: Sequence[Lookup]) -> dict[str, Any]:
    """The names generated kernel code may call: numpy, math, each lookup with its slope, and
    the helpers of array operations (:mod:`pssc_sim.compile.array_kernels`).

    Examples
    --------
    >>> from pssc_sim.ir.model import Lookup
    >>> space = kernel_namespace([Lookup("comfort", (0.0, 1.0), (0.0, 2.0))])
    >>> float(space["slope_comfort"](0.5))
    2.0
    """
    space: dict[str, Any] = {
        "np": np,
        "math": math,
        "nan": math.nan,
        "inf": math.inf,
        "_sign": lambda x: (x > 0) - (x < 0),
        "_heaviside": lambda x: 1.0 if x > 0 else (0.5 if x == 0 else 0.0),
        "_reduce": reduce_array,
        "_assemble": assemble_array,
        "_table_lookup": table_lookup,
        "_vector_select": vector_select,
        "_quiet": _quiet,
        "_uniform_draw": uniform_draw,
        "_uniform_draw_scalar": uniform_draw_scalar,
        "_truncated_normal": truncated_normal,
        "_truncated_normal_scalar": truncated_normal_scalar,
        "_quantile": quantile,
        "_quantile_scalar": quantile_scalar,
        "_vector_sort_order": partial(vector_sort, "order"),
        "_vector_rank": partial(vector_sort, "rank"),
        "_vector_reorder": partial(vector_sort, "reorder"),
        "_element_map": element_map,
        "_invert_matrix": invert_matrix,
        "_allocate_by_priority": allocate_by_priority,
        "_allocate_available": allocate_available,
        "_find_market_price": find_market_price,
        "_demand_at_price": partial(at_price, "demand"),
        "_supply_at_price": partial(at_price, "supply"),
        "_gammaln": _gammaln,
        "_polygamma": _polygamma,
    }
    for lookup in lookups:
        space[f"lookup_{lookup.name}"] = lookup
        space[f"slope_{lookup.name}"] = lookup.slope
        space[f"lookup_{lookup.name}_scalar"] = lookup.scalar
        space[f"slope_{lookup.name}_scalar"] = lambda x, s=lookup.slope: float(s(x))
    return space
