"""Scenarios as values: :class:`Scenario` and :class:`Uncertainty`, built in code or read from
files, layered with ``extends`` semantics and changed with ``with_*`` methods (each returns a new
scenario; nothing is modified in place)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pssc_sim.errors import did_you_mean, shown
from pssc_sim.ir.model import Model
from pssc_sim.scenario import reader
from pssc_sim.scenario.interventions import Intervention, layer_interventions
from pssc_sim.scenario.sampling import Distribution
from pssc_sim.scenario.schema import SAMPLING_NAMES, ScenarioError
from pssc_sim.targets.definition import Target

if TYPE_CHECKING:
    from pssc_sim.scenario.runner import ScenarioResult

#: Sampling used when an uncertainty block does not name one.
DEFAULT_SAMPLING = "latin-hypercube"
_ARGUMENTS = reader.where_in("")


@dataclass(frozen=True, slots=True, init=False)
class Uncertainty:
    """What makes a scenario an ensemble. Unset fields (``None``) inherit when layered.

    ``parameters`` maps each sampled parameter to its :class:`Distribution`, or to ``None`` to use
    the distribution or range written in the model file. Without ``parameters``, every model
    parameter with a ``distribution`` or ``range`` is sampled.

    Examples
    --------
    >>> Uncertainty(members=100, seed=1).layered(Uncertainty(members=10)).members
    10
    """

    members: int | None
    sampling: str | None
    seed: int | None
    parameters: Mapping[str, Distribution | None] | None

    def __init__(self, members: int | None = None, sampling: str | None = None,
                 seed: int | None = None,
                 parameters: Mapping[str, Distribution | Mapping[str, Any] | None]
                 | Sequence[str] | None = None) -> None:
        for key, value in (("members", members), ("sampling", sampling), ("seed", seed)):
            object.__setattr__(self, key, value)
        object.__setattr__(self, "parameters",
                           None if parameters is None else MappingProxyType(
                               _distributions(parameters)))
        self._check()

    def _check(self) -> None:
        if self.members is not None and (isinstance(self.members, bool)
                                         or not isinstance(self.members, int) or self.members < 1):
            raise ScenarioError(f"uncertainty.members: expected a whole number of at least 1 "
                                f"(got {shown(self.members)}). Write members: 1000")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int) or self.seed < 0):
            raise ScenarioError(f"uncertainty.seed: expected a whole number of at least 0 (got "
                                f"{shown(self.seed)}). Write seed: 42")
        if self.sampling is not None and self.sampling not in SAMPLING_NAMES:
            raise ScenarioError(f"uncertainty.sampling: unknown sampling {shown(self.sampling)}."
                                f"{did_you_mean(str(self.sampling), SAMPLING_NAMES)} Use one of: "
                                f"{', '.join(SAMPLING_NAMES)}")

    def layered(self, child: Uncertainty) -> Uncertainty:
        """``child`` over ``self``: set fields replace, sampled parameters merge by name."""
        parameters = self.parameters
        if child.parameters is not None:
            parameters = {**(self.parameters or {}), **child.parameters}
        return Uncertainty(
            members=child.members if child.members is not None else self.members,
            sampling=child.sampling if child.sampling is not None else self.sampling,
            seed=child.seed if child.seed is not None else self.seed,
            parameters=parameters,
        )

    def to_document(self) -> dict[str, Any]:
        """The block as written in a scenario file."""
        document: dict[str, Any] = {key: getattr(self, key) for key in ("members", "sampling",
                                                                          "seed")
                                    if getattr(self, key) is not None}
        if self.parameters is not None:
            document["parameters"] = {key: None if value is None else value.to_document()
                                      for key, value in self.parameters.items()}
        return document


def _distributions(raw: Any) -> dict[str, Distribution | None]:
    if isinstance(raw, (list, tuple)):
        return {reader.name(key, "uncertainty.parameters"): None for key in raw}
    result: dict[str, Distribution | None] = {}
    for key, value in dict(raw).items():
        where = f"uncertainty.parameters.{key}"
        reader.name(key, where)
        result[key] = value if isinstance(value, Distribution) else reader.parse_distribution(
            value, where)
    return result


def _uncertainty(raw: Any) -> Uncertainty | None:
    if raw is None or isinstance(raw, Uncertainty):
        return raw
    return reader.parse_uncertainty(raw, _ARGUMENTS)


def _interventions(raw: Sequence[Any]) -> tuple[Intervention, ...]:
    if isinstance(raw, (Mapping, str)):
        raise ScenarioError(f"interventions: expected a list (got {shown(raw)}). Pass a list of "
                            "interventions")
    return tuple(item if not isinstance(item, Mapping)
                 else reader.parse_intervention(item, _ARGUMENTS, f"interventions[{i}]")
                 for i, item in enumerate(raw))


@dataclass(frozen=True, slots=True, init=False)
class Scenario:
    """A model with parameter overrides, time-phased interventions, uncertainty and outputs.

    Build one in code or read one with :meth:`load`; every ``with_*`` method returns a changed
    copy, so a notebook can change one parameter and run again without touching files.

    Parameters
    ----------
    model
        A :class:`~pssc_sim.Model`, a model name (a folder under ``models/``) or a path.
    name, description
        Labels used in summaries, comparisons and plots.
    time
        Overrides of the model's time block (``start``, ``stop``, ``dt``, ``save_every``).
    method
        The integration method (``euler`` when not given).
    set
        Parameter values from the start, ``{name: number}``.
    interventions
        Interventions or their file form, e.g. ``{"step": "k", "by": 1, "at": 5}``.
    uncertainty
        An :class:`Uncertainty` or its file form; makes the run an ensemble.
    outputs
        The variables to record (all visible ones when not given).
    targets
        :class:`~pssc_sim.targets.definition.Target` values or their file form, e.g.
        ``{"measure": "mean_wait", "value": 8, "by": 52, "severity": "high"}``.
    culture
        0 (learning) .. 1 (blame); the model's ``CULTURE`` parameter (0.5) when not given.
    mechanisms
        Included gaming mechanisms switched on (``True``/``"on"``) or off by instance name; the
        same as setting ``<instance>_active`` to 1 or 0 (folded into ``set``).
    folder
        Where a model name or relative path is looked up (the scenario file's folder).

    Examples
    --------
    >>> from pathlib import Path
    >>> import pssc_sim
    >>> root = Path(pssc_sim.__file__).parent.parent
    >>> base = Scenario(model=root / "models" / "teacup", set={"room_temperature": 60})
    >>> warmer = base.with_set(room_temperature=75).with_intervention(
    ...     {"step": "characteristic_time", "by": 5, "at": 10})
    >>> result = warmer.run()
    >>> result["characteristic_time"].iloc[[0, -1]].tolist()  # stepped up at t=10
    [10.0, 15.0]
    >>> float(result["temperature_gap"].iloc[0])  # 180 - 75
    105.0
    """

    model: str | Path | Model | None
    name: str
    description: str
    time: Mapping[str, float]
    method: str | None
    set: Mapping[str, float]
    interventions: tuple[Intervention, ...]
    uncertainty: Uncertainty | None
    outputs: tuple[str, ...] | None
    folder: Path | None
    source: str
    targets: tuple[Target, ...]
    culture: float | None
    mechanisms: Mapping[str, bool]

    def __init__(self, model: str | Path | Model | None = None, name: str = "",
                 description: str = "", time: Mapping[str, float] | None = None,
                 method: str | None = None, set: Mapping[str, float] | None = None,
                 interventions: Sequence[Intervention | Mapping[str, Any]] = (),
                 uncertainty: Uncertainty | Mapping[str, Any] | None = None,
                 outputs: Sequence[str] | None = None, folder: str | Path | None = None,
                 source: str = "", targets: Sequence[Target | Mapping[str, Any]] = (),
                 culture: float | None = None,
                 mechanisms: Mapping[str, bool | str] | None = None) -> None:
        where = _ARGUMENTS
        if method is not None:
            reader.parse_method(method, where)
        switches = reader.parse_mechanisms(mechanisms or {}, where)
        values: dict[str, Any] = {
            "model": model, "name": name, "description": description,
            "time": MappingProxyType(reader.parse_time(time or {}, where)), "method": method,
            "set": MappingProxyType({**reader.parse_set(set or {}, where),
                                     **{reader.switch_name(k): float(on)
                                        for k, on in switches.items()}}),
            "mechanisms": MappingProxyType(switches),
            "interventions": _interventions(interventions),
            "uncertainty": _uncertainty(uncertainty),
            "outputs": None if outputs is None else reader.parse_outputs(list(outputs), where),
            "folder": None if folder is None else Path(folder), "source": source,
            "targets": reader.parse_targets(list(targets), where),
            "culture": None if culture is None else reader.parse_culture(culture, where),
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a scenario file (and those it extends), checked against its model."""
        return reader.load_scenario(path)

    @property
    def label(self) -> str:
        """The name shown in summaries and comparisons."""
        if self.name:
            return self.name
        if isinstance(self.model, Model):
            return self.model.name
        return Path(str(self.model)).stem if self.model is not None else "scenario"

    @property
    def is_ensemble(self) -> bool:
        """Whether running the scenario samples an ensemble."""
        return self.uncertainty is not None

    def layered(self, child: Scenario) -> Scenario:
        """``child`` over ``self``, as ``extends`` layers files: values ``child`` gives replace
        those of ``self`` (``time``, ``set`` and sampled parameters key by key, interventions
        parameter by parameter). Layering twice equals layering once."""
        uncertainty = self.uncertainty
        if child.uncertainty is not None:
            uncertainty = (child.uncertainty if uncertainty is None
                           else uncertainty.layered(child.uncertainty))
        takes_model = child.model is not None
        # a switch the child sets (by set or by mechanisms) replaces the parent's
        mechanisms = {k: v for k, v in self.mechanisms.items()
                      if reader.switch_name(k) not in child.set}
        return Scenario(
            model=child.model if takes_model else self.model,
            name=child.name or self.name,
            description=child.description or self.description,
            time={**self.time, **child.time},
            method=child.method or self.method,
            set={**self.set, **child.set},
            interventions=layer_interventions(self.interventions, child.interventions),
            uncertainty=uncertainty,
            outputs=child.outputs if child.outputs is not None else self.outputs,
            folder=child.folder if takes_model else self.folder,
            source=child.source or self.source,
            targets=layer_targets(self.targets, child.targets),
            culture=child.culture if child.culture is not None else self.culture,
            mechanisms={**mechanisms, **child.mechanisms},
        )

    def with_name(self, name: str) -> Scenario:
        """A copy called ``name``."""
        return replace(self, name=name)

    def with_set(self, **values: float) -> Scenario:
        """A copy with parameters set from the start (added to, or replacing, ``set``)."""
        mechanisms = {k: v for k, v in self.mechanisms.items()
                      if reader.switch_name(k) not in values}
        return replace(self, set={**self.set, **values}, mechanisms=mechanisms)

    def with_mechanisms(self, **switches: bool | str) -> Scenario:
        """A copy with included gaming mechanisms switched on or off by instance name.

        >>> Scenario(model="m").with_mechanisms(time_correction="off").set
        mappingproxy({'time_correction_active': 0.0})
        """
        added = reader.parse_mechanisms(switches, _ARGUMENTS)
        return replace(self, mechanisms={**self.mechanisms, **added})

    def with_intervention(self, *interventions: Intervention | Mapping[str, Any]) -> Scenario:
        """A copy with ``interventions`` appended (after those already there)."""
        return replace(self, interventions=(*self.interventions, *_interventions(interventions)))

    def with_time(self, **time: float) -> Scenario:
        """A copy with time overrides (``start``, ``stop``, ``dt``, ``save_every``)."""
        return replace(self, time={**self.time, **time})

    def with_method(self, method: str) -> Scenario:
        """A copy integrated with ``method``."""
        return replace(self, method=method)

    def with_uncertainty(self, uncertainty: Uncertainty | Mapping[str, Any] | None = None,
                         **fields: Any) -> Scenario:
        """A copy with ``uncertainty`` (or its fields, e.g. ``members=100``) layered on; with no
        arguments, a copy that runs once instead of as an ensemble."""
        if uncertainty is None and not fields:
            return replace(self, uncertainty=None)
        layer = _uncertainty(uncertainty if uncertainty is not None else fields)
        if layer is None:
            return replace(self, uncertainty=None)
        merged = layer if self.uncertainty is None else self.uncertainty.layered(layer)
        return replace(self, uncertainty=merged)

    def with_targets(self, *targets: Target | Mapping[str, Any]) -> Scenario:
        """A copy with ``targets`` added; a target on a measure already targeted replaces it."""
        added = reader.parse_targets(list(targets), _ARGUMENTS)
        return replace(self, targets=layer_targets(self.targets, added))

    def without_targets(self) -> Scenario:
        """A copy with no targets (the reference for a scorecard's unintended consequences)."""
        return replace(self, targets=())

    def with_culture(self, culture: float | None) -> Scenario:
        """A copy with ``culture`` (0 learning .. 1 blame; ``None`` for the model's default)."""
        value = None if culture is None else reader.parse_culture(culture, _ARGUMENTS)
        return replace(self, culture=value)

    def with_outputs(self, *names: str) -> Scenario:
        """A copy recording only ``names``."""
        return replace(self, outputs=tuple(names))

    def load_model(self) -> Model:
        """The model this scenario runs, before its interventions are applied."""
        if isinstance(self.model, Model):
            return self.model
        if self.model is None:
            raise ScenarioError(f"{reader.where_in(self.source)('model')}: no model is given "
                                "(got None). Pass model=<folder under models/ or a path>")
        where = reader.where_in(self.source)("model")
        path = reader.resolve_model(self.model, self.folder, where).resolve()
        file = path / "model.yaml" if path.is_dir() else path
        return _load(file, file.stat().st_mtime_ns)

    def check(self, model: Model | None = None) -> None:
        """Raise unless every name the scenario uses exists in its model."""
        reader.check_scenario_names(self, model if model is not None else self.load_model())

    def run(self, *, chunk: int = 4096, max_memory: int | None = None) -> ScenarioResult:
        """Run the scenario: one run, or the whole ensemble in one vectorised call, in at most
        ``max_memory`` bytes (default: a safe share of the machine)."""
        from pssc_sim.scenario.runner import run

        return run(self, chunk=chunk, max_memory=max_memory)

    def to_document(self) -> dict[str, Any]:
        """The scenario as a scenario-file mapping (a :class:`Model` object is named only)."""
        model = self.model.source or self.model.name if isinstance(self.model, Model) else (
            str(self.model) if self.model is not None else None)
        document: dict[str, Any] = {"scenario": self.name, "description": self.description,
                                    "model": model, "time": dict(self.time),
                                    "method": self.method, "set": dict(self.set),
                                    "interventions": [i.to_document() for i in self.interventions],
                                    "uncertainty": (self.uncertainty.to_document()
                                                    if self.uncertainty else None),
                                    "outputs": list(self.outputs) if self.outputs else None,
                                    "targets": [t.to_document() for t in self.targets],
                                    "culture": self.culture,
                                    "mechanisms": {k: "on" if v else "off"
                                                   for k, v in self.mechanisms.items()}}
        switches = {reader.switch_name(k) for k in self.mechanisms}
        document["set"] = {k: v for k, v in self.set.items() if k not in switches}
        return {key: value for key, value in document.items() if value not in (None, "", {}, [])}


def layer_targets(parent: Sequence[Target], child: Sequence[Target]) -> tuple[Target, ...]:
    """``child`` over ``parent``: a measure the child targets takes the child's target."""
    replaced = {t.measure for t in child}
    return (*(t for t in parent if t.measure not in replaced), *child)


@lru_cache(maxsize=16)
def _load(path: Path, modified: int) -> Model:
    # Cached (by path and modification time) so that rerunning a changed scenario reuses the
    # model and so its compiled kernel; an edited model file is read again.
    from pssc_sim.parse import load_model

    return load_model(path)
