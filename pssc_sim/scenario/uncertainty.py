"""The uncertainty block of a scenario: what makes it an ensemble, read and checked once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pssc_sim.errors import did_you_mean
from pssc_sim.scenario.fields import Where, check_keys, mapping, name, parse_distribution, where_in
from pssc_sim.scenario.sampling import Distribution
from pssc_sim.scenario.schema import SAMPLING_NAMES, UNCERTAINTY_KEYS, ScenarioError

#: Sampling used when an uncertainty block does not name one.
DEFAULT_SAMPLING = "latin-hypercube"


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

    def __init__(
        self,
        members: int | None = None,
        sampling: str | None = None,
        seed: int | None = None,
        parameters: Mapping[str, Distribution | Mapping[str, Any] | None]
        | Sequence[str]
        | None = None,
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
        return document


def parse_uncertainty(raw: Any, where: Where) -> Uncertainty:
    """The ``uncertainty`` block: members, sampling, seed and parameters."""
    block = mapping(raw, where("uncertainty"), "uncertainty: {members: 1000, seed: 42}")
    check_keys(block, UNCERTAINTY_KEYS, where, "uncertainty")
    members, sampling, seed = block.get("members"), block.get("sampling"), block.get("seed")
    check_settings(members, sampling, seed, where)
    parameters = (
        _distributions(block["parameters"], where) if block.get("parameters") is not None else None
    )
    return Uncertainty(members, sampling, seed, parameters)


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
                f"least {1 if key == 'members' else 0} (got {value!r}). Write "
                f"{key}: {1000 if key == 'members' else 42}"
            )
    if sampling is not None and sampling not in SAMPLING_NAMES:
        raise ScenarioError(
            f"{where('uncertainty.sampling')}: unknown sampling {sampling!r}."
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
