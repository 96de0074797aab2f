"""The Earth4All global model against Vensim's own output, both scenarios of the book.

The Vensim model and Vensim's output come from worlddynamics/Earth4All.jl (MIT licence, kept
beside the files); see ``tests/data/earth4all/README.md`` for where each file comes from. The
outputs there keep whole years of Vensim's run at a time step of 1/64 year.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pssc_sim.conformance import compare_model

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

DATA = Path(__file__).parent / "data" / "earth4all"
SCENARIOS = {"tltl": "E4A-global TLTL.mdl", "gl": "E4A-global GL.mdl"}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_earth4all_matches_vensim(scenario: str) -> None:
    model = DATA / SCENARIOS[scenario]
    outputs = sorted((DATA / scenario).glob("*.txt"))
    if not model.is_file() or not outputs:
        pytest.skip(
            f"{DATA}: the Earth4All files are absent; copy vensim_source/ and "
            "VensimOutput/ of github.com/worlddynamics/Earth4All.jl there"
        )
    comparison = compare_model(model, outputs)
    total = len(comparison.series)
    assert total >= 300  # every sector file read, each series once
    assert comparison.count() >= 0.95 * total, "\n".join(comparison.lines())
    assert comparison.count(loose=True) == total, "\n".join(comparison.lines())
