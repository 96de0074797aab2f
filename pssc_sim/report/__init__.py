"""The report stage: one self-contained HTML file with scorecards, ledgers, plots and a
comparison of scenarios, readable in any browser without Python.

- :mod:`~pssc_sim.report.content`: :class:`ReportEntry` (a scenario and its story) and the runs
  and scorecards a report shows;
- :mod:`~pssc_sim.report.figures`: the pictures, as PNG data URIs;
- :mod:`~pssc_sim.report.html`: the page, :func:`build_report` and :func:`write_report`.
"""

from __future__ import annotations

from pssc_sim.report.content import ReportEntry
from pssc_sim.report.html import build_report, write_report

__all__ = ["ReportEntry", "build_report", "write_report"]
