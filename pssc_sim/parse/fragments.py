"""Model fragments (docs/gaming.md): reading and checking fragment files, and the library.

A fragment is a small model (parameters, stocks, flows, auxiliaries, lookups) with named
``inputs`` and documented ``outputs``; the library of gaming mechanisms is a folder of them
(``pssc_sim/library/gaming``). :mod:`pssc_sim.parse.includes` copies fragments into host models.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pssc_sim.errors import ModelError, did_you_mean, shown
from pssc_sim.parse.yaml_reader import read_yaml

#: The folder of the library of gaming mechanisms.
LIBRARY = Path(__file__).resolve().parent.parent / "library" / "gaming"
#: Model sections a fragment may hold.
SECTIONS = ("parameters", "stocks", "flows", "auxiliaries", "lookups")
_FRAGMENT_KEYS = (
    "fragment",
    "title",
    "description",
    "signature",
    "sources",
    "inputs",
    "outputs",
    *SECTIONS,
)
_INPUT_KEYS = ("kind", "description", "units")
#: The name of the switch inside a fragment's equations.
SWITCH = "active"
#: How the ``source`` of an instance's switch parameter starts (scenarios find instances by it).
SWITCH_SOURCE = "include."
#: The units placeholder of the host's time unit.
TIME_PLACEHOLDER = "time"
#: A units placeholder: ``[time]`` or ``[<input>]``.
PLACEHOLDER = re.compile(r"\[([A-Za-z_][A-Za-z0-9_]*)\]")


class InputKind(enum.Enum):
    """What an input of a fragment takes: a measure's name or a value (an expression)."""

    MEASURE = "measure"
    VALUE = "value"


@dataclass(frozen=True, slots=True)
class FragmentInput:
    """One input of a fragment: its kind, its units (may be empty) and what it means."""

    name: str
    kind: InputKind
    units: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Fragment:
    """A validated fragment file: documentation, inputs, outputs and its model sections."""

    name: str
    title: str
    description: str
    signature: str
    sources: tuple[str, ...]
    inputs: tuple[FragmentInput, ...]
    outputs: Mapping[str, str]
    sections: Mapping[str, Mapping[str, Any]]
    file: str

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Every name the fragment defines (all sections), in file order."""
        return tuple(name for section in SECTIONS for name in self.sections.get(section, {}))

    @property
    def parameters(self) -> Mapping[str, Mapping[str, Any]]:
        """The fragment's parameters as written (each a mapping with at least ``value``)."""
        return self.sections.get("parameters", {})

    def input(self, name: str) -> FragmentInput:
        """The input called ``name``."""
        return next(i for i in self.inputs if i.name == name)


def library_mechanisms() -> tuple[str, ...]:
    """The names of the mechanisms in the library, sorted.

    >>> "threshold_time_correction" in library_mechanisms()
    True
    """
    return tuple(sorted(p.stem for p in LIBRARY.glob("*.yaml")))


#: ``check_model(file, document)`` reads a model document and raises on any error in it: the
#: model reader hands itself over, so a fragment's equations are checked as a model's are.
ModelCheck = Callable[[str, Mapping[str, Any]], object]


def read_fragment(path: str | Path, check_model: ModelCheck) -> Fragment:
    """Read and validate a fragment file, its equations checked with ``check_model`` (see
    :func:`pssc_sim.parse.documents.load_fragment`)."""
    file = Path(path).resolve()
    if not file.is_file():
        raise ModelError(
            f"{path}: no fragment file there (got {shown(str(path))}). Give the "
            "path of "
            "a fragment .yaml file"
        )
    return _read_fragment(file, file.stat().st_mtime_ns, check_model)


@lru_cache(maxsize=64)
def _read_fragment(file: Path, modified: int, check_model: ModelCheck) -> Fragment:
    return _FragmentReader(str(file), read_yaml(file), check_model).read()


class _FragmentReader:
    """Validates one fragment document; errors name the fragment file and the key."""

    def __init__(self, file: str, document: Any, check_model: ModelCheck) -> None:
        self.file = file
        self.document = document
        self.check_model = check_model

    def error(self, path: str, message: str) -> ModelError:
        return ModelError(f"{self.file}: {path}: {message}")

    def read(self) -> Fragment:
        document = self.document
        if not isinstance(document, Mapping):
            raise ModelError(
                f"{self.file}: a fragment file must be a YAML mapping (got "
                f"{type(document).__name__}). Start with 'fragment: name'"
            )
        for key in document:
            if key not in _FRAGMENT_KEYS:
                hint = did_you_mean(str(key), _FRAGMENT_KEYS) or (
                    f" Allowed keys: {', '.join(_FRAGMENT_KEYS)}."
                )
                raise self.error(str(key), f"unknown key {shown(key)}.{hint}")
        inputs = self.inputs(document.get("inputs"))
        sections = {s: self.section(s) for s in SECTIONS if document.get(s) is not None}
        names = [n for entries in sections.values() for n in entries]
        self.check_names(sections, inputs)
        self.check_units(sections, inputs)
        self.check_equations(sections, inputs)
        outputs = self.outputs(document.get("outputs"), names)
        sources = document.get("sources") or []
        if not isinstance(sources, list):
            raise self.error(
                "sources",
                f"expected a list of references (got {shown(sources)}). "
                "Write sources: ['Author (year), title']",
            )
        return Fragment(
            name=str(document.get("fragment") or Path(self.file).stem),
            title=str(document.get("title") or ""),
            description=" ".join(str(document.get("description") or "").split()),
            signature=" ".join(str(document.get("signature") or "").split()),
            sources=tuple(str(s) for s in sources),
            inputs=inputs,
            outputs=MappingProxyType(outputs),
            sections=MappingProxyType({k: MappingProxyType(v) for k, v in sections.items()}),
            file=self.file,
        )

    def inputs(self, raw: Any) -> tuple[FragmentInput, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, Mapping):
            raise self.error(
                "inputs",
                f"expected a mapping of input names (got {shown(raw)}). "
                "Write inputs: {measure: {kind: measure}}",
            )
        result = []
        for name, spec in raw.items():
            path = f"inputs.{name}"
            spec = {} if spec is None else spec
            if not isinstance(spec, Mapping):
                raise self.error(
                    path,
                    f"expected a mapping (got {shown(spec)}). Write {name}: "
                    "{kind: value, description: ...}",
                )
            for key in spec:
                if key not in _INPUT_KEYS:
                    hint = did_you_mean(str(key), _INPUT_KEYS) or (
                        f" Allowed keys: {', '.join(_INPUT_KEYS)}."
                    )
                    raise self.error(f"{path}.{key}", f"unknown key {shown(key)}.{hint}")
            kind = spec.get("kind", "value")
            options = [k.value for k in InputKind]
            if kind not in options:
                hint = did_you_mean(str(kind), options) or " Use measure or value."
                raise self.error(f"{path}.kind", f"unknown kind {shown(kind)}.{hint}")
            result.append(
                FragmentInput(
                    str(name),
                    InputKind(kind),
                    str(spec.get("units", "")),
                    str(spec.get("description", "")),
                )
            )
        return tuple(result)

    def section(self, section: str) -> dict[str, Any]:
        raw = self.document[section]
        if not isinstance(raw, Mapping):
            raise self.error(
                section,
                f"expected a mapping of names to entries (got "
                f"{type(raw).__name__}). Write '{section}:' then 'name: ...'",
            )
        return {str(name): value for name, value in raw.items()}

    def check_names(
        self, sections: Mapping[str, Mapping[str, Any]], inputs: tuple[FragmentInput, ...]
    ) -> None:
        reserved = {i.name for i in inputs} | {SWITCH}
        for section, entries in sections.items():
            for name in entries:
                if name in reserved:
                    what = "the switch" if name == SWITCH else "an input of the fragment"
                    raise self.error(
                        f"{section}.{name}",
                        f"the name {shown(name)} is {what} (got "
                        f"{shown(name)}). Rename the variable",
                    )

    def check_units(
        self, sections: Mapping[str, Mapping[str, Any]], inputs: tuple[FragmentInput, ...]
    ) -> None:
        known = {i.name for i in inputs} | {TIME_PLACEHOLDER}
        for section, entries in sections.items():
            for name, entry in entries.items():
                units = entry.get("units", "") if isinstance(entry, Mapping) else ""
                for placeholder in PLACEHOLDER.findall(str(units)):
                    if placeholder not in known:
                        hint = did_you_mean(placeholder, known)
                        raise self.error(
                            f"{section}.{name}.units",
                            f"unknown units placeholder '[{placeholder}]'.{hint} "
                            f"Use [time] or the name of an input in brackets",
                        )

    def check_equations(
        self, sections: Mapping[str, Mapping[str, Any]], inputs: tuple[FragmentInput, ...]
    ) -> None:
        """Read the fragment as a model of its own, inputs as parameters (and measures), so
        every equation error names the fragment file and the key."""
        parameters: dict[str, Any] = {i.name: 1 for i in inputs}
        parameters[SWITCH] = 1
        parameters.update(sections.get("parameters", {}))
        measures = {
            i.name: {
                "perspective": "outcome",
                "better": "higher",
                "distribution": {"kind": "normal", "sd": 1},
            }
            for i in inputs
            if i.kind is InputKind.MEASURE
        }
        document = {**sections, "parameters": parameters, "measures": measures, "time": {"stop": 1}}
        self.check_model(self.file, document)

    def outputs(self, raw: Any, names: list[str]) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise self.error(
                "outputs",
                f"expected a mapping of names to descriptions (got "
                f"{shown(raw)}). Write outputs: {{reported: 'what it is'}}",
            )
        for name in raw:
            if name not in names:
                hint = did_you_mean(str(name), names) or " Name a variable of the fragment."
                raise self.error(
                    f"outputs.{name}", f"{shown(name)} is not a variable of the fragment.{hint}"
                )
        return {str(k): " ".join(str(v or "").split()) for k, v in raw.items()}
