"""The PSS strategy map of a model, a scenario or a qualitative diagram, as data.

The map has one box per measure, in tiers by perspective: capability at the bottom, processes in
the middle, outcomes above them and, when the model has cost measures, value for money at the
top. A measure is a cost measure when its units are money: a currency unit (``GBP``, ``EUR``,
``USD``, ``pound``, ``euro``, ``dollar``, ``£``, ``€``, ``$``) in the numerator of its units, as
``GBP/day`` (:func:`is_money`).

There is an arrow from measure ``A`` to measure ``B`` when the causal graph has a chain of links
from ``A`` to ``B`` that passes through no other measure. Its polarity is the product of the
link signs along the chain; when chains of both signs exist, or a link's sign depends on the
state, it is ``?``, and then the run may tell the sign it actually takes (:attr:`MapLink.run`:
every state-dependent link replaced by the sign its Loops That Matter link score holds for most
of the run). ``via`` lists the variables on the shortest chains.

With a run, each box carries the measure's value (reported and true at the target date, or at
the end of the run), its red/amber/green status and gap for a target, the harm when its true
value ends worse than in the same scenario without targets (a risk: the scorecard's unintended
consequence), and the gaming mechanisms (``include:`` instances) at work on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pssc_sim.errors import ModelError
from pssc_sim.ir.causal import CausalGraph, Link, NodeKind, Polarity, derivative_polarity
from pssc_sim.ir.model import Measure, Model

if TYPE_CHECKING:
    from pssc_sim.scenario.runner import ScenarioResult
    from pssc_sim.scorecard.scoring import Scorecard

#: Tiers from the bottom of the map to the top.
TIERS = ("capability", "process", "outcome", "value_for_money")
#: Currency units that make a measure a cost measure (the value for money tier).
MONEY_UNITS = (
    "gbp",
    "eur",
    "usd",
    "pound",
    "pounds",
    "euro",
    "euros",
    "dollar",
    "dollars",
    "£",
    "€",
    "$",
)
_UNIT_WORD = re.compile(r"[A-Za-z]+|[£€$]")


def is_money(units: str) -> bool:
    """Whether ``units`` are money: a currency unit in their numerator.

    Examples
    --------
    >>> is_money("GBP/day"), is_money("patient/GBP"), is_money("minute")
    (True, False, False)
    """
    numerator = units.split("/")[0]
    return any(word.lower() in MONEY_UNITS for word in _UNIT_WORD.findall(numerator))


@dataclass(frozen=True, slots=True)
class MapMeasure:
    """One box of the map: a measure, its tier and what the run says of it."""

    name: str
    tier: str
    label: str
    units: str = ""
    better: str = ""
    at: float | None = None
    reported: float | None = None
    true: float | None = None
    target: float | None = None
    rag: str | None = None
    gap: float | None = None
    harm: float | None = None
    relative_harm: float | None = None
    mechanisms: tuple[str, ...] = ()
    kind: str | None = None  # the target's kind; a threshold share's values are shares
    when: str = ""  # ``at`` as a reader says it: a date where the model has ``time.origin``


@dataclass(frozen=True, slots=True)
class MapLink:
    """An arrow between two measures, its polarity, the sign the run gives and the way."""

    cause: str
    effect: str
    polarity: Polarity
    via: tuple[str, ...]
    run: Polarity | None = None


@dataclass(frozen=True, slots=True)
class StrategyMap:
    """Measures by tier and the arrows between them."""

    title: str
    measures: Mapping[str, MapMeasure]
    links: tuple[MapLink, ...]
    tiers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def tier_of(self, name: str) -> int:
        """The tier index of a measure, 0 at the bottom."""
        return TIERS.index(self.measures[name].tier)

    @property
    def risks(self) -> tuple[MapMeasure, ...]:
        """Measures whose true value ends worse than without targets, largest harm first."""
        found = [m for m in self.measures.values() if m.harm is not None]
        return tuple(sorted(found, key=lambda m: -(m.relative_harm or 0.0)))

    def to_dict(self) -> dict[str, Any]:
        """The map as plain data (what ``pssc strategy-map --json`` prints)."""
        links = [
            {
                "from": lk.cause,
                "to": lk.effect,
                "polarity": lk.polarity.value,
                "run_polarity": None if lk.run is None else lk.run.value,
                "via": list(lk.via),
            }
            for lk in self.links
        ]
        risks = [
            {"measure": m.name, "harm": m.harm, "relative": m.relative_harm, "units": m.units}
            for m in self.risks
        ]
        measures = {
            name: {k: v for k, v in asdict(m).items() if k != "name"}
            for name, m in self.measures.items()
        }
        return {
            "title": self.title,
            "tiers": {t: list(ms) for t, ms in self.tiers.items()},
            "measures": measures,
            "links": links,
            "risks": risks,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=2)


def measure_graph(graph: CausalGraph, model: Model) -> CausalGraph:
    """``graph`` with a node for each measure whose true value is an expression, not a variable.

    The node bears the measure's name and has a link from every variable of the expression.
    """
    nodes = dict(graph.nodes)
    links = list(graph.links)
    lookups = {lk.name: lk for lk in model.lookups}
    for measure in model.measures:
        if measure.true_column in nodes:
            continue
        nodes[measure.name] = NodeKind.AUXILIARY
        for symbol in sorted(measure.true.free_symbols, key=lambda s: s.name):
            if symbol.name in graph.nodes:
                links.append(
                    Link(
                        symbol.name,
                        measure.name,
                        derivative_polarity(measure.true, symbol, lookups),
                    )
                )
    return CausalGraph(nodes, tuple(links))


def measure_links(
    graph: CausalGraph,
    measures: Mapping[str, str],
    run_signs: Mapping[tuple[str, str], Polarity] | None = None,
) -> tuple[MapLink, ...]:
    """The arrows between ``measures`` (measure name -> its node in ``graph``).

    An arrow joins two measures when a chain of links leads from one to the other through no
    other measure; its polarity and ``via`` come from the shortest such chains. ``run_signs``
    gives the sign a state-dependent link takes in a run.
    """
    nodes = {node: name for name, node in measures.items()}
    out: dict[str, list[Link]] = {}
    for link in graph.links:
        out.setdefault(link.cause, []).append(link)
    found: list[MapLink] = []
    for name, start in measures.items():
        layers = _layers(out, start, set(nodes) - {start})
        for end in (n for n in _flatten(layers) if n in nodes and n != start):
            chains = _shortest_links(layers, out, end, set(nodes) - {start})
            polarity = _polarity(_signs(chains, start, end))
            run = None
            if polarity is Polarity.UNKNOWN and run_signs:
                sign = _polarity(_signs(chains, start, end, run_signs))
                run = None if sign is Polarity.UNKNOWN else sign
            via = sorted({lk.effect for lk in chains} - {end})
            found.append(MapLink(name, nodes[end], polarity, tuple(via), run))
    return tuple(found)


def _flatten(layers: Sequence[Sequence[str]]) -> list[str]:
    return [node for layer in layers for node in layer]


def _layers(out: Mapping[str, list[Link]], start: str, stops: set[str]) -> list[list[str]]:
    """Nodes by their distance from ``start`` (breadth first); ``stops`` end a chain."""
    seen = {start}
    layers = [[start]]
    while layers[-1]:
        layer: list[str] = []
        for node in layers[-1]:
            if node in stops:
                continue
            for link in out.get(node, ()):
                if link.effect not in seen:
                    seen.add(link.effect)
                    layer.append(link.effect)
        layers.append(layer)
    return layers[:-1]


def _shortest_links(
    layers: Sequence[Sequence[str]], out: Mapping[str, list[Link]], end: str, stops: set[str]
) -> list[Link]:
    """The links on the shortest chains from the first layer's node to ``end`` that pass
    through none of ``stops``."""
    depth = next(i for i, layer in enumerate(layers) if end in layer)
    wanted = {end}
    chains: list[Link] = []
    for i in range(depth - 1, -1, -1):
        step = [
            lk
            for node in layers[i]
            if node not in stops
            for lk in out.get(node, ())
            if lk.effect in wanted
        ]
        chains += step
        wanted = {lk.cause for lk in step}
    return chains


def _signs(
    chains: Sequence[Link],
    start: str,
    end: str,
    run_signs: Mapping[tuple[str, str], Polarity] | None = None,
) -> set[Polarity]:
    """The signs of the chains from ``start`` to ``end``: products of their link signs."""
    signs: dict[str, set[Polarity]] = {start: {Polarity.POSITIVE}}
    for link in reversed(chains):  # from the start layer outwards
        polarity = link.polarity
        if polarity is Polarity.UNKNOWN and run_signs:
            polarity = run_signs.get((link.cause, link.effect), polarity)
        signs.setdefault(link.effect, set()).update(
            s * polarity for s in signs.get(link.cause, set())
        )
    return signs.get(end, {Polarity.UNKNOWN})


def _polarity(signs: Iterable[Polarity]) -> Polarity:
    found = set(signs)
    return found.pop() if len(found) == 1 else Polarity.UNKNOWN


def tier(measure: Measure) -> str:
    """The tier of a measure: value for money for a cost measure, else its perspective."""
    return "value_for_money" if is_money(measure.meta.units) else measure.perspective.value


def _tiers(measures: Mapping[str, MapMeasure]) -> dict[str, tuple[str, ...]]:
    return {
        t: tuple(n for n, m in measures.items() if m.tier == t)
        for t in TIERS
        if any(m.tier == t for m in measures.values())
    }


def model_map(
    model: Model,
    graph: CausalGraph,
    *,
    run_signs: Mapping[tuple[str, str], Polarity] | None = None,
    boxes: Mapping[str, MapMeasure] | None = None,
) -> StrategyMap:
    """The strategy map of ``model``; ``boxes`` carry the values of a run."""
    if not model.measures:
        raise ModelError(
            f"{model.source or model.name}: the model has no measures (got none). "
            "Declare measures with a perspective under 'measures:' to draw a "
            "strategy map"
        )
    graph = measure_graph(graph, model)
    measures = {
        m.name: (boxes or {}).get(m.name)
        or MapMeasure(m.name, tier(m), label_of(m), m.meta.units, m.better.value)
        for m in model.measures
    }
    nodes = {
        m.name: m.true_column if m.true_column in graph.nodes else m.name for m in model.measures
    }
    links = measure_links(graph, nodes, run_signs)
    return StrategyMap(model.title or model.name, measures, links, _tiers(measures))


def label_of(measure: Measure) -> str:
    """The words a reader sees for a measure: its ``label`` if the model gives one."""
    return measure.meta.label or measure.name.replace("_", " ")


def diagram_map(
    graph: CausalGraph,
    perspectives: Mapping[str, str],
    title: str = "",
) -> StrategyMap:
    """The strategy map of a qualitative diagram whose variables carry perspectives."""
    if not perspectives:
        raise ModelError(
            f"{title or 'diagram'}: no variable has a perspective (got none). Give "
            "variables 'perspective: outcome' (or process, capability, "
            "value_for_money) to draw a strategy map"
        )
    measures = {
        name: MapMeasure(name, tier, name.replace("_", " ")) for name, tier in perspectives.items()
    }
    links = measure_links(graph, {name: name for name in measures})
    return StrategyMap(title, measures, links, _tiers(measures))


def scenario_map(
    result: ScenarioResult, card: Scorecard, graph: CausalGraph | None = None
) -> StrategyMap:
    """The strategy map of a run: values, status, gaps, risks and gaming mechanisms at work.

    The run is repeated once (same seed) when it did not record every variable, since the signs
    of state-dependent links and the gaming effort need them. ``graph`` is the model's causal
    graph when the caller keeps it (it is built from the model otherwise).
    """
    from pssc_sim.analysis.dominance import dominance_outputs
    from pssc_sim.ir.causal import causal_graph
    from pssc_sim.report.words import when
    from pssc_sim.scenario.reader import scenario_time
    from pssc_sim.scorecard.scoring import with_columns

    model = result.model
    time = scenario_time(result.scenario, model)
    full = with_columns(result, dominance_outputs(model))
    consequences = {c.measure: c for c in card.consequences}
    at_work = mechanisms_at_work(full)
    boxes: dict[str, MapMeasure] = {}
    for measure in model.measures:
        row = card.row(measure.name)
        harm = consequences.get(measure.name)
        boxes[measure.name] = MapMeasure(
            measure.name,
            tier(measure),
            label_of(measure),
            measure.meta.units,
            measure.better.value,
            row.at,
            row.reported,
            row.true,
            row.target,
            row.rag,
            row.gap,
            None if harm is None else abs(harm.change),
            None if harm is None else harm.relative,
            tuple(at_work.get(measure.name, ())),
            row.kind,
            "" if row.at is None else when(time, row.at),
        )
    graph = causal_graph(model) if graph is None else graph
    return model_map(model, graph, run_signs=run_signs(full, graph), boxes=boxes)


def run_signs(
    result: ScenarioResult, graph: CausalGraph | None = None
) -> dict[tuple[str, str], Polarity]:
    """The sign each state-dependent link of the model holds for most of the run (links whose
    causes ``result`` did not record are left out); ``graph`` as for :func:`scenario_map`."""
    from pssc_sim.analysis.dominance import link_sign_phases
    from pssc_sim.ir.causal import causal_graph

    model = result.model
    graph = causal_graph(model) if graph is None else graph
    unknown = [(lk.cause, lk.effect) for lk in graph.links if lk.polarity is Polarity.UNKNOWN]
    if not unknown:
        return {}
    signs: dict[tuple[str, str], Polarity] = {}
    for link, phases in link_sign_phases(model, result.results, unknown).items():
        spans = {"+": 0.0, "-": 0.0}
        for phase in phases:
            if phase.sign in spans:
                spans[phase.sign] += phase.stop - phase.start
        if max(spans.values()) > 0:
            signs[link] = Polarity.POSITIVE if spans["+"] >= spans["-"] else Polarity.NEGATIVE
    return signs


def mechanism_measures(model: Model) -> dict[str, tuple[str, str]]:
    """Each gaming mechanism instance of the model -> (the mechanism, the measure it distorts).

    The model file's ``include:`` section binds every instance's measure input; the switch
    parameter ``<instance>_active`` the reader adds records the instance in the model.
    """
    from pssc_sim.parse.documents import load_fragment
    from pssc_sim.parse.fragments import LIBRARY, InputKind
    from pssc_sim.parse.yaml_reader import read_yaml
    from pssc_sim.scenario.fields import model_instances

    instances = model_instances(model)
    if not instances or not model.source or not Path(model.source).is_file():
        return {}
    document = read_yaml(Path(model.source))
    found: dict[str, tuple[str, str]] = {}
    for instance in instances:
        spec = (document.get("include") or {}).get(instance)
        if not isinstance(spec, Mapping):
            continue
        reference = str(spec.get("mechanism"))
        library = LIBRARY / f"{reference}.yaml"
        fragment = load_fragment(
            library if library.is_file() else Path(model.source).parent / reference
        )
        for item in fragment.inputs:
            bound = (spec.get("inputs") or {}).get(item.name)
            if item.kind is InputKind.MEASURE and isinstance(bound, str):
                found[instance] = (fragment.name, bound)
    return found


def mechanisms_at_work(result: ScenarioResult) -> dict[str, list[str]]:
    """Measure -> the mechanism instances at work on it in ``result``: switched on, and with
    gaming effort above zero at the end of the run when the mechanism has an effort stock."""
    from pssc_sim.scenario.fields import switch_name
    from pssc_sim.scorecard.scoring import at_time, with_columns

    model = result.model
    found: dict[str, list[str]] = {}
    instances = mechanism_measures(model)
    efforts = [f"{i}_effort" for i in instances if f"{i}_effort" in model.stock_names]
    full = with_columns(result, efforts) if efforts else result
    end = float(full.results.times[-1])
    params = dict(
        zip(model.parameter_names, np.median(full.results.parameters, axis=1), strict=True)
    )
    for instance, (_mechanism, measure) in instances.items():
        if params.get(switch_name(instance), 1.0) == 0:
            continue
        effort = f"{instance}_effort"
        if effort in efforts and float(np.median(at_time(full, effort, end))) <= 0:
            continue
        found.setdefault(measure, []).append(instance)
    return found
