"""The uncertainty block of a scenario: what makes it an ensemble, read and checked once."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pssc_sim.errors import did_you_mean, shown
from pssc_sim.scenario.fields import (
    Where,
    check_keys,
    mapping,
    name,
    number,
    parse_distribution,
    where_in,
)
from pssc_sim.scenario.joint import JointNormal
from pssc_sim.scenario.sampling import Distribution
from pssc_sim.scenario.schema import JOINT_KEYS, SAMPLING_NAMES, UNCERTAINTY_KEYS, ScenarioError

#: Sampling used when an uncertainty block does not name one.
DEFAULT_SAMPLING = "latin-hypercube"


@dataclass(frozen=True, slots=True, init=False)
class Uncertainty:
    """What makes a scenario an ensemble. Unset fields (``None``) inherit when layered.

    ``parameters`` maps each sampled parameter to its :class:`Distribution`, or to ``None`` to use
    the distribution or range written in the model file. Without ``parameters``, every model
    parameter with a ``distribution`` or ``range`` is sampled. ``joint`` holds the parameters
    drawn together (:class:`~pssc_sim.scenario.joint.JointNormal`), none of them also under
    ``parameters``.

    Examples
    --------
    >>> Uncertainty(members=100, seed=1).layered(Uncertainty(members=10)).members
    10
    """

    members: int | None
    sampling: str | None
    seed: int | None
    parameters: Mapping[str, Distribution | None] | None
    joint: tuple[JointNormal, ...] | None

    def __init__(
        self,
        members: int | None = None,
        sampling: str | None = None,
        seed: int | None = None,
        parameters: Mapping[str, Distribution | Mapping[str, Any] | None]
        | Sequence[str]
        | None = None,
        joint: Sequence[JointNormal | Mapping[str, Any]] | None = None,
    ) -> None:
        where = where_in("")
        check_settings(members, sampling, seed, where)
        for key, value in (("members", members), ("sampling", sampling), ("seed", seed)):
            object.__setattr__(self, key, value)
        object.__setattr__(
            self,
            "parameters",
            None if parameters is None else MappingProxyType(_distributions(parameters, where)),
        )
        object.__setattr__(self, "joint", None if joint is None else _joints(joint, where))
        check_joint(self.parameters, self.joint, where)

    @property
    def joint_names(self) -> tuple[str, ...]:
        """The parameters drawn jointly, in the order of the ``joint`` blocks."""
        return tuple(n for block in self.joint or () for n in block.parameters)

    def require_independent(self, what: str, source: str = "") -> None:
        """Raise unless every sampled parameter is drawn on its own: ``what`` (an analysis
        that needs independent inputs) cannot take a joint draw; ``source`` names the
        scenario."""
        if self.joint:
            raise ScenarioError(
                f"{where_in(source)('uncertainty.joint')}: {what} needs independent inputs "
                f"(got {', '.join(self.joint_names)} drawn jointly). Leave them out of the "
                "analysis, or sample them each on its own under uncertainty.parameters"
            )

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
            joint=child.joint if child.joint is not None else self.joint,
        )

    def to_document(self) -> dict[str, Any]:
        """The block as written in a scenario file."""
        document: dict[str, Any] = {
            key: getattr(self, key)
            for key in ("members", "sampling", "seed")
            if getattr(self, key) is not None
        }
        if self.parameters is not None:
            document["parameters"] = {
                key: None if value is None else value.to_document()
                for key, value in self.parameters.items()
            }
        if self.joint is not None:
            document["joint"] = [block.to_document() for block in self.joint]
        return document


def parse_uncertainty(raw: Any, where: Where) -> Uncertainty:
    """The ``uncertainty`` block: members, sampling, seed, parameters and joint."""
    block = mapping(raw, where("uncertainty"), "uncertainty: {members: 1000, seed: 42}")
    check_keys(block, UNCERTAINTY_KEYS, where, "uncertainty")
    members, sampling, seed = block.get("members"), block.get("sampling"), block.get("seed")
    check_settings(members, sampling, seed, where)
    parameters = (
        _distributions(block["parameters"], where) if block.get("parameters") is not None else None
    )
    joint = _joints(block["joint"], where) if block.get("joint") is not None else None
    check_joint(parameters, joint, where)
    return Uncertainty(members, sampling, seed, parameters, joint)


def check_settings(members: Any, sampling: Any, seed: Any, where: Where) -> None:
    """Raise unless ``members`` (>= 1) and ``seed`` (>= 0) are whole numbers or unset and
    ``sampling`` names a sampling: the one check of both the file and the Python form."""
    for key, value in (("members", members), ("seed", seed)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < (1 if key == "members" else 0)
        ):
            raise ScenarioError(
                f"{where(f'uncertainty.{key}')}: expected a whole number of at "
                f"least {1 if key == 'members' else 0} (got {shown(value)}). Write "
                f"{key}: {1000 if key == 'members' else 42}"
            )
    if sampling is not None and sampling not in SAMPLING_NAMES:
        raise ScenarioError(
            f"{where('uncertainty.sampling')}: unknown sampling {shown(sampling)}."
            f"{did_you_mean(str(sampling), SAMPLING_NAMES)} Use one of: "
            f"{', '.join(SAMPLING_NAMES)}"
        )


def _distributions(raw: Any, where: Where) -> dict[str, Distribution | None]:
    """Sampled parameters: a list of names (each sampled as its model declares), or names with
    their distributions (:class:`Distribution` values or their file form)."""
    path = "uncertainty.parameters"
    if isinstance(raw, (list, tuple)):
        return {name(item, where(path)): None for item in raw}
    block = mapping(raw, where(path), "parameters: {k: {distribution: uniform, low: 1, high: 2}}")
    return {
        name(key, where(f"{path}.{key}")): value
        if isinstance(value, Distribution)
        else parse_distribution(value, where(f"{path}.{key}"))
        for key, value in block.items()
    }


def _joints(raw: Any, where: Where) -> tuple[JointNormal, ...]:
    """The ``joint`` blocks: :class:`JointNormal` values or their file form."""
    if not isinstance(raw, (list, tuple)):
        raise ScenarioError(
            f"{where('uncertainty.joint')}: expected a list of joint draws (got "
            f"{shown(raw)}). Write joint: [{{parameters: [a, b], distribution: normal, "
            "mean: [1, 2], covariance: [[1, 0.5], [0.5, 1]]}]"
        )
    return tuple(
        entry if isinstance(entry, JointNormal) else _joint(entry, where, f"uncertainty.joint[{i}]")
        for i, entry in enumerate(raw)
    )


def _joint(raw: Any, where: Where, path: str) -> JointNormal:
    example = "{parameters: [a, b], mean: [1, 2], covariance: [[1, 0.5], [0.5, 1]]}"
    entry = mapping(raw, where(path), example)
    if "from_calibration" in entry:
        raise ScenarioError(
            f"{where(f'{path}.from_calibration')}: a calibration file is read only from a "
            f"scenario file, relative to its folder (got {shown(entry['from_calibration'])}). "
            "Give the mean and covariance here"
        )
    check_keys(entry, JOINT_KEYS, where, path)
    for key in ("parameters", "mean", "covariance"):
        if key not in entry:
            raise ScenarioError(
                f"{where(f'{path}.{key}')}: '{key}' is required (got nothing). Write {example}"
            )
    kind = entry.get("distribution", "normal")
    if kind != "normal":
        raise ScenarioError(
            f"{where(f'{path}.distribution')}: a joint draw is a multivariate normal (got "
            f"{shown(kind)}). Write distribution: normal"
        )
    names = entry["parameters"]
    if not isinstance(names, list):
        raise ScenarioError(
            f"{where(f'{path}.parameters')}: expected a list of parameter names (got "
            f"{shown(names)}). Write parameters: [a, b]"
        )
    checked = [name(n, where(f"{path}.parameters[{i}]")) for i, n in enumerate(names)]
    numbers = {key: _plain(entry.get(key), where(f"{path}.{key}")) for key in JOINT_KEYS[2:]}
    try:
        return JointNormal(checked, **numbers)
    except ScenarioError as exc:
        raise ScenarioError(f"{where(path)}.{exc}") from None


def _plain(raw: Any, where: str) -> Any:
    """YAML numerals (2e6 reads as text) as numbers, in the lists of a joint block."""
    if isinstance(raw, list):
        return [_plain(item, where) for item in raw]
    if raw is None or isinstance(raw, (bool, int, float)):
        return raw
    return number(raw, where)


def check_joint(
    parameters: Mapping[str, Any] | None, joint: Sequence[JointNormal] | None, where: Where
) -> None:
    """Raise if a parameter is drawn twice: in two joint blocks, or jointly and on its own."""
    seen: set[str] = set()
    for i, block in enumerate(joint or ()):
        for key in block.parameters:
            if key in (parameters or {}):
                raise ScenarioError(
                    f"{where(f'uncertainty.joint[{i}].parameters')}: {shown(key)} is also "
                    f"under uncertainty.parameters (got it drawn twice). Keep it in one place"
                )
            if key in seen:
                raise ScenarioError(
                    f"{where(f'uncertainty.joint[{i}].parameters')}: {shown(key)} is in two "
                    "joint blocks (got it drawn twice). Put the parameters drawn together "
                    "in one block"
                )
            seen.add(key)


#: The largest calibration file a joint block reads (``pssc calibrate --json`` writes a few KiB).
CALIBRATION_BYTES = 1 << 20


def with_calibrations(document: Mapping[str, Any], folder: Path, where: Where) -> Mapping[str, Any]:
    """``document`` with each joint block's ``from_calibration: PATH`` (a JSON file written by
    ``pssc calibrate --json``, relative to ``folder``) replaced by the estimates and covariance
    it holds for the block's parameters, and their bounds unless the block gives its own."""
    block = document.get("uncertainty")
    joint = block.get("joint") if isinstance(block, Mapping) else None
    if not isinstance(joint, list) or not any(
        isinstance(entry, Mapping) and "from_calibration" in entry for entry in joint
    ):
        return document
    resolved = [
        _calibrated(entry, folder, where, f"uncertainty.joint[{i}]")
        if isinstance(entry, Mapping) and "from_calibration" in entry
        else entry
        for i, entry in enumerate(joint)
    ]
    return {**document, "uncertainty": {**block, "joint": resolved}}  # type: ignore[dict-item]


def _calibrated(entry: Mapping[str, Any], folder: Path, where: Where, path: str) -> dict[str, Any]:
    key = f"{path}.from_calibration"
    given = [k for k in ("mean", "covariance") if k in entry]
    if given:
        raise ScenarioError(
            f"{where(key)}: give from_calibration or {' and '.join(given)}, not both (got "
            f"both). Remove {given[0]}"
        )
    data = _calibration_file(entry["from_calibration"], folder, where(key))
    names = entry.get("parameters")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ScenarioError(
            f"{where(f'{path}.parameters')}: expected a list of parameter names (got "
            f"{shown(names)}). Write parameters: [a, b]"
        )
    estimates, covariance = data.get("parameters"), data.get("covariance")
    if not isinstance(estimates, Mapping) or not isinstance(covariance, Mapping):
        raise ScenarioError(
            f"{where(key)}: not a calibration with a covariance (got keys "
            f"{', '.join(map(str, data)) or 'none'}). Write it with pssc calibrate ... --json"
        )
    missing = [n for n in names if n not in estimates or n not in covariance]
    if missing:
        raise ScenarioError(
            f"{where(key)}: the calibration did not fit {', '.join(missing)} (got "
            f"{', '.join(map(str, estimates))}). Draw only fitted parameters from it"
        )
    out = {k: v for k, v in entry.items() if k != "from_calibration"}
    out["mean"] = [estimates[n].get("estimate") for n in names]
    out["covariance"] = [[covariance[a].get(b) for b in names] for a in names]
    bounds = [estimates[n].get("bounds") or [None, None] for n in names]
    out.setdefault("low", [b[0] for b in bounds])
    out.setdefault("high", [b[1] for b in bounds])
    return out


def _calibration_file(raw: Any, folder: Path, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, str) or not raw.endswith(".json"):
        raise ScenarioError(
            f"{where}: expected the path of a .json file written by pssc calibrate --json "
            f"(got {shown(raw)}). Write from_calibration: calibration.json"
        )
    file = folder / raw
    try:
        size = file.stat().st_size
        if size > CALIBRATION_BYTES:
            raise ScenarioError(
                f"{where}: {file} is too large for a calibration ({size:,} bytes, at most "
                f"{CALIBRATION_BYTES:,}) (got {shown(raw)}). Give the file pssc calibrate "
                "--json wrote"
            )
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(
            f"{where}: cannot read {file} ({exc.strerror}) (got {shown(raw)}). Give a path "
            "relative to the scenario's folder"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(
            f"{where}: {file} is not JSON ({exc}) (got {shown(raw)}). Give the file pssc "
            "calibrate --json wrote"
        ) from None
    if not isinstance(data, Mapping):
        raise ScenarioError(
            f"{where}: {file} is not a calibration (got {type(data).__name__}). Give the file "
            "pssc calibrate --json wrote"
        )
    return data
