"""Stella's graphical functions called by name: ``LOOKUP(table, x)`` of a variable given by a
graphical function of its input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

import pssc_sim as ps

MODEL = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><name>lookups</name></header>
  <sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
  <model><variables>
    <aux name="ramp table"><eqn>1</eqn>
      <gf><xpts>0,2,4</xpts><ypts>0,10,0</ypts></gf></aux>
    <aux name="read"><eqn>LOOKUP(ramp_table, Time) + lookup(ramp_table, 3)</eqn></aux>
  </variables></model>
</xmile>
"""


def test_a_graphical_function_called_by_name_reads_its_points(tmp_path: Path) -> None:
    path = tmp_path / "m.stmx"
    path.write_text(MODEL, encoding="utf-8")
    frame = ps.simulate(ps.load_model(path)).to_frame()
    times = np.arange(5.0)
    expected = np.interp(times, [0, 2, 4], [0, 10, 0]) + 5.0
    np.testing.assert_allclose(frame["read"].to_numpy(), expected, rtol=1e-14)
    # the variable itself is its graphical function of its own input
    np.testing.assert_allclose(frame["ramp_table"].to_numpy(), np.full(5, 5.0), rtol=1e-14)
