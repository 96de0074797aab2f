"""Parameters drawn together: a multivariate normal over the design's columns, its laws, its
bounds, its bit-identical blocks and its errors."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from scenario_files import scenario_folder, write
from scipy import stats

from pssc_sim.inference.design import Experiment
from pssc_sim.scenario import Distribution, ScenarioError, Uncertainty, load_scenario
from pssc_sim.scenario.joint import JointNormal
from pssc_sim.scenario.sampling import SampledMembers, sample

ROOT = Path(__file__).resolve().parents[1]

DECAY = """\
model: decay
time: {start: 0, stop: 4, dt: 0.25}
parameters:
  k: {value: 0.5, range: [0.2, 0.8]}
  x0: {value: 100, range: [80, 120]}
  m: {value: 1, range: [0.5, 1.5]}
stocks:
  x: x0
flows:
  outflow: {from: x, rate: k * m * x}
"""

MEAN = (0.5, 100.0, 1.0)
COVARIANCE = ((0.01, -0.45, 0.002), (-0.45, 25.0, 0.0), (0.002, 0.0, 0.04))
JOINT = """\
  joint:
    - parameters: [k, x0]
      distribution: normal
      mean: [0.5, 100]
      covariance: [[0.01, -0.45], [-0.45, 25]]
      low: [0.2, 80]
      high: [0.8, 120]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return scenario_folder(tmp_path, "decay", DECAY)


def joint_scenario(folder: Path, members: int = 40) -> Path:
    head = f"model: decay\nuncertainty:\n  members: {members}\n  seed: 5\n"
    return write(folder, head + "  parameters: {m: }\n" + JOINT)


@pytest.mark.parametrize("sampling", ["latin-hypercube", "sobol", "random"])
def test_the_sample_mean_and_covariance_approach_the_given_ones(sampling: str) -> None:
    joint = JointNormal(("a", "b", "c"), MEAN, COVARIANCE)
    values = sample({}, sampling, 2**14, seed=3, joint=(joint,))
    drawn = np.column_stack([values[n] for n in ("a", "b", "c")])
    sd = np.sqrt(np.diag(COVARIANCE))
    # in units of the standard deviations: within 3% of one
    np.testing.assert_allclose((drawn.mean(axis=0) - MEAN) / sd, 0.0, atol=0.03)
    scaled = np.cov(drawn, rowvar=False) / np.outer(sd, sd)
    np.testing.assert_allclose(scaled, np.asarray(COVARIANCE) / np.outer(sd, sd), atol=0.03)


@pytest.mark.parametrize("bounded", [False, True])
def test_a_singular_covariance_draws_on_its_line(bounded: bool) -> None:
    # estimates correlated -1: one combination is fixed by the data, the draw keeps it, bounds
    # or not (they cut the line, not the combination)
    bounds = {"low": (1.8, 0.0), "high": (2.5, 1.1)} if bounded else {}
    joint = JointNormal(("a", "b"), (2.0, 1.0), ((0.04, -0.02), (-0.02, 0.01)), **bounds)
    values = sample({}, "latin-hypercube", 1000, seed=1, joint=(joint,))
    np.testing.assert_allclose(values["a"] + 2 * values["b"], 4.0, atol=1e-6)
    if bounded:
        assert values["a"].min() >= 1.8
        assert values["b"].max() <= 1.1
    else:
        assert values["a"].std() == pytest.approx(0.2, rel=0.05)


def test_bounds_keep_every_value_in_range_with_truncated_normal_marginals() -> None:
    joint = JointNormal(
        ("a", "b"), (1.0, 2.0), ((0.04, 0.018), (0.018, 0.01)), low=(0.8, None), high=(1.1, 2.1)
    )
    values = sample({}, "latin-hypercube", 20_000, seed=9, joint=(joint,))
    assert values["a"].min() >= 0.8
    assert values["a"].max() <= 1.1
    assert values["b"].max() <= 2.1
    expected = stats.truncnorm((0.8 - 1.0) / 0.2, (1.1 - 1.0) / 0.2, loc=1.0, scale=0.2)
    quartiles = np.percentile(values["a"], [25, 50, 75])
    np.testing.assert_allclose(quartiles, expected.ppf([0.25, 0.5, 0.75]), atol=0.005)
    # given a, b is its conditional normal truncated to b's range: its median there
    a, b = values["a"], values["b"]
    near = np.abs(a - 1.0) < 0.01
    sd = math.sqrt(0.01 - 0.018**2 / 0.04)
    conditional = stats.truncnorm(-math.inf, (2.1 - 2.0) / sd, loc=2.0, scale=sd)
    assert np.median(b[near]) == pytest.approx(conditional.median(), abs=0.003)


def test_bounds_far_away_change_nothing_but_rounding() -> None:
    free = JointNormal(("a", "b"), MEAN[:2], ((0.01, -0.45), (-0.45, 25.0)))
    far = JointNormal(("a", "b"), MEAN[:2], free.covariance, low=(-10.0, -1e3), high=(10.0, 1e3))
    one = sample({}, "sobol", 256, seed=2, joint=(free,))
    two = sample({}, "sobol", 256, seed=2, joint=(far,))
    for name in ("a", "b"):
        np.testing.assert_allclose(one[name], two[name], rtol=1e-9)


@pytest.mark.parametrize("sampling", ["latin-hypercube", "sobol", "random"])
def test_blocks_and_pickled_specifications_draw_the_whole_sample_bit_for_bit(
    sampling: str,
) -> None:
    k = {"k": Distribution("normal", {"mean": 1.0, "sd": 0.1})}
    joint = (JointNormal(("a", "b", "c"), MEAN, COVARIANCE, low=(0.3, None, 0.9)),)
    whole = sample(k, sampling, 200, seed=8, joint=joint)
    spec = SampledMembers(tuple(k.items()), sampling, 200, 8, {}, joint=joint)
    for chunk in (13, 64, 200):
        parts = [
            pickle.loads(pickle.dumps(spec.block(start, min(start + chunk, 200)))).values()
            for start in range(0, 200, chunk)
        ]
        for name, values in whole.items():
            np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), values)
    assert set(spec.summary()) == {"k", "a", "b", "c"}


def test_a_scenario_runs_its_joint_block_and_chunking_changes_nothing(folder: Path) -> None:
    scenario = load_scenario(joint_scenario(folder, members=64))
    whole = scenario.run()
    assert set(whole.samples) == {"m", "k", "x0"}
    assert np.corrcoef(whole.samples["k"], whole.samples["x0"])[0, 1] < -0.7
    assert whole.samples["k"].min() >= 0.2
    assert whole.samples["x0"].max() <= 120
    chunked = scenario.run(chunk=5)
    np.testing.assert_array_equal(chunked.results.values, whole.results.values)
    assert "x0" in whole.summary()


def test_the_joint_block_round_trips_and_layers(folder: Path) -> None:
    scenario = load_scenario(joint_scenario(folder))
    assert scenario.uncertainty is not None
    again = scenario.with_uncertainty(None).with_uncertainty(scenario.uncertainty.to_document())
    assert again.uncertainty == scenario.uncertainty
    child = write(folder, "extends: s\nuncertainty: {members: 7}\n", "child")
    assert load_scenario(child).uncertainty == scenario.uncertainty.layered(Uncertainty(members=7))
    # without parameters:, the ranged parameters not drawn jointly are sampled on their own
    only = Uncertainty(members=4, seed=1, joint=scenario.uncertainty.joint)
    run = scenario.with_uncertainty(None).with_uncertainty(only).run()
    assert set(run.samples) == {"m", "k", "x0"}


def test_a_sensitivity_analysis_refuses_a_joint_block(folder: Path) -> None:
    experiment = Experiment.load(str(joint_scenario(folder)))
    with pytest.raises(ScenarioError, match=r"s\.yaml: uncertainty\.joint: a sensitivity .*"):
        experiment.distributions()
    with pytest.raises(ScenarioError, match=r"needs independent inputs \(got k, x0 drawn"):
        experiment.distributions(["k"])
    assert list(experiment.distributions(["m"])) == ["m"]


BLOCK = {
    "parameters": ["k", "x0"],
    "distribution": "normal",
    "mean": [0.5, 100],
    "covariance": [[0.01, -0.45], [-0.45, 25]],
    "low": [0.2, 80],
    "high": [0.8, 120],
}

BAD = {
    "unknown name": (
        {"parameters": ["k", "x9"]},
        r"s\.yaml: uncertainty\.joint\[0\]\.parameters: 'x9' is unknown in .*decay.*Name a",
    ),
    "not symmetric": (
        {"covariance": [[0.01, -0.4], [-0.45, 25]]},
        r"s\.yaml: uncertainty\.joint\[0\]\.covariance: not symmetric",
    ),
    "not positive semi-definite": (
        {"covariance": [[0.01, -0.6], [-0.6, 25]]},
        r"joint\[0\]\.covariance: not positive semi-definite \(got eigenvalues \[-",
    ),
    "a zero variance": (
        {"covariance": [[0, 0], [0, 25]]},
        r"joint\[0\]\.covariance: every variance .* must be positive",
    ),
    "wrong mean shape": (
        {"mean": [0.5, 100, 1]},
        r"joint\[0\]\.mean: expected a list of 2 numbers, one per parameter",
    ),
    "wrong covariance shape": (
        {"covariance": [[0.01, -0.45, 0], [-0.45, 25, 0]]},
        r"joint\[0\]\.covariance: expected a list of 2 numbers",
    ),
    "bounds crossed": ({"low": [0.9, 80]}, r"joint\[0\]\.low, high: the low bound must be below"),
    "not normal": (
        {"distribution": "uniform"},
        r"joint\[0\]\.distribution: a joint draw is a multivariate normal",
    ),
    "misspelled key": ({"covariances": 1}, r"joint\[0\]\.covariances: unknown key .*'covariance'"),
    "missing covariance": ({"covariance": None}, r"joint\[0\]\.covariance: 'covariance' is req"),
    "one parameter": ({"parameters": ["k"]}, r"joint\[0\]\.parameters: a joint draw needs two"),
    "code as a number": ({"mean": ["__import__(1)", 1]}, r"joint\[0\]\.mean: expected a number"),
}


def joint_text(block: dict[str, object], extra: str = "") -> str:
    document = {"members": 4, "joint": [{k: v for k, v in block.items() if v is not None}]}
    return "model: decay\n" + yaml.safe_dump({"uncertainty": document}) + extra


@pytest.mark.parametrize(("change", "pattern"), list(BAD.values()), ids=list(BAD))
def test_bad_joint_blocks_raise_one_clear_error(
    folder: Path, change: dict[str, object], pattern: str
) -> None:
    path = write(folder, joint_text({**BLOCK, **change}))
    with pytest.raises(ScenarioError, match=pattern):
        load_scenario(path).run()


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ("  parameters: {k: }\n", r"joint\[0\]\.parameters: 'k' is also under uncertainty\.param"),
        (
            "    - {parameters: [x0, m], mean: [1, 1], covariance: [[1, 0], [0, 1]]}\n",
            r"joint\[1\]\.parameters: 'x0' is in two joint blocks",
        ),
        ("  joint: {parameters: [k, x0]}\n", r"uncertainty\.joint: expected a list"),
    ],
    ids=["jointly and alone", "in two blocks", "not a list"],
)
def test_a_parameter_is_drawn_once(folder: Path, extra: str, pattern: str) -> None:
    head = "model: decay\nuncertainty:\n  members: 4\n"
    text = head + extra if extra.startswith("  joint:") else head + JOINT + extra
    if extra.startswith("  parameters"):
        text = head + extra + JOINT
    with pytest.raises(ScenarioError, match=pattern):
        load_scenario(write(folder, text))


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "scenarios" / "child_obesity" / "y6-target-uncertain.yaml",
        ROOT / "scenarios" / "climate" / "uncertainty.yaml",
    ],
    ids=["child_obesity", "climate"],
)
def test_the_case_studies_draw_their_correlated_estimates_jointly(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.uncertainty is not None
    assert scenario.uncertainty.joint
    block = scenario.uncertainty.joint[0]
    model = scenario.load_model()
    ranges = {p.name: p.range for p in model.parameters}
    for name, low, high in zip(block.parameters, block.low, block.high, strict=True):
        assert (low, high) == ranges[name]  # kept in the model's ranges
    result = scenario.with_uncertainty(members=6).run()
    for name in block.parameters:
        low, high = ranges[name]
        assert low <= result.samples[name].min() <= result.samples[name].max() <= high


CALIBRATION = {
    "method": "least-squares",
    "parameters": {
        "k": {"estimate": 0.5, "low": 0.3, "high": 0.7, "bounds": [0.2, 0.8]},
        "x0": {"estimate": 100.0, "low": 90.0, "high": 110.0, "bounds": [80.0, 120.0]},
    },
    "covariance": {"k": {"k": 0.01, "x0": -0.45}, "x0": {"k": -0.45, "x0": 25.0}},
}


def calibrated_scenario(folder: Path, entry: str, calibration: object = CALIBRATION) -> Path:
    (folder / "fit").mkdir(exist_ok=True)
    (folder / "fit" / "calibration.json").write_text(json.dumps(calibration))
    head = "model: decay\nuncertainty:\n  members: 4\n  seed: 5\n  joint:\n"
    return write(folder, head + f"    - {{parameters: [k, x0], {entry}}}\n")


def test_a_joint_block_reads_the_estimates_and_covariance_of_a_calibration(folder: Path) -> None:
    read = load_scenario(calibrated_scenario(folder, "from_calibration: fit/calibration.json"))
    written = load_scenario(joint_scenario(folder)).uncertainty
    assert read.uncertainty is not None
    assert written is not None
    assert read.uncertainty.joint == written.joint  # the bounds are the calibration's
    narrower = "from_calibration: fit/calibration.json, low: [0.3, null]"
    block = load_scenario(calibrated_scenario(folder, narrower)).uncertainty.joint[0]
    assert (block.low, block.high) == ((0.3, None), (0.8, 120.0))


@pytest.mark.parametrize(
    ("entry", "calibration", "pattern"),
    [
        ("from_calibration: fit/none.json", CALIBRATION, r"from_calibration: cannot read .*none"),
        ("from_calibration: fit/calibration.yaml", CALIBRATION, r"expected the path of a \.json"),
        ("from_calibration: fit/calibration.json", "[1, 2", r"calibration\.json is not JSON"),
        ("from_calibration: fit/calibration.json", [1], r"is not a calibration \(got list\)"),
        (
            "from_calibration: fit/calibration.json",
            {"parameters": CALIBRATION["parameters"]},
            r"not a calibration with a covariance \(got keys parameters\)",
        ),
        (
            "from_calibration: fit/calibration.json",
            {**CALIBRATION, "parameters": {"k": CALIBRATION["parameters"]["k"]}},
            r"the calibration did not fit x0",
        ),
        (
            "from_calibration: fit/calibration.json, mean: [1, 2]",
            CALIBRATION,
            r"joint\[0\]\.from_calibration: give from_calibration or mean, not both",
        ),
    ],
    ids=["missing", "not json by name", "not json", "not a mapping", "old", "unfitted", "both"],
)
def test_bad_calibration_files_raise_one_clear_error(
    folder: Path, entry: str, calibration: object, pattern: str
) -> None:
    path = calibrated_scenario(folder, entry, calibration)
    if isinstance(calibration, str):
        (folder / "fit" / "calibration.json").write_text(calibration)
    with pytest.raises(ScenarioError, match=pattern):
        load_scenario(path)


def test_a_large_file_is_not_read_and_a_document_without_a_file_cannot_name_one(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pssc_sim.scenario.uncertainty as uncertainty

    path = calibrated_scenario(folder, "from_calibration: fit/calibration.json")
    monkeypatch.setattr(uncertainty, "CALIBRATION_BYTES", 10)
    with pytest.raises(ScenarioError, match=r"too large for a calibration .* at most 10\)"):
        load_scenario(path)
    block = {"parameters": ["k", "x0"], "from_calibration": "fit/calibration.json"}
    with pytest.raises(ScenarioError, match=r"read only from a scenario file"):
        Uncertainty(members=4, joint=[block])


def test_the_schema_takes_a_joint_block_written_out_or_from_a_calibration() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from pssc_sim.scenario import json_schema

    validator = jsonschema.Draft202012Validator(json_schema())
    names = {"parameters": ["k", "x0"]}
    for block, valid in (
        (BLOCK, True),
        ({**names, "from_calibration": "fit.json", "low": [0.3, None]}, True),
        ({**names, "mean": [0.5, 100]}, False),
        ({**names, "from_calibration": "fit.yaml"}, False),
    ):
        document = {"model": "decay", "uncertainty": {"members": 4, "joint": [block]}}
        assert validator.is_valid(document) is valid


def test_the_explorer_keeps_a_joint_block_unless_a_control_fixes_one_of_its_parameters(
    folder: Path,
) -> None:
    from pssc_sim.explore.compute import ensemble

    scenario = load_scenario(joint_scenario(folder))
    model = scenario.load_model()
    kept = ensemble(scenario, model, {})
    assert kept is not None
    assert kept.joint == scenario.uncertainty.joint
    fixed = ensemble(scenario, model, {"k": 0.3})
    assert fixed is not None
    assert fixed.joint is None
    assert dict(fixed.parameters or {}) == {"m": None}  # x0 is held too, not drawn on its own


def test_report_evidence_refuses_a_joint_block(folder: Path) -> None:
    from pssc_sim.report.robustness import Evidence

    with pytest.raises(ScenarioError, match=r"uncertainty\.joint: an evidence ensemble needs"):
        Evidence.of(load_scenario(joint_scenario(folder)))
