"""Every scenario error: one clear message naming ``file: key.path``, with a did-you-mean, and
exit status 2 on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_files import scenario_folder, write

from pssc_sim.cli import main
from pssc_sim.scenario import (
    Distribution,
    Pulse,
    Ramp,
    Scenario,
    ScenarioError,
    Series,
    Step,
    Uncertainty,
    load_scenario,
)

DECAY = """\
model: decay
time: {start: 0, stop: 10, dt: 0.25}
parameters:
  k: {value: 0.5, range: [0.2, 0.8]}
  no_range: 3
  odd: {value: 1, distribution: {distribution: uniform, low: 2, high: 1}}
stocks:
  x: 100
flows:
  outflow: {from: x, rate: k * x + 0 * no_range * odd}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return scenario_folder(tmp_path, "decay", DECAY)


def cli_error(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    status = main(["run", str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("pssc: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    return err


# Each case: the scenario text and a pattern of its message (after the file name).
CASES = {
    "misspelled key": (
        "model: decay\ninterventons: []\n",
        r"s\.yaml: interventons: unknown key 'interventons'\. "
        r"Did you mean 'interventions'\?",
    ),
    "targets not a list": (
        "model: decay\ntargets: 5\n",
        r"s\.yaml: targets: expected a list \(got 5\)",
    ),
    "misspelled parameter": (
        "model: decay\nset: {kk: 1}\n",
        r"s\.yaml: set\.kk: 'kk' is unknown in .*Did you mean 'k'\?",
    ),
    "stock as parameter": (
        "model: decay\nset: {x: 1}\n",
        r"s\.yaml: set\.x: 'x' is a stock, not a parameter",
    ),
    "intervention parameter": (
        "model: decay\ninterventions: [{set: no_rang, to: 1, at: 2}]\n",
        r"interventions\[0\]: 'no_rang' is unknown.*"
        r"Did you mean 'no_range'\?",
    ),
    "sampled parameter": (
        "model: decay\nuncertainty: {members: 2, parameters: [kk]}\n",
        r"uncertainty\.parameters\.kk: 'kk' is unknown.*Did you mean 'k'",
    ),
    "unused culture": (
        "model: decay\nculture: 0.9\n",
        r"^.*s\.yaml: culture: the model never reads CULTURE, so the culture would "
        r"change nothing \(got culture: 0\.9\)\. Remove culture: or read CULTURE "
        r"in an equation of .*decay",
    ),
    "output name": (
        "model: decay\noutputs: [outflw]\n",
        r"outputs\[0\]: unknown variable 'outflw'.*Did you mean 'outflow'\?",
    ),
    "model name": (
        "model: decey\n",
        r"s\.yaml: model: unknown model 'decey'.*"
        r"Did you mean 'decay'\?",
    ),
    "model path": ("model: nowhere/model.yaml\n", r"model: no model file 'nowhere/model.yaml'"),
    "method": (
        "model: decay\nmethod: rk54\n",
        r"method: unknown method 'rk54'\. "
        r"Did you mean 'rk4'\?",
    ),
    "time key": (
        "model: decay\ntime: {stpo: 3}\n",
        r"time\.stpo: unknown key 'stpo'\. "
        r"Did you mean 'stop'\?",
    ),
    "time value": ("model: decay\ntime: {stop: soon}\n", r"time\.stop: expected a number"),
    "low above high": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: {distribution: "
        "uniform, low: 2, high: 1}}}\n",
        r"uncertainty\.parameters\.k: uniform: low must be below high "
        r"\(got low=2\.0, high=1\.0\)",
    ),
    "model distribution": (
        "model: decay\nuncertainty: {members: 2, parameters: [odd]}\n",
        r"parameters\.odd\.distribution: uniform: low must be below high",
    ),
    "no range": (
        "model: decay\nuncertainty: {members: 2, parameters: [no_range]}\n",
        r"uncertainty\.parameters\.no_range: no distribution given.*no range",
    ),
    "unknown distribution": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: "
        "{distribution: unifrom, low: 0, high: 1}}}\n",
        r"unknown distribution 'unifrom'\. Did you mean 'uniform'\?",
    ),
    "distribution key": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: "
        "{distribution: normal, mean: 0, sdev: 1}}}\n",
        r"normal: unknown key 'sdev'\. Did you mean 'sd'\?",
    ),
    "missing setting": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: "
        "{distribution: triangular, low: 0, high: 1}}}\n",
        r"triangular: 'mode' is required",
    ),
    "sd": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: {distribution: normal, "
        "mean: 1, sd: 0}}}\n",
        r"normal: sd must be positive",
    ),
    "mode": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: {distribution: triangular,"
        " low: 0, mode: 2, high: 1}}}\n",
        r"triangular: mode must lie between low and high",
    ),
    "beta": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: {distribution: beta, "
        "a: -1, b: 1}}}\n",
        r"beta: a must be positive",
    ),
    "sigma": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: {distribution: lognormal,"
        " mu: 0, sigma: 0}}}\n",
        r"lognormal: sigma must be positive",
    ),
    "weights": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: {distribution: "
        "discrete, values: [1, 2], weights: [1]}}}\n",
        r"discrete: weights must be one non-negative number per value",
    ),
    "no distribution key": (
        "model: decay\nuncertainty: {members: 2, parameters: {k: {low: 1}}}\n",
        r"parameters\.k\.distribution: 'distribution' is required",
    ),
    "members": (
        "model: decay\nuncertainty: {members: 0}\n",
        r"uncertainty\.members: expected a whole number of at least 1 \(got 0\)",
    ),
    "no members": (
        "model: decay\nuncertainty: {seed: 1}\n",
        r"uncertainty\.members: the number of members is required",
    ),
    "seed": (
        "model: decay\nuncertainty: {members: 2, seed: -1}\n",
        r"uncertainty\.seed: expected a whole number of at least 0",
    ),
    "sampling": (
        "model: decay\nuncertainty: {members: 2, sampling: latin_hypercube}\n",
        r"uncertainty\.sampling: unknown sampling 'latin_hypercube'\. "
        r"Did you mean 'latin-hypercube'\?",
    ),
    "uncertainty key": (
        "model: decay\nuncertainty: {member: 2}\n",
        r"uncertainty\.member: unknown key 'member'\. Did you mean 'members'\?",
    ),
    "intervention kind": (
        "model: decay\ninterventions: [{stepp: k, by: 1, at: 2}]\n",
        r"interventions\[0\]: an intervention starts with exactly one of set, "
        r"step, ramp, pulse, series.*Did you mean 'step'\?",
    ),
    "two kinds": (
        "model: decay\ninterventions: [{set: k, step: k, to: 1, at: 2}]\n",
        r"interventions\[0\]: an intervention starts with exactly one",
    ),
    "intervention key": (
        "model: decay\ninterventions: [{pulse: k, by: 1, at: 2, widht: 1}]\n",
        r"interventions\[0\]\.widht: unknown key 'widht'\. "
        r"Did you mean 'width'\?",
    ),
    "missing intervention key": (
        "model: decay\ninterventions: [{ramp: k, to: 1, from: 2}]\n",
        r"interventions\[0\]\.until: 'until' is required",
    ),
    "step by and to": (
        "model: decay\ninterventions: [{step: k, by: 1, to: 2, at: 2}]\n",
        r"interventions\[0\]: step: give exactly one of 'by' and 'to'",
    ),
    "ramp order": (
        "model: decay\ninterventions: [{ramp: k, to: 1, from: 5, until: 2}]\n",
        r"ramp: 'until' must be after 'from'",
    ),
    "pulse width": (
        "model: decay\ninterventions: [{pulse: k, by: 1, at: 5, width: 0}]\n",
        r"pulse: 'width' must be positive",
    ),
    "series order": (
        "model: decay\ninterventions: [{series: k, points: [[2, 1], [1, 2]]}]\n",
        r"series: times must increase strictly",
    ),
    "series points": (
        "model: decay\ninterventions: [{series: k, points: [1, 2]}]\n",
        r"points: expected a list of \[time, value\] pairs",
    ),
    "interventions list": (
        "model: decay\ninterventions: {set: k}\n",
        r"interventions: expected a list",
    ),
    "set mapping": ("model: decay\nset: [k]\n", r"set: expected a mapping"),
    "outputs list": ("model: decay\noutputs: x\n", r"outputs: expected a list"),
    "no model": ("scenario: lonely\n", r"model: no model is given"),
    "not a mapping": ("- model: decay\n", r"a scenario file must be a YAML mapping"),
    "invalid yaml": ("model: [decay\n", r"invalid YAML at line"),
    "extends missing": ("extends: baseline\n", r"extends: no scenario 'baseline'"),
}

CODE = {
    "expression as a number": (
        "model: decay\nset: {k: 2 * 3}\n",
        r"set\.k: expected a number \(got '2 \* 3'\)\. A scenario holds "
        r"numbers and names, never expressions or code",
    ),
    "call as a number": (
        "model: decay\nset: {k: \"__import__('os').system('touch pwned')\"}\n",
        r"set\.k: expected a number .*never expressions or code",
    ),
    "code as a name": (
        "model: decay\ninterventions: [{set: \"os.system('x')\", to: 1, at: 2}]\n",
        r"interventions\[0\]\.set: expected a variable name",
    ),
    "object tag": (
        "model: decay\nset: !!python/object/apply:os.system ['touch pwned']\n",
        r"a YAML tag that builds objects .* never expressions or code",
    ),
    "time as code": (
        "model: decay\ntime: {stop: 'exec(\"1\")'}\n",
        r"time\.stop: expected a number",
    ),
}


@pytest.mark.parametrize(("text", "pattern"), list(CASES.values()), ids=list(CASES))
def test_bad_scenarios_raise_one_clear_error(folder: Path, text: str, pattern: str) -> None:
    path = write(folder, text)
    with pytest.raises(ScenarioError, match=pattern):
        load_scenario(path).run()


@pytest.mark.parametrize(("text", "pattern"), list(CODE.values()), ids=list(CODE))
def test_scenarios_never_run_code(
    folder: Path, text: str, pattern: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    path = write(folder, text)
    with pytest.raises(ScenarioError, match=pattern):
        load_scenario(path)
    assert not (folder / "pwned").exists()


@pytest.mark.parametrize(
    "case",
    ["misspelled key", "misspelled parameter", "model name", "low above high", "intervention key"],
)
def test_command_line_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], folder: Path, case: str
) -> None:
    text, _pattern = CASES[case]
    err = cli_error(capsys, write(folder, text))
    assert str(folder) in err


def test_command_line_rejects_code(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    err = cli_error(capsys, write(folder, CODE["call as a number"][0]))
    assert "never expressions or code" in err


def test_extends_cycle_names_its_members(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    write(folder, "extends: b\nmodel: decay\n", "a")
    write(folder, "extends: c\n", "b")
    write(folder, "extends: a\n", "c")
    with pytest.raises(ScenarioError, match=r"extends: cycle a -> b -> c -> a \(got 3 scenarios"):
        load_scenario(folder / "a.yaml")
    err = cli_error(capsys, folder / "b.yaml")
    assert "cycle b -> c -> a -> b" in err


def test_a_scenario_extending_itself_is_a_cycle(folder: Path) -> None:
    with pytest.raises(ScenarioError, match=r"cycle self -> self"):
        load_scenario(write(folder, "extends: self\nmodel: decay\n", "self"))


def test_extends_suggests_a_close_name(folder: Path) -> None:
    write(folder, "model: decay\n", "baseline")
    with pytest.raises(ScenarioError, match=r"no scenario 'baseline2'.*Did you mean 'baseline'"):
        load_scenario(write(folder, "extends: baseline2\n"))


def test_missing_scenario_file(folder: Path) -> None:
    with pytest.raises(ScenarioError, match=r"no scenario file there"):
        load_scenario(folder / "absent.yaml")


def test_names_are_checked_in_the_file_that_wrote_them(folder: Path) -> None:
    write(folder, "model: decay\nset: {kk: 1}\n", "parent")
    with pytest.raises(ScenarioError, match=r"parent\.yaml: set\.kk"):
        load_scenario(write(folder, "extends: parent\n", "child"))


# -- the same checks for scenarios built in code ----------------------------------------------


def test_python_arguments_are_checked(folder: Path) -> None:
    with pytest.raises(ScenarioError, match=r"set\.k: expected a number \(got 'fast'\)"):
        Scenario(model="decay", set={"k": "fast"})  # type: ignore[dict-item]
    with pytest.raises(ScenarioError, match=r"method: unknown method 'eular'"):
        Scenario(model="decay", method="eular")
    with pytest.raises(ScenarioError, match=r"time\.sotp: unknown key 'sotp'"):
        Scenario(model="decay", time={"sotp": 1})
    with pytest.raises(ScenarioError, match=r"interventions: expected a list"):
        Scenario(model="decay", interventions={"set": "k"})  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"uncertainty\.members: expected a whole number"):
        Uncertainty(members=-3)
    with pytest.raises(ScenarioError, match=r"uncertainty\.sampling: unknown sampling 'sobel'"):
        Uncertainty(members=3, sampling="sobel")
    with pytest.raises(ScenarioError, match=r"uncertainty\.seed"):
        Uncertainty(members=3, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"model: no model is given"):
        Scenario().run()


def test_run_checks_names_of_scenarios_built_in_code(folder: Path) -> None:
    scenario = Scenario(model=folder.parent / "models" / "decay", set={"kk": 1})
    with pytest.raises(ScenarioError, match=r"set\.kk: 'kk' is unknown.*Did you mean 'k'"):
        scenario.run()


def test_intervention_and_distribution_objects_check_themselves() -> None:
    with pytest.raises(ScenarioError, match=r"step: give exactly one of 'by' and 'to'"):
        Step("k", 1.0)
    with pytest.raises(ScenarioError, match=r"ramp: 'until' must be after 'from'"):
        Ramp("k", 1.0, 2.0, 2.0)
    with pytest.raises(ScenarioError, match=r"pulse: 'width' must be positive"):
        Pulse("k", 1.0, 2.0, -1.0)
    with pytest.raises(ScenarioError, match=r"series: times must increase strictly"):
        Series("k", ())
    with pytest.raises(ScenarioError, match=r"uniform: low must be below high"):
        Distribution("uniform", {"low": 1.0, "high": 1.0})
    with pytest.raises(ScenarioError, match=r"discrete: values must not be empty"):
        Distribution("discrete", {"values": []})
    with pytest.raises(ScenarioError, match=r"discrete: values must be a list of numbers"):
        Distribution("discrete", {"values": 3})
    with pytest.raises(ScenarioError, match=r"normal: mean must be a finite number"):
        Distribution("normal", {"mean": float("nan"), "sd": 1.0})
    with pytest.raises(ScenarioError, match=r"unknown distribution 'gamma'"):
        Distribution("gamma", {})


def test_a_culture_the_model_never_reads_is_an_error_in_code_too(folder: Path) -> None:
    scenario = Scenario(model=folder.parent / "models" / "decay", culture=0.2)
    with pytest.raises(
        ScenarioError,
        match=r"^culture: the model never reads CULTURE, so the "
        r"culture would change nothing \(got culture: 0\.2\)",
    ):
        scenario.run()
    assert Scenario(model=folder.parent / "models" / "decay").run().results.n_members == 1


def test_a_model_that_lists_its_steps_keeps_them(folder: Path) -> None:
    listed = DECAY.replace(
        "time: {start: 0, stop: 10, dt: 0.25}",
        "time: {start: 0, stop: 2, step_times: [0, 1, 1.5, 2], saved_times: [0, 1.5]}",
    )
    (folder.parent / "models" / "decay" / "model.yaml").write_text(listed)
    path = write(folder, "model: decay\n")
    assert list(load_scenario(path).run().results.times) == [0.0, 1.5, 2.0]
    path = write(folder, "model: decay\ntime: {stop: 3}\n")
    with pytest.raises(
        ScenarioError,
        match=r"time: the model lists its time steps \(they change during the run\), so its "
        r"time cannot be overridden \(got \{'stop': 3\.0\}\)",
    ):
        load_scenario(path).run()
