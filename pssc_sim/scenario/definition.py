"""Scenarios as values: :class:`Scenario`, built in code or read from
files, layered with ``extends`` semantics and changed with ``with_*`` methods (each returns a new
scenario; nothing is modified in place)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pssc_sim.errors import did_you_mean, shown
from pssc_sim.ir.model import Model
from pssc_sim.scenario import fields, reader
from pssc_sim.scenario.interventions import Intervention, layer_interventions
from pssc_sim.scenario.runner import ScenarioResult, run
from pssc_sim.scenario.schema import ScenarioError
from pssc_sim.scenario.targets import Target
from pssc_sim.scenario.uncertainty import Uncertainty, parse_uncertainty, with_calibrations

#: Messages about Python arguments name the argument alone (a file's name its file and key).
_ARGUMENTS = fields.where_in("")
#: The value of each field when it is not given.
_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "model": None,
        "name": "",
        "description": "",
        "time": {},
        "method": None,
        "set": {},
        "interventions": (),
        "uncertainty": None,
        "outputs": None,
        "folder": None,
        "source": "",
        "targets": (),
        "culture": None,
        "mechanisms": {},
        "compute": {},
    }
)


def _uncertainty(raw: Any) -> Uncertainty | None:
    if raw is None or isinstance(raw, Uncertainty):
        return raw
    return parse_uncertainty(raw, _ARGUMENTS)


def _interventions(raw: Sequence[Any]) -> tuple[Intervention, ...]:
    if isinstance(raw, (Mapping, str)):
        raise ScenarioError(
            f"interventions: expected a list (got {shown(raw)}). Pass a list of interventions"
        )
    return tuple(
        item
        if not isinstance(item, Mapping)
        else fields.parse_intervention(item, _ARGUMENTS, f"interventions[{i}]")
        for i, item in enumerate(raw)
    )


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
        :class:`~pssc_sim.scenario.targets.Target` values or their file form, e.g.
        ``{"measure": "mean_wait", "value": 8, "by": 52, "severity": "high"}``.
    culture
        0 (learning) .. 1 (blame); the model's ``CULTURE`` parameter (0.5) when not given.
    mechanisms
        Included gaming mechanisms switched on (``True``/``"on"``) or off by instance name; the
        same as setting ``<instance>_active`` to 1 or 0 (folded into ``set``).
    folder
        Where a model name or relative path is looked up (the scenario file's folder).
    compute
        Where the runs go: ``{"scheduler": "tcp://host:8786"}`` (a Dask cluster) or
        ``{"workers": 2}`` (local worker processes); empty runs here. The command line's
        ``--scheduler`` and ``--workers`` take precedence.

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
    compute: Mapping[str, Any]

    def __init__(
        self,
        model: str | Path | Model | None = None,
        name: str = "",
        description: str = "",
        time: Mapping[str, float] | None = None,
        method: str | None = None,
        set: Mapping[str, float] | None = None,
        interventions: Sequence[Intervention | Mapping[str, Any]] = (),
        uncertainty: Uncertainty | Mapping[str, Any] | None = None,
        outputs: Sequence[str] | None = None,
        folder: str | Path | None = None,
        source: str = "",
        targets: Sequence[Target | Mapping[str, Any]] = (),
        culture: float | None = None,
        mechanisms: Mapping[str, bool | str] | None = None,
        compute: Mapping[str, Any] | None = None,
    ) -> None:
        where = _ARGUMENTS
        if method is not None:
            fields.parse_method(method, where)
        self._assign(
            {
                "model": model,
                "name": name,
                "description": description,
                "time": fields.parse_time(time or {}, where),
                "method": method,
                "set": fields.parse_set(set or {}, where),
                "mechanisms": fields.parse_mechanisms(mechanisms or {}, where),
                "interventions": _interventions(interventions),
                "uncertainty": _uncertainty(uncertainty),
                "outputs": None if outputs is None else fields.parse_outputs(list(outputs), where),
                "folder": folder,
                "source": source,
                "targets": fields.parse_targets(list(targets), where),
                "culture": None if culture is None else fields.parse_culture(culture, where),
                "compute": fields.parse_compute(compute, where) if compute else {},
            }
        )

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Scenario:
        """A scenario from field values already parsed and checked, as the file reader makes
        them (:func:`pssc_sim.scenario.reader.scenario_arguments`): nothing is parsed again."""
        scenario = cls.__new__(cls)
        scenario._assign(values)
        return scenario

    def _changed(self, **changes: Any) -> Scenario:
        """A copy with the parsed ``changes``."""
        values = {field.name: getattr(self, field.name) for field in dataclass_fields(self)}
        return Scenario.from_values({**values, **changes})

    def _assign(self, values: Mapping[str, Any]) -> None:
        """Set every field from parsed ``values`` (the defaults for those not given); the
        switches of ``mechanisms`` are folded into ``set``."""
        given = {**_DEFAULTS, **values}
        switches = dict(given["mechanisms"])
        given["set"] = MappingProxyType(
            {**given["set"], **{fields.switch_name(k): float(on) for k, on in switches.items()}}
        )
        given["mechanisms"] = MappingProxyType(switches)
        given["time"] = MappingProxyType(dict(given["time"]))
        given["folder"] = None if given["folder"] is None else Path(given["folder"])
        given["compute"] = MappingProxyType(dict(given["compute"]))
        for key, value in given.items():
            object.__setattr__(self, key, value)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a scenario file (and those it extends), checked against its model."""
        return load_scenario(path)

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
            uncertainty = (
                child.uncertainty if uncertainty is None else uncertainty.layered(child.uncertainty)
            )
        takes_model = child.model is not None
        # a switch the child sets (by set or by mechanisms) replaces the parent's
        mechanisms = {
            k: v for k, v in self.mechanisms.items() if fields.switch_name(k) not in child.set
        }
        return Scenario.from_values(
            {
                "model": child.model if takes_model else self.model,
                "name": child.name or self.name,
                "description": child.description or self.description,
                "time": {**self.time, **child.time},
                "method": child.method or self.method,
                "set": {**self.set, **child.set},
                "interventions": layer_interventions(self.interventions, child.interventions),
                "uncertainty": uncertainty,
                "outputs": child.outputs if child.outputs is not None else self.outputs,
                "folder": child.folder if takes_model else self.folder,
                "source": child.source or self.source,
                "targets": layer_targets(self.targets, child.targets),
                "culture": child.culture if child.culture is not None else self.culture,
                "mechanisms": {**mechanisms, **child.mechanisms},
                "compute": child.compute or self.compute,
            }
        )

    def with_name(self, name: str) -> Scenario:
        """A copy called ``name``."""
        return self._changed(name=name)

    def with_set(self, **values: float) -> Scenario:
        """A copy with parameters set from the start (added to, or replacing, ``set``)."""
        mechanisms = {
            k: v for k, v in self.mechanisms.items() if fields.switch_name(k) not in values
        }
        return self._changed(
            set={**self.set, **fields.parse_set(values, _ARGUMENTS)}, mechanisms=mechanisms
        )

    def with_held(self, **values: float) -> Scenario:
        """A copy with each parameter at its value for the whole run: set from the start, and
        the interventions that schedule it dropped, so no intervention date overrides it (what
        ``pssc run --set`` does). A parameter without interventions is set as by
        :meth:`with_set`.

        >>> s = Scenario(model="m", interventions=[{"set": "k", "to": 5, "at": 2}])
        >>> held = s.with_held(k=3)
        >>> dict(held.set), held.interventions
        ({'k': 3.0}, ())
        """
        held = self.with_set(**values)
        kept = tuple(i for i in held.interventions if i.parameter not in values)
        return held._changed(interventions=kept)

    def with_scaled(self, **factors: float) -> Scenario:
        """A copy with each parameter's value in every period of its schedule multiplied by
        its factor: the value it starts from (the scenario's ``set``, else the model's) and
        every level its interventions set or add (what ``pssc run --scale`` does). Doubling a
        budget that an intervention raises at a date doubles it before and after that date.

        >>> from pathlib import Path
        >>> import pssc_sim
        >>> root = Path(pssc_sim.__file__).parent.parent
        >>> s = Scenario(model=root / "models" / "teacup").with_intervention(
        ...     {"step": "characteristic_time", "by": 5, "at": 10})
        >>> doubled = s.with_scaled(characteristic_time=2)
        >>> dict(doubled.set), doubled.interventions[0].by
        ({'characteristic_time': 20.0}, 10.0)
        """
        model = self.load_model()
        parameters = {p.name: p for p in model.parameters if not p.hidden}
        checked = fields.parse_set(factors, _ARGUMENTS)
        start = {}
        for name, factor in checked.items():
            parameter = parameters.get(name)
            if parameter is None or parameter.dims:
                what = "an arrayed parameter" if parameter is not None else "no such parameter"
                raise ScenarioError(
                    f"scale: '{name}' cannot be scaled ({what} of {model.source or model.name})."
                    f"{did_you_mean(name, parameters) if parameter is None else ''} Scale a "
                    "parameter that holds one number, or set its elements in the model"
                )
            start[name] = self.set.get(name, parameter.value) * factor
        interventions = tuple(
            i.scaled(checked[i.parameter]) if i.parameter in checked else i
            for i in self.interventions
        )
        return self._changed(set={**self.set, **start}, interventions=interventions)

    def with_mechanisms(self, **switches: bool | str) -> Scenario:
        """A copy with included gaming mechanisms switched on or off by instance name.

        >>> Scenario(model="m").with_mechanisms(time_correction="off").set
        mappingproxy({'time_correction_active': 0.0})
        """
        added = fields.parse_mechanisms(switches, _ARGUMENTS)
        return self._changed(mechanisms={**self.mechanisms, **added})

    def with_intervention(self, *interventions: Intervention | Mapping[str, Any]) -> Scenario:
        """A copy with ``interventions`` appended (after those already there)."""
        return self._changed(interventions=(*self.interventions, *_interventions(interventions)))

    def with_time(self, **time: float) -> Scenario:
        """A copy with time overrides (``start``, ``stop``, ``dt``, ``save_every``)."""
        return self._changed(time={**self.time, **fields.parse_time(time, _ARGUMENTS)})

    def with_method(self, method: str) -> Scenario:
        """A copy integrated with ``method``."""
        return self._changed(method=fields.parse_method(method, _ARGUMENTS))

    def with_uncertainty(
        self, uncertainty: Uncertainty | Mapping[str, Any] | None = None, **fields: Any
    ) -> Scenario:
        """A copy with ``uncertainty`` (or its fields, e.g. ``members=100``) layered on; with no
        arguments, a copy that runs once instead of as an ensemble."""
        if uncertainty is None and not fields:
            return self._changed(uncertainty=None)
        layer = _uncertainty(uncertainty if uncertainty is not None else fields)
        if layer is None:
            return self._changed(uncertainty=None)
        merged = layer if self.uncertainty is None else self.uncertainty.layered(layer)
        return self._changed(uncertainty=merged)

    def with_targets(self, *targets: Target | Mapping[str, Any]) -> Scenario:
        """A copy with ``targets`` added; a target on a measure already targeted replaces it."""
        added = fields.parse_targets(list(targets), _ARGUMENTS)
        return self._changed(targets=layer_targets(self.targets, added))

    def without_targets(self) -> Scenario:
        """A copy with no targets (the reference for a scorecard's unintended consequences)."""
        return self._changed(targets=())

    def with_culture(self, culture: float | None) -> Scenario:
        """A copy with ``culture`` (0 learning .. 1 blame; ``None`` for the model's default)."""
        value = None if culture is None else fields.parse_culture(culture, _ARGUMENTS)
        return self._changed(culture=value)

    def with_outputs(self, *names: str) -> Scenario:
        """A copy recording only ``names``."""
        return self._changed(outputs=tuple(names))

    def load_model(self) -> Model:
        """The model this scenario runs, before its interventions are applied."""
        if isinstance(self.model, Model):
            return self.model
        if self.model is None:
            raise ScenarioError(
                f"{fields.where_in(self.source)('model')}: no model is given "
                "(got None). Pass model=<folder under models/ or a path>"
            )
        where = fields.where_in(self.source)("model")
        path = reader.resolve_model(self.model, self.folder, where).resolve()
        file = path / "model.yaml" if path.is_dir() else path
        return _load(file, file.stat().st_mtime_ns)

    def check(self, model: Model | None = None) -> None:
        """Raise unless every name the scenario uses exists in its model."""
        reader.check_scenario_names(self, model if model is not None else self.load_model())

    def run(
        self, *, chunk: int = 4096, max_memory: int | None = None, scheduler: Any = None
    ) -> ScenarioResult:
        """Run the scenario: one run, or the whole ensemble in one vectorised call, in at most
        ``max_memory`` bytes (default: a safe share of the machine), here or on the Dask
        cluster ``scheduler`` (see :func:`~pssc_sim.simulate`: by default the Dask client
        current in this process, if there is one; ``False``, here)."""
        return run(self, chunk=chunk, max_memory=max_memory, scheduler=scheduler)

    def to_document(self) -> dict[str, Any]:
        """The scenario as a scenario-file mapping (a :class:`Model` object is named only)."""
        model = (
            self.model.source or self.model.name
            if isinstance(self.model, Model)
            else (str(self.model) if self.model is not None else None)
        )
        document: dict[str, Any] = {
            "scenario": self.name,
            "description": self.description,
            "model": model,
            "time": dict(self.time),
            "method": self.method,
            "set": dict(self.set),
            "interventions": [i.to_document() for i in self.interventions],
            "uncertainty": (self.uncertainty.to_document() if self.uncertainty else None),
            "outputs": list(self.outputs) if self.outputs else None,
            "targets": [t.to_document() for t in self.targets],
            "culture": self.culture,
            "mechanisms": {k: "on" if v else "off" for k, v in self.mechanisms.items()},
            "compute": dict(self.compute),
        }
        switches = {fields.switch_name(k) for k in self.mechanisms}
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


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file and the files it extends, checked against its model.

    Examples
    --------
    >>> from pathlib import Path
    >>> import pssc_sim
    >>> root = Path(pssc_sim.__file__).parent.parent
    >>> load_scenario(root / "scenarios" / "sir" / "baseline.yaml").name
    'baseline'
    """
    layers: list[Scenario] = []
    for file, document in reader.scenario_chain(path):
        where = fields.where_in(str(file))
        arguments = reader.scenario_arguments(
            with_calibrations(document, file.parent, where), where
        )
        arguments.pop("extends", None)
        arguments.setdefault("name", file.stem)
        layers.append(
            Scenario.from_values({**arguments, "folder": file.parent, "source": str(file)})
        )
    scenario = layers[0]
    for layer in layers[1:]:
        scenario = scenario.layered(layer)
    if scenario.model is None:
        raise ScenarioError(
            f"{path}: model: no model is given (got nothing). Add 'model: "
            "<folder under models/>' here or in the scenario it extends"
        )
    model = scenario.load_model()
    for layer in layers:
        layer.check(model)
    return scenario


def run_scenario(
    path: str | Path, *, chunk: int = 4096, max_memory: int | None = None
) -> ScenarioResult:
    """Read and run a scenario file.

    Examples
    --------
    >>> from pathlib import Path
    >>> import pssc_sim as ps
    >>> root = Path(ps.__file__).parent.parent
    >>> result = ps.run_scenario(root / "scenarios" / "teacup" / "baseline.yaml")
    >>> result.results.is_ensemble
    False
    """
    return Scenario.load(path).run(chunk=chunk, max_memory=max_memory)
