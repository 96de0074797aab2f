"""The hidden structure through which targets and culture reach a model's equations.

A model equation may read a measure's target with ``TARGET(m)``, ``TARGET_GAP(m)`` and
``TARGET_PRESSURE(m)``, and the culture lever with ``CULTURE``. The model reader then adds, for
each measure so read, hidden parameters with neutral values (no target) and hidden auxiliaries
over them; a scenario's targets and ``culture:`` only set those parameters. So one model runs
with and without targets, an ensemble can sample them, and the compiled kernel is the same.

Every hidden name is ``<measure>__<part>`` (user names cannot contain ``__``); a later library of
gaming mechanisms reads the same parts. The parameters of a measure ``m``:

===================== ===================================================================
``m__target_on``      1 when the scenario sets a target on ``m``, else 0
``m__target_value``   the target level, in the units of the compared quantity
``m__target_from``    when the target starts to bite
``m__target_sign``    +1 when more of the compared quantity is better, -1 when less is
``m__target_scale``   the compared quantity is ``scale x reported`` (a count target: the period)
``m__target_share``   1 when the compared quantity is the reported share below the threshold
``m__severity``       how much missing the target matters (0 without a target)
``m__threshold``      the threshold of a threshold-share target (measures with a distribution)
===================== ===================================================================

and its auxiliaries: ``m__target`` (the level in force now, 0 before ``from`` and without a
target), ``m__target_gap`` (the reported shortfall, >= 0), ``m__target_pressure``
(gap x severity x (0.5 + CULTURE)), and, for measures with a distribution, ``m__share`` and
``m__share_reported`` (the true and the reported share of cases below ``m__threshold``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

import sympy

from pssc_sim.errors import ModelError
from pssc_sim.ir.builtins import GUARD, ShareBelow
from pssc_sim.ir.functions import CULTURE, RANDOM_MEMBER, RANDOM_SEED, TIME, variable_symbol
from pssc_sim.ir.model import (
    Auxiliary,
    Better,
    Flow,
    Measure,
    Meta,
    Origin,
    Parameter,
    Spread,
    SpreadKind,
    Stock,
)

#: The value CULTURE takes when a scenario does not set it: halfway between learning and blame.
DEFAULT_CULTURE = 0.5
#: Target pressure is scaled by ``PRESSURE_BASE + CULTURE``: 0.5 under a learning culture, 1 at the
#: default, 1.5 under blame (a blame culture makes a shortfall weigh more).
PRESSURE_BASE = 0.5
#: The parameters of a measure's target structure, with their neutral values (``sign`` and
#: ``threshold`` depend on the measure and are filled in by :func:`target_parameters`).
TARGET_PARAMETERS: tuple[tuple[str, float], ...] = (
    ("target_on", 0.0),
    ("target_value", 0.0),
    ("target_from", 0.0),
    ("target_sign", 1.0),
    ("target_scale", 1.0),
    ("target_share", 0.0),
    ("severity", 0.0),
)
#: The source recorded for hidden target parameters (``pssc check`` asks every value for one).
_SOURCE = "neutral value (no target); set by the scenario's targets"
#: Smallest mean, spread and threshold used in a share, to keep logarithms finite.
_TINY = 1e-12
#: Winitzki's constant for the closed-form error function (absolute error below 2e-4 in Phi).
_WINITZKI = 0.147


def hidden(measure: str, part: str) -> str:
    """The hidden variable ``part`` of ``measure``.

    >>> hidden("response_time", "target_gap")
    'response_time__target_gap'
    """
    return f"{measure}__{part}"


def symbol(measure: str, part: str) -> sympy.Symbol:
    """The symbol of the hidden variable ``part`` of ``measure``."""
    return variable_symbol(hidden(measure, part))


def culture_parameter() -> Parameter:
    """The parameter behind the reserved symbol ``CULTURE``."""
    return Parameter(
        CULTURE.name,
        DEFAULT_CULTURE,
        Meta(
            "dimensionless",
            "organisational culture, 0 learning .. 1 blame",
            "scenario 'culture:' (default 0.5)",
        ),
        origin=Origin.CULTURE,
    )


def random_parameter(symbol: sympy.Symbol) -> Parameter:
    """The parameter behind ``RANDOM_SEED`` (the run's seed, 0 unless set) or ``RANDOM_MEMBER``
    (the member's index in its ensemble, set by the run)."""
    if symbol == RANDOM_SEED:
        meta = Meta(
            "dimensionless", "seed of the random functions", "0 unless set: --set RANDOM_SEED=n"
        )
    else:
        meta = Meta(
            "dimensionless",
            "index of the member in its ensemble: its own random stream",
            "set by the run: 0, 1, 2 ... per member",
        )
    return Parameter(symbol.name, 0.0, meta, origin=Origin.RANDOM)


def target_parameters(measure: Measure) -> list[Parameter]:
    """The hidden parameters of ``measure``'s target, at their neutral values."""
    sign = 1.0 if measure.better is Better.HIGHER else -1.0
    return [
        Parameter(
            hidden(measure.name, part),
            sign if part == "target_sign" else value,
            Meta(description=f"target structure of {measure.name}", source=_SOURCE),
            origin=Origin.TARGET,
        )
        for part, value in TARGET_PARAMETERS
    ]


def share_structure(
    measure: Measure,
    reported_share: sympy.Expr | None = None,
) -> tuple[list[Parameter], list[Auxiliary]]:
    """The threshold parameter and the true and reported share auxiliaries of ``measure``.

    The reported share is ``reported_share`` when given (a measure's
    ``distribution.reported_share``, set by a mechanism that moves cases across the threshold),
    else the share below the threshold of the distribution shifted by ``reported - true``.
    """
    spread = measure.distribution
    if spread is None:
        return [], []
    threshold = Parameter(
        hidden(measure.name, "threshold"),
        0.0,
        Meta(
            units=measure.meta.units,
            description=f"threshold of {measure.name}'s share target",
            source=_SOURCE,
        ),
        origin=Origin.TARGET,
    )
    shift = measure.reported - measure.true
    origin = f"measure_{measure.name}"
    cut = variable_symbol(threshold.name)
    if reported_share is None:
        reported_share = share_below(cut, spread.mean + shift, spread)
    auxiliaries = [
        Auxiliary(
            hidden(measure.name, "share"),
            share_below(cut, spread.mean, spread),
            Meta("dimensionless"),
            origin,
        ),
        Auxiliary(
            hidden(measure.name, "share_reported"), reported_share, Meta("dimensionless"), origin
        ),
    ]
    return [threshold], auxiliaries


def measures_read(expr: sympy.Basic, part: str) -> set[str]:
    """The measures whose hidden ``part`` (e.g. ``threshold``, ``share_below``) ``expr`` reads.

    >>> measures_read(variable_symbol("wait__threshold") + 1, "threshold")
    {'wait'}
    """
    suffix = f"__{part}"
    return {
        s.name.removesuffix(suffix)
        for s in expr.free_symbols
        if isinstance(s, sympy.Symbol) and s.name.endswith(suffix)
    }


def resolve_shares(
    expr: sympy.Expr, owner: str, measures: Mapping[str, Measure], out: list[Auxiliary], where: str
) -> sympy.Expr:
    """``expr`` with each ``SHARE_BELOW(m, x)`` replaced by a hidden auxiliary (appended to
    ``out``, named ``<owner>__share_below<k>``) holding the share of ``m``'s distribution below
    ``x``; ``THRESHOLD(m)`` and ``SHARE_BELOW(m, x)`` on a measure without a distribution raise
    a :class:`~pssc_sim.errors.ModelError` prefixed by ``where``."""
    for part, call in (("threshold", "THRESHOLD"), ("share_below", "SHARE_BELOW")):
        for name in sorted(measures_read(expr, part)):
            if measures[name].distribution is None:
                raise ModelError(
                    f"{where}: {call}({name}) needs a measure with a distribution "
                    f"(got measure '{name}' without one). Add distribution: "
                    f"{{kind: lognormal, sd: ...}} to measures.{name}"
                )
    calls = sorted(expr.atoms(ShareBelow), key=str)
    if not calls:
        return expr
    replacements: dict[sympy.Basic, sympy.Expr] = {}
    for call in calls:
        (measure_name,) = measures_read(call.args[0], "share_below")
        spread = measures[measure_name].distribution
        if spread is None:  # pragma: no cover - raised above
            raise ModelError(f"{where}: SHARE_BELOW({measure_name}) needs a distribution")
        if call.args[1] == symbol(measure_name, "threshold"):
            # the share the scorecard reads, so that the two are the same number exactly
            replacements[call] = symbol(measure_name, "share")
            continue
        name = f"{owner}__share_below{len(out) + 1}"
        out.append(
            Auxiliary(
                name, share_below(call.args[1], spread.mean, spread), Meta("dimensionless"), owner
            )
        )
        replacements[call] = variable_symbol(name)
    return expr.xreplace(replacements)


def target_auxiliaries(measure: Measure) -> list[Auxiliary]:
    """``m__target``, ``m__target_gap`` and ``m__target_pressure`` for ``measure``."""
    name = measure.name
    on, value = symbol(name, "target_on"), symbol(name, "target_value")
    compared = symbol(name, "target_scale") * measure.reported
    share = symbol(name, "target_share")
    # A threshold-share target needs a distribution (the scenario reader checks), so without
    # one ``share`` is 0; it is still read, so that no hidden parameter goes unused.
    shared = symbol(name, "share_reported") if measure.distribution is not None else 0
    compared = share * shared + (1 - share) * compared
    biting = sympy.Ge(TIME + GUARD, symbol(name, "target_from"))
    gap = on * sympy.Max(0, symbol(name, "target_sign") * (value - compared))
    pressure = symbol(name, "target_gap") * symbol(name, "severity") * (PRESSURE_BASE + CULTURE)
    origin = f"measure_{name}"
    return [
        Auxiliary(
            hidden(name, "target"),
            sympy.Piecewise((on * value, biting), (0, True)),
            measure.meta,
            origin,
        ),
        Auxiliary(
            hidden(name, "target_gap"),
            sympy.Piecewise((gap, biting), (0, True)),
            measure.meta,
            origin,
        ),
        Auxiliary(hidden(name, "target_pressure"), pressure, Meta(), origin),
    ]


def share_below(threshold: sympy.Expr, mean: sympy.Expr, spread: Spread) -> sympy.Expr:
    """The share of cases below ``threshold`` when cases spread around ``mean`` as ``spread``.

    A lognormal spread with mean ``m`` and standard deviation ``s`` has
    ``sigma**2 = ln(1 + s**2 / m**2)`` and ``mu = ln(m) - sigma**2 / 2``.
    """
    sd = sympy.Max(spread.sd, _TINY)
    if spread.kind is SpreadKind.NORMAL:
        return normal_cdf((threshold - mean) / sd)
    m = sympy.Max(mean, _TINY)
    sigma = sympy.sqrt(sympy.log(1 + sd**2 / m**2))
    mu = sympy.log(m) - sigma**2 / 2
    return normal_cdf((sympy.log(sympy.Max(threshold, _TINY)) - mu) / sigma)


def normal_cdf(z: sympy.Expr) -> sympy.Expr:
    """The standard normal distribution function, in closed form from the operations the kernel
    prints (Winitzki 2008, "A handy approximation for the error function and its inverse";
    absolute error below 2e-4)."""
    x2 = z**2 / 2
    inner = -x2 * (4 / math.pi + _WINITZKI * x2) / (1 + _WINITZKI * x2)
    return (1 + sympy.sign(z) * sympy.sqrt(1 - sympy.exp(inner))) / 2


def used_measures(symbols: Iterable[sympy.Basic], measures: Iterable[str]) -> set[str]:
    """The measures whose target structure the free ``symbols`` of the equations read."""
    names = {s.name for s in symbols if isinstance(s, sympy.Symbol)}
    return {
        m
        for m in measures
        if any(
            hidden(m, part) in names
            for part in ("target", "target_gap", "target_pressure", "severity")
        )
    }


def resolve_share_calls(
    stocks: list[Stock],
    flows: list[Flow],
    auxiliaries: list[Auxiliary],
    measures: list[Measure],
    reported_shares: dict[str, sympy.Expr],
    where: Callable[[str], str],
) -> list[Auxiliary]:
    """Replace every ``SHARE_BELOW`` call in the model's equations (the lists and
    ``reported_shares`` are updated in place) by hidden auxiliaries, which are returned; check
    that ``THRESHOLD`` and ``SHARE_BELOW`` read measures with a distribution. ``where(path)``
    prefixes error messages with the file."""
    by_name = {m.name: m for m in measures}
    out: list[Auxiliary] = []

    def fix(expr: sympy.Expr, owner: str, path: str) -> sympy.Expr:
        return resolve_shares(expr, owner, by_name, out, where(path))

    stocks[:] = [
        replace(s, initial=fix(s.initial, s.name, f"stocks.{s.origin or s.name}")) for s in stocks
    ]
    flows[:] = [
        replace(f, rate=fix(f.rate, f.name, f"flows.{f.origin or f.name}.rate")) for f in flows
    ]
    auxiliaries[:] = [
        replace(a, equation=fix(a.equation, a.name, f"auxiliaries.{a.origin or a.name}.equation"))
        for a in auxiliaries
    ]
    measures[:] = [
        replace(
            m,
            true=fix(m.true, f"measure_{m.name}", f"measures.{m.name}"),
            reported=fix(m.reported, f"measure_{m.name}", f"measures.{m.name}"),
        )
        for m in measures
    ]
    for name, expr in reported_shares.items():
        reported_shares[name] = fix(
            expr, f"measure_{name}", f"measures.{name}.distribution.reported_share"
        )
    return out


def target_structure(
    stocks: list[Stock],
    flows: list[Flow],
    auxiliaries: list[Auxiliary],
    measures: list[Measure],
    reported_shares: Mapping[str, sympy.Expr] | None = None,
) -> tuple[tuple[Parameter, ...], list[Auxiliary]]:
    """The hidden parameters and auxiliaries the equations' TARGET calls and CULTURE read (see
    this module), and the threshold shares of measures with a distribution
    (``reported_shares`` replace the default reported share of those measures)."""
    reported_shares = reported_shares or {}
    exprs = [s.initial for s in stocks] + [f.rate for f in flows]
    exprs += [a.equation for a in auxiliaries]
    exprs += [e for m in measures for e in (m.true, m.reported)]
    exprs += list(reported_shares.values())
    symbols = set().union(*(e.free_symbols for e in exprs)) if exprs else set()
    used = used_measures(symbols, [m.name for m in measures])
    parameters: list[Parameter] = []
    hidden: list[Auxiliary] = []
    for measure in measures:
        shares = share_structure(measure, reported_shares.get(measure.name))
        parameters += shares[0]
        hidden += shares[1]
        if measure.name in used:
            parameters += target_parameters(measure)
            hidden += target_auxiliaries(measure)
    symbols |= set().union(*(a.equation.free_symbols for a in hidden)) if hidden else set()
    if CULTURE in symbols:
        parameters.append(culture_parameter())
    parameters += [random_parameter(s) for s in (RANDOM_SEED, RANDOM_MEMBER) if s in symbols]
    return tuple(parameters), hidden
