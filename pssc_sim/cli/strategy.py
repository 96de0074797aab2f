"""``pssc strategy-map MODEL_OR_SCENARIO -o FILE [--json]``: the PSS strategy map."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pssc_sim.cli.common import EXIT_OK, UsageError
from pssc_sim.cli.scenario import add_memory_option

if TYPE_CHECKING:
    from pssc_sim.report.strategy_map import StrategyMap

__all__ = ["add_commands", "command_strategy_map", "strategy_map_of"]


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``strategy-map`` to the ``pssc`` parser."""
    command = commands.add_parser(
        "strategy-map",
        help="draw the PSS strategy map of a model, scenario or diagram",
        description="Draw the Public Sector Scorecard strategy map: measures in tiers "
        "(capability, process, outcome; value for money for measures in money), "
        "an arrow where a chain of causal links joins two measures through no "
        "other measure, signed + or - (? when it depends on the state, with the "
        "sign the run gives). A scenario adds each measure's value, its target "
        "status and reported-vs-true gap, the risks (true values that end worse "
        "than without targets) and the gaming mechanisms at work. A diagram file "
        "whose variables carry 'perspective:' draws the same way.",
    )
    command.add_argument(
        "model",
        metavar="MODEL_OR_SCENARIO",
        help="a scenario file, a model file or folder, or a diagram file",
    )
    command.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="the picture to write: .svg (with hover text), .png or .pdf",
    )
    command.add_argument(
        "--json", action="store_true", help="print the tiers, links and risks as JSON"
    )
    add_memory_option(command)


def strategy_map_of(path: str) -> StrategyMap:
    """The strategy map of a scenario file, a model (run as it is) or a diagram file.

    Its runs (the scenario, the scenario without targets, the scenario recording every variable)
    keep to the memory limit of the block (:func:`~pssc_sim.integrate.budget.limit_runs`, which
    ``pssc`` sets from ``--max-memory``)."""
    from pssc_sim.cli.scenario import as_scenario
    from pssc_sim.ir.causal import causal_graph
    from pssc_sim.parse.cld_file import is_cld_document, load_cld_file, load_cld_perspectives
    from pssc_sim.parse.model_file import resolve_model_path
    from pssc_sim.parse.yaml_reader import read_yaml
    from pssc_sim.report.strategy_map import diagram_map, model_map, scenario_map
    from pssc_sim.scenario.reader import is_scenario_file
    from pssc_sim.scenario.runner import run

    if not is_scenario_file(path):
        file = resolve_model_path(path)
        document = read_yaml(file) if file.suffix.lower() in (".yaml", ".yml") else None
        if document is not None and is_cld_document(document):
            title = str(document.get("title") or document.get("cld") or file.stem)
            return diagram_map(load_cld_file(file), load_cld_perspectives(file), title)
    scenario = as_scenario(path)
    model = scenario.load_model()
    if not model.measures:
        return model_map(model, causal_graph(model))  # refuses: no measures to draw
    result = run(scenario)
    return scenario_map(result, result.scorecard())


def command_strategy_map(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Draw the map (``-o``) and print it as JSON (``--json``)."""
    from pssc_sim.report.strategy_drawing import check_format, save_strategy_map

    if args.output is None and not args.json:
        raise UsageError(
            "strategy-map: nothing to do (got neither -o nor --json). Give "
            "-o map.svg, --json, or both"
        )
    if args.output is not None:
        check_format(args.output)
    strategy = strategy_map_of(args.model)
    out = stream or sys.stdout
    if args.output is not None:
        path = save_strategy_map(strategy, args.output)
        print(f"wrote {path}", file=sys.stderr if args.json else out)
    if args.json:
        print(strategy.to_json(), file=out)
    return EXIT_OK
