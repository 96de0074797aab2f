"""The live what-if explorer (``pssc explore``; :func:`explore` in a notebook): sliders for a
scenario's parameters, culture, targets and interventions, and the run, its ledgers and its
scorecard redrawn as they move.

- :mod:`~pssc_sim.explore.controls`: the controls as data, and the page's URL query read and
  written (names checked, values clamped, nothing evaluated);
- :mod:`~pssc_sim.explore.compute`: control values to a scenario, to runs, to plotted columns and
  to a scenario file, with no widget in sight;
- :mod:`~pssc_sim.explore.app`: the Panel page of one session;
- :mod:`~pssc_sim.explore.serve`: serving it, and showing it in a notebook.

Panel and Bokeh are the ``explore`` extra (``pip install 'pssc_sim[explore]'``); nothing here is
imported by ``import pssc_sim``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import panel as pn

    from pssc_sim.scenario.definition import Scenario

__all__ = ["explore"]


def explore(scenario: Scenario | str | Path) -> pn.viewable.Viewable:
    """The explorer of ``scenario`` (a :class:`~pssc_sim.Scenario`, a scenario file or a model),
    to show inline in Jupyter: the last expression of a cell, or ``.servable()``.

    Examples
    --------
    >>> import pssc_sim as ps
    >>> app = ps.explore("scenarios/smoking/quit-count-target.yaml")  # doctest: +SKIP
    """
    from pssc_sim.explore.serve import load_source, notebook_app

    return notebook_app(load_source(scenario))
