"""Targets as values: what a scenario's ``targets:`` list holds, read and checked.

A target names a measure, a ``kind``, a ``value`` to reach ``by`` a time, when it starts to bite
(``from``, the start of the run by default), how much missing it matters (``severity``) and, as
text, the consequence of missing it. Kinds:

``level``
    the measure's reported value reaches ``value`` (at least, or at most when lower is better);
``threshold share``
    at least ``value`` (a share, 0..1) of cases fall below ``threshold``; the measure must declare
    a ``distribution`` in the model file;
``count``
    at least ``value`` per period ``per`` (a number of time units, or the model's time unit;
    default one time unit): the measure's reported rate times the period.

Severities: ``low`` = 0.5, ``medium`` = 1 (the default), ``high`` = 2, or any number >= 0.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pssc_sim.errors import did_you_mean, shown
from pssc_sim.ir.lowering import hidden
from pssc_sim.ir.model import Better, Model, TimeSpec
from pssc_sim.scenario.schema import ScenarioError


class TargetKind(enum.Enum):
    """What a target asks of its measure."""

    LEVEL = "level"
    THRESHOLD_SHARE = "threshold share"
    COUNT = "count"


#: Severity words and the weight each gives target pressure.
SEVERITIES: Mapping[str, float] = {"low": 0.5, "medium": 1.0, "high": 2.0}
#: Keys of a target entry.
TARGET_KEYS: tuple[str, ...] = (
    "measure",
    "kind",
    "value",
    "by",
    "from",
    "severity",
    "consequence",
    "per",
    "threshold",
)
_KINDS = {kind.value: kind for kind in TargetKind} | {"threshold_share": TargetKind.THRESHOLD_SHARE}


@dataclass(frozen=True, slots=True)
class Target:
    """One target of a scenario (see the module docstring for the kinds).

    Examples
    --------
    >>> t = Target("mean_wait", TargetKind.LEVEL, 8.0, by=52.0, severity=2.0)
    >>> t.to_document()
    {'measure': 'mean_wait', 'kind': 'level', 'value': 8.0, 'by': 52.0, 'severity': 2.0}
    """

    measure: str
    kind: TargetKind
    value: float
    by: float
    start: float | None = None
    severity: float = 1.0
    consequence: str = ""
    per: float | str | None = None
    threshold: float | None = None

    def period(self, time: TimeSpec) -> float:
        """The length of a count target's period in model time units (1 for other kinds)."""
        if self.kind is not TargetKind.COUNT or self.per is None:
            return 1.0
        if isinstance(self.per, float):
            return self.per
        units = time.units.strip().lower()
        if units and self.per.strip().lower().rstrip("s") == units.rstrip("s"):
            return 1.0
        raise ScenarioError(
            f"per: the period '{self.per}' is not the model's time unit "
            f"(got {shown(self.per)}, time units {shown(time.units)}). Give the "
            "period as "
            "a number of time units, e.g. per: 52"
        )

    def higher_is_better(self, better: Better) -> bool:
        """Whether more of the compared quantity meets the target (shares and counts: always)."""
        return self.kind is not TargetKind.LEVEL or better is Better.HIGHER

    def to_document(self) -> dict[str, Any]:
        """The target as written in a scenario file."""
        document: dict[str, Any] = {
            "measure": self.measure,
            "kind": self.kind.value,
            "value": self.value,
            "by": self.by,
        }
        optional = {
            "from": self.start,
            "per": self.per,
            "threshold": self.threshold,
            "consequence": self.consequence or None,
        }
        document.update({k: v for k, v in optional.items() if v is not None})
        if self.severity != 1.0:
            document["severity"] = self.severity
        return document


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ScenarioError(
            f"{where}: expected a number (got {shown(raw)}). A scenario holds "
            "numbers and names, never expressions or code"
        )
    return float(raw)


def severity(raw: Any, where: str) -> float:
    """A severity word or a number >= 0, as the weight of target pressure."""
    if isinstance(raw, str):
        if raw not in SEVERITIES:
            raise ScenarioError(
                f"{where}: unknown severity "
                f"{shown(raw)}.{did_you_mean(raw, SEVERITIES)}"
                " Use low, medium, high or a number >= 0"
            )
        return SEVERITIES[raw]
    value = _number(raw, where)
    if value < 0:
        raise ScenarioError(
            f"{where}: severity must be >= 0 (got {shown(raw)}). Use low, medium, "
            "high or a number >= 0"
        )
    return value


def target_from_document(raw: Any, where: str) -> Target:
    """A :class:`Target` from its scenario-file mapping; ``where`` is ``file: targets[i]``."""
    if isinstance(raw, Target):
        return raw
    if not isinstance(raw, Mapping):
        raise ScenarioError(
            f"{where}: expected a mapping (got {shown(raw)}). Write {{measure: m, "
            "kind: level, value: 8, by: 2030}"
        )
    for key in raw:
        if key not in TARGET_KEYS:
            hint = did_you_mean(str(key), TARGET_KEYS) or f" Allowed: {', '.join(TARGET_KEYS)}."
            raise ScenarioError(f"{where}.{key}: unknown key {shown(key)}.{hint}")
    for key in ("measure", "value", "by"):
        if raw.get(key) is None:
            raise ScenarioError(
                f"{where}.{key}: '{key}' is required (got nothing). A target "
                "needs measure, value and by"
            )
    measure = raw["measure"]
    if not isinstance(measure, str):
        raise ScenarioError(
            f"{where}.measure: expected a measure name (got {shown(measure)}). "
            "Name a "
            "measure of the model"
        )
    kind_text = raw.get("kind", "level")
    if kind_text not in _KINDS:
        hint = did_you_mean(str(kind_text), [k.value for k in TargetKind])
        raise ScenarioError(
            f"{where}.kind: unknown kind {shown(kind_text)}.{hint} Use level, "
            "threshold share or count"
        )
    kind = _KINDS[kind_text]
    target = Target(
        measure,
        kind,
        _number(raw["value"], f"{where}.value"),
        _number(raw["by"], f"{where}.by"),
        None if raw.get("from") is None else _number(raw["from"], f"{where}.from"),
        severity(raw.get("severity", 1.0), f"{where}.severity"),
        str(raw.get("consequence") or ""),
        _per(raw.get("per"), f"{where}.per"),
        None if raw.get("threshold") is None else _number(raw["threshold"], f"{where}.threshold"),
    )
    check_kind(target, where)
    return target


def _per(raw: Any, where: str) -> float | str | None:
    if raw is None or isinstance(raw, str):
        return raw
    value = _number(raw, where)
    if value <= 0:
        raise ScenarioError(
            f"{where}: the period must be positive (got {shown(raw)}). Write e.g. "
            "per: 52 or per: year"
        )
    return value


def check_kind(target: Target, where: str) -> None:
    """Raise unless the target's value and keys suit its kind."""
    kind = target.kind
    if kind is TargetKind.THRESHOLD_SHARE:
        if not 0 <= target.value <= 1:
            raise ScenarioError(
                f"{where}.value: a threshold share is a share of cases from 0 to "
                f"1 (got {target.value:g}). Write 0.92 for 92%"
            )
        if target.threshold is None:
            raise ScenarioError(
                f"{where}.threshold: a threshold share target needs the "
                "threshold (got nothing). Add e.g. threshold: 18"
            )
    elif target.threshold is not None:
        raise ScenarioError(
            f"{where}.threshold: only threshold share targets take a threshold "
            f"(got kind {shown(kind.value)}). Write kind: threshold share"
        )
    if kind is TargetKind.COUNT and target.value < 0:
        raise ScenarioError(
            f"{where}.value: a count is at least 0 (got {target.value:g}). Give "
            "the number of cases per period"
        )
    if kind is not TargetKind.COUNT and target.per is not None:
        raise ScenarioError(
            f"{where}.per: only count targets take a period (got kind "
            f"{shown(kind.value)}). Remove per, or write kind: count"
        )


def check_targets(targets: tuple[Target, ...], model: Model, time: TimeSpec, where: str) -> None:
    """Raise unless every target fits ``model`` run over ``time``; ``where`` is the file."""
    measures = {m.name: m for m in model.measures}
    seen: set[str] = set()
    for i, target in enumerate(targets):
        path = f"{where}targets[{i}]"
        if target.measure not in measures:
            hint = did_you_mean(target.measure, measures) or (
                f" Measures: {', '.join(measures)}."
                if measures
                else " The model declares no measures."
            )
            raise ScenarioError(
                f"{path}.measure: unknown measure '{target.measure}' in "
                f"{model.source or model.name}.{hint}"
            )
        if target.measure in seen:
            raise ScenarioError(
                f"{path}.measure: a second target on '{target.measure}' (got "
                "two). Give each measure one target"
            )
        seen.add(target.measure)
        for key, at in (("by", target.by), ("from", target.start)):
            if at is not None and not time.start <= at <= time.stop:
                raise ScenarioError(
                    f"{path}.{key}: the time {at:g} is outside the run "
                    f"({time.start:g} to {time.stop:g}). Give a time inside it, "
                    "or change time: in the scenario"
                )
        if target.start is not None and target.start > target.by:
            raise ScenarioError(
                f"{path}.from: the target starts after its date (got from "
                f"{target.start:g}, by {target.by:g}). Start it before 'by'"
            )
        if (
            target.kind is TargetKind.THRESHOLD_SHARE
            and measures[target.measure].distribution is None
        ):
            raise ScenarioError(
                f"{path}.kind: a threshold share needs the measure's "
                f"distribution, and '{target.measure}' declares none (got "
                "'threshold share'). Add distribution: {kind: lognormal, sd: ...}"
                " to the measure in the model file"
            )
        try:
            target.period(time)
        except ScenarioError as exc:
            raise ScenarioError(f"{path}.{exc}") from None


def target_parameters(
    targets: tuple[Target, ...], model: Model, time: TimeSpec
) -> dict[str, float]:
    """Values of the hidden parameters that put ``targets`` (and their measures' thresholds)
    into ``model``; targets on measures the equations never read set nothing."""
    names = set(model.parameter_names)
    measures = {m.name: m for m in model.measures}
    values: dict[str, float] = {}
    for target in targets:
        m = target.measure
        if target.threshold is not None and hidden(m, "threshold") in names:
            values[hidden(m, "threshold")] = target.threshold
        if hidden(m, "target_on") not in names:
            continue
        higher = target.higher_is_better(measures[m].better)
        values.update(
            {
                hidden(m, "target_on"): 1.0,
                hidden(m, "target_value"): target.value,
                hidden(m, "target_from"): time.start if target.start is None else target.start,
                hidden(m, "target_sign"): 1.0 if higher else -1.0,
                hidden(m, "target_scale"): target.period(time),
                hidden(m, "target_share"): float(target.kind is TargetKind.THRESHOLD_SHARE),
                hidden(m, "severity"): target.severity,
            }
        )
    return values
