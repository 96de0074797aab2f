"""Targets, culture and the Public Sector Scorecard.

- :mod:`~pssc_sim.targets.structure`: the hidden structure a model gets for ``TARGET``,
  ``TARGET_GAP``, ``TARGET_PRESSURE``, ``CULTURE`` and threshold shares (names and equations);
- :mod:`~pssc_sim.targets.definition`: :class:`~pssc_sim.targets.definition.Target`, its kinds
  and severities, read from scenario files and checked against a model;
- :mod:`~pssc_sim.targets.scorecard`: the PSS scorecard of a run or ensemble.

This package imports nothing at import time, so the model reader and the scenario reader can
each use one module of it without loading the others.
"""
