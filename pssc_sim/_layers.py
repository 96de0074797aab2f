"""The stages of pssc_sim and which stages each may import: the pipeline, written once.

Data flows one way, from a model file to a report; an arrow points from the stage imported to
the stage that imports it::

    errors -> ir -> parse          a model file becomes the IR (parse imports ir)
                 -> compile        the IR becomes kernels
                 -> results        the value a run returns, its tables and plots
    compile, results -> integrate  kernels are run over a time grid into Results
    parse, integrate -> scenario   scenarios load models, set, intervene, sample and run them
    scenario -> scorecard          the Public Sector Scorecard judges scenario runs
    integrate -> analysis          loops, dominance and checks run models (beside scenarios:
                                   the causal graph itself is an IR fact, ir/causal.py)
    parse, integrate -> conformance  the SDXorg test-suite runner for imported models
    scorecard, analysis -> inference  fitting parameters to data, above the runs it compares
    inference -> report -> explore
    (everything) -> cli            the command line, at the top

A stage may import itself and the stages it lists, and, through them, everything below them
(the closure of :data:`STAGES`). ``tests/test_layers.py`` reads every module's imports (also
those inside functions) and fails on an import that goes up, or on a cycle of modules inside a
stage. This module imports nothing, so the order is readable without running the package.
"""

from __future__ import annotations

#: Stage -> the stages it may import directly, lowest first.
STAGES: dict[str, tuple[str, ...]] = {
    "errors": (),
    "ir": ("errors",),
    "parse": ("ir",),
    "compile": ("ir",),
    "results": ("ir",),
    "integrate": ("compile", "results"),
    "scenario": ("parse", "integrate"),
    "scorecard": ("scenario",),
    "analysis": ("integrate",),
    "conformance": ("parse", "integrate"),
    "inference": ("scorecard", "analysis"),
    "report": ("inference",),
    "explore": ("report",),
    "api": ("scorecard", "analysis"),
    "cli": ("explore", "conformance", "api"),
}

#: Modules outside a stage package, by stage (a package ``pssc_sim/<stage>/`` is its stage).
MODULES: dict[str, str] = {
    "pssc_sim": "api",
    "pssc_sim.__main__": "cli",
    "pssc_sim._layers": "errors",
    "pssc_sim.errors": "errors",
    "pssc_sim.atomic": "errors",
    "pssc_sim.results": "results",
    "pssc_sim.orderstats": "results",
    "pssc_sim.output": "results",
    "pssc_sim.plot": "results",
    "pssc_sim.netcdf": "results",
    "pssc_sim.conformance": "conformance",
}

#: Upward imports that stay on purpose: a convenience method on a lower stage's value that hands
#: over to the stage above when called (as ``DataFrame.plot`` does in pandas), importing it
#: inside the method. (importer, imported).
ACCESSORS: frozenset[tuple[str, str]] = frozenset(
    {
        # ScenarioResult.scorecard() -> pssc_sim.scorecard.scoring.scorecard
        ("pssc_sim.scenario.runner", "pssc_sim.scorecard.scoring"),
    }
)


def allowed(stage: str) -> frozenset[str]:
    """``stage`` and every stage below it: what its modules may import."""
    seen = {stage}
    todo = list(STAGES[stage])
    while todo:
        below = todo.pop()
        if below not in seen:
            seen.add(below)
            todo.extend(STAGES[below])
    return frozenset(seen)


def stage_of(module: str) -> str | None:
    """The stage of a pssc_sim module (``None`` when the order does not place it)."""
    if module in MODULES:
        return MODULES[module]
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        return parts[1]
    return None
