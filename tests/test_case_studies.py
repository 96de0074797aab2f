"""What every case-study model promises: ``pssc check`` finds nothing (units consistent, no
unused parameters, every parameter sourced or flagged as an assumption), its own parameters each
name a source, and every scenario file of the model loads and checks against it. Each model's
validation figures are tested in ``test_model_<name>.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pssc_sim import load_model
from pssc_sim.analysis.checks import check_model
from pssc_sim.ir.model import Origin
from pssc_sim.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
#: Each model, whether its check also runs it (the two fine-step models are checked statically;
#: their tests run them), and the fewest parameters of its own it has.
MODELS = [
    ("smoking", True, 1),
    ("child_obesity", True, 0),
    ("health_social_care", False, 41),
    ("ambulance", False, 41),
    ("em_employment", True, 0),
    ("climate", True, 0),
    ("ae_four_hour", True, 20),
]
SCENARIO_FILES = [
    path for name, _, _ in MODELS for path in sorted((ROOT / "scenarios" / name).glob("*.yaml"))
]


@pytest.mark.parametrize(("name", "run", "fewest"), MODELS, ids=[m[0] for m in MODELS])
def test_pssc_check_finds_nothing(name: str, run: bool, fewest: int) -> None:
    model = load_model(ROOT / "models" / name)
    report = check_model(model, run=run)
    assert report.ok, "\n".join(str(f) for f in report.findings)
    own = [p for p in model.parameters if p.origin in (Origin.MODEL, Origin.INCLUDE)]
    assert len(own) >= fewest
    for parameter in own:
        assert parameter.meta.source.strip(), parameter.name


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_scenario_file_loads(path: Path) -> None:
    loaded = Scenario.load(path)
    loaded.check()
    assert loaded.name == path.stem
