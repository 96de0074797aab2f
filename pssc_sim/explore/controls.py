"""The controls of the explorer as data: what the browser may set, within which bounds, and how a
page's state is read from and written to its URL query.

A control is keyed by a short name that appears in the URL: a parameter by its own name
(``travel_time``), the culture lever as ``culture``, a target's value, date and severity as
``target.<measure>.level``, ``target.<measure>.by`` and ``target.<measure>.severity``, an
intervention of the scenario as ``intervention.<n>`` (1 on, 0 off), an included gaming mechanism
as its switch parameter (``time_correction_active``) and the ensemble as ``uncertainty``.

Nothing a browser sends is evaluated: a value is read with :func:`float` alone, a name that is not
a control is ignored, and a value outside a control's bounds is clamped to them
(:func:`read_query`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from pssc_sim.ir.model import Model, Origin, Parameter
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.reader import scenario_time
from pssc_sim.scenario.runner import describe_intervention
from pssc_sim.scenario.targets import Target, TargetKind

#: Keys of the controls that are not parameters; a parameter of the same name is keyed ``set.*``.
CULTURE, UNCERTAINTY = "culture", "uncertainty"
#: The highest severity a slider offers (``high`` is 2).
MAX_SEVERITY = 3.0


class Kind(enum.Enum):
    """What a control sets: a number on a slider or a switch (1 on, 0 off)."""

    NUMBER = "number"
    SWITCH = "switch"


class Group(enum.Enum):
    """Where a control is shown, in this order."""

    CULTURE = "Culture and targets"
    INTERVENTIONS = "Interventions"
    MECHANISMS = "Gaming mechanisms"
    PARAMETERS = "Parameters"
    VIEW = "View"


@dataclass(frozen=True, slots=True)
class Control:
    """One thing the page may set: its key, label and bounds, and what to show on hover."""

    key: str
    label: str
    kind: Kind
    low: float
    high: float
    default: float
    group: Group
    step: float = 1.0
    units: str = ""
    description: str = ""
    source: str = ""

    def clamp(self, value: float) -> float:
        """``value`` within the control's bounds (a switch: 1 for 0.5 and above, else 0)."""
        if self.kind is Kind.SWITCH:
            return 1.0 if value >= 0.5 else 0.0
        return min(max(value, self.low), self.high)

    @property
    def tooltip(self) -> str:
        """Units, description and source, one per line, for the hover text."""
        lines = [
            f"units: {self.units}" if self.units else "",
            self.description,
            f"source: {self.source}" if self.source else "",
            f"range: {self.low:g} to {self.high:g}" if self.kind is Kind.NUMBER else "",
        ]
        return "\n".join(line for line in lines if line)


def nice_step(low: float, high: float) -> float:
    """A round step giving about a hundred positions between ``low`` and ``high``.

    >>> nice_step(0, 1), nice_step(150, 180), nice_step(3000, 4000)
    (0.01, 0.2, 10.0)
    """
    span = high - low
    if span <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(span / 100))
    for factor in (1, 2, 5, 10):
        if span / (factor * power) <= 200:
            return float(round(factor * power, 12))
    return float(10 * power)


def parameter_key(parameter: Parameter) -> str:
    """The URL key of a parameter's control: its name, unless a non-parameter control has it."""
    return f"set.{parameter.name}" if parameter.name in (CULTURE, UNCERTAINTY) else parameter.name


def parameter_controls(scenario: Scenario, model: Model) -> list[Control]:
    """A slider for every scalar parameter with a ``range``, a switch for every included
    mechanism; bounds widen to hold the scenario's own value."""
    found = []
    for parameter in model.parameters:
        value = float(scenario.set.get(parameter.name, parameter.value))
        meta = parameter.meta
        if parameter.origin is Origin.INCLUDE:
            label = parameter.name.removesuffix("_active").replace("_", " ")
            found.append(
                Control(
                    parameter.name,
                    label,
                    Kind.SWITCH,
                    0.0,
                    1.0,
                    value,
                    Group.MECHANISMS,
                    1.0,
                    "",
                    meta.description,
                    meta.source,
                )
            )
        elif parameter.range is not None and not parameter.dims and not parameter.hidden:
            low, high = min(parameter.range[0], value), max(parameter.range[1], value)
            found.append(
                Control(
                    parameter_key(parameter),
                    parameter.name.replace("_", " "),
                    Kind.NUMBER,
                    low,
                    high,
                    value,
                    Group.PARAMETERS,
                    nice_step(low, high),
                    meta.units,
                    meta.description,
                    meta.source,
                )
            )
    return found


def target_controls(scenario: Scenario, model: Model) -> list[Control]:
    """The value (``level``), date (``by``) and severity of each of the scenario's targets."""
    time = scenario_time(scenario, model)
    units = {m.name: m.meta.units for m in model.measures}
    found = []
    for target in scenario.targets:
        key = f"target.{target.measure}"
        if target.kind is TargetKind.THRESHOLD_SHARE:
            low, high, what, unit = 0.0, 1.0, "share of cases within the threshold", ""
        else:
            low, high = sorted((0.0, 2 * target.value if target.value else 1.0))
            what, unit = f"{target.kind.value} of the reported value", units.get(target.measure, "")
        start = max(time.start, target.start if target.start is not None else time.start)
        found += [
            Control(
                f"{key}.level",
                f"{target.measure}: target",
                Kind.NUMBER,
                low,
                high,
                target.value,
                Group.CULTURE,
                nice_step(low, high),
                unit,
                f"The target on {target.measure}: {what}",
            ),
            Control(
                f"{key}.by",
                f"{target.measure}: due by",
                Kind.NUMBER,
                start + time.dt,
                time.stop,
                target.by,
                Group.CULTURE,
                nice_step(start, time.stop),
                time.units,
                "When the target is judged",
            ),
            Control(
                f"{key}.severity",
                f"{target.measure}: severity",
                Kind.NUMBER,
                0.0,
                max(MAX_SEVERITY, target.severity),
                target.severity,
                Group.CULTURE,
                0.1,
                "",
                "How much missing the target matters (low 0.5, medium 1, high 2)",
                target.consequence,
            ),
        ]
    return found


def controls_for(scenario: Scenario, model: Model | None = None) -> tuple[Control, ...]:
    """Every control of the explorer for ``scenario``, in the order the page shows them.

    Examples
    --------
    >>> from pathlib import Path
    >>> import pssc_sim
    >>> root = Path(pssc_sim.__file__).parent.parent
    >>> found = controls_for(Scenario(model=root / "models" / "teacup"))
    >>> [(c.key, c.low, c.high, c.default) for c in found]
    [('characteristic_time', 5.0, 20.0, 10.0), ('uncertainty', 0.0, 1.0, 0.0)]
    """
    model = model if model is not None else scenario.load_model()
    found: list[Control] = []
    if "CULTURE" in model.parameter_names:
        default = (
            scenario.culture
            if scenario.culture is not None
            else next(p.value for p in model.parameters if p.name == "CULTURE")
        )
        found.append(
            Control(
                CULTURE,
                "culture (0 learning .. 1 blame)",
                Kind.NUMBER,
                0.0,
                1.0,
                default,
                Group.CULTURE,
                0.01,
                "",
                "How failure is treated: 0 a learning culture, 1 a blame culture. "
                "Culture splits target pressure between genuine improvement and "
                "gaming",
            )
        )
    found += target_controls(scenario, model)
    found += [
        Control(
            f"intervention.{i}",
            describe_intervention(item),
            Kind.SWITCH,
            0.0,
            1.0,
            1.0,
            Group.INTERVENTIONS,
        )
        for i, item in enumerate(scenario.interventions)
    ]
    found += parameter_controls(scenario, model)
    if scenario.is_ensemble or any(p.range or p.distribution for p in model.parameters):
        found.append(
            Control(
                UNCERTAINTY,
                "uncertainty (ensemble)",
                Kind.SWITCH,
                0.0,
                1.0,
                float(scenario.is_ensemble),
                Group.VIEW,
                1.0,
                "",
                "Run an ensemble over the uncertain parameters: fan charts and "
                "the probability of meeting each target",
            )
        )
    return tuple(sorted(found, key=lambda c: list(Group).index(c.group)))


def defaults(controls: Iterable[Control]) -> dict[str, float]:
    """The value of every control as the scenario sets it."""
    return {c.key: c.default for c in controls}


def read_value(raw: str | bytes) -> float | None:
    """A finite number read from URL text with :func:`float` alone, else ``None``.

    >>> read_value("0.9"), read_value(b"1e3"), read_value("__import__('os')"), read_value("nan")
    (0.9, 1000.0, None, None)
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        value = float(text.strip()[:64])
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_query(
    controls: Sequence[Control], query: Mapping[str, str | bytes | Sequence[str | bytes]]
) -> tuple[dict[str, float], list[str]]:
    """The state a URL query asks for, and a note for each entry ignored or clamped.

    Unknown names and values that are not numbers are ignored; numbers outside a control's
    bounds are clamped. The last value of a repeated name wins.

    Examples
    --------
    >>> c = Control("culture", "culture", Kind.NUMBER, 0.0, 1.0, 0.5, Group.CULTURE)
    >>> state, notes = read_query([c], {"culture": "7", "os.system": "1"})
    >>> state
    {'culture': 1.0}
    >>> notes
    ['culture=7 is outside 0 to 1: set to 1', "'os.system' is not a control: ignored"]
    """
    by_key = {c.key: c for c in controls}
    state = defaults(controls)
    notes = []
    for name, given in query.items():
        raw = given if isinstance(given, (str, bytes)) else (given[-1] if given else "")
        control = by_key.get(name)
        if control is None:
            notes.append(f"{name[:40]!r} is not a control: ignored")
            continue
        value = read_value(raw)
        if value is None:
            notes.append(f"{name}: {str(raw)[:40]!r} is not a number: ignored")
            continue
        state[name] = control.clamp(value)
        if control.kind is Kind.NUMBER and state[name] != value:
            notes.append(
                f"{name}={value:g} is outside {control.low:g} to {control.high:g}: "
                f"set to {state[name]:g}"
            )
    return state, notes


def write_query(controls: Sequence[Control], state: Mapping[str, float]) -> str:
    """The URL query (without ``?``) of the values that differ from the scenario's, exactly.

    >>> c = Control("culture", "culture", Kind.NUMBER, 0.0, 1.0, 0.5, Group.CULTURE)
    >>> write_query([c], {"culture": 0.9}), write_query([c], {"culture": 0.5})
    ('culture=0.9', '')
    """
    return urlencode(
        [
            (c.key, repr(state[c.key]))
            for c in controls
            if c.key in state and state[c.key] != c.default
        ]
    )


def with_target(target: Target, state: Mapping[str, float]) -> Target:
    """``target`` with the value, date and severity of its controls in ``state``."""
    key = f"target.{target.measure}"
    return replace(
        target,
        value=state.get(f"{key}.level", target.value),
        by=state.get(f"{key}.by", target.by),
        severity=state.get(f"{key}.severity", target.severity),
    )
