"""Analysis of models and runs: causal structure, feedback loops, dominance, diagrams, checks.

The causal graph of a model is an IR fact (:mod:`pssc_sim.ir.causal`, re-exported here); this
stage reads it, and runs models to find which loops dominate and what looks wrong.

>>> from pssc_sim.analysis import causal_graph, find_loops
>>> callable(causal_graph) and callable(find_loops)
True
"""

from __future__ import annotations

from pssc_sim.analysis.checks import CheckReport, Finding, check_model
from pssc_sim.analysis.diagram import draw_cld, neighbourhood, save_cld
from pssc_sim.analysis.dominance import (
    Dominance,
    dominance_outputs,
    link_sign_phases,
    loop_dominance,
    plot_dominance,
)
from pssc_sim.analysis.loops import Loop, find_loops
from pssc_sim.ir.causal import CausalGraph, Link, Polarity, causal_graph

__all__ = [
    "CausalGraph",
    "CheckReport",
    "Dominance",
    "Finding",
    "Link",
    "Loop",
    "Polarity",
    "causal_graph",
    "check_model",
    "dominance_outputs",
    "draw_cld",
    "find_loops",
    "link_sign_phases",
    "loop_dominance",
    "neighbourhood",
    "plot_dominance",
    "save_cld",
]
