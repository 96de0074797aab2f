"""Code in model text: every route by which file text could reach Python is refused, or (a title,
free text) carried along without ever running.

Each hostile file tries to create a canary file; each command is run in a child process
(``hostile_cli.run_cli``). The Python API (``simulate``) is called in this process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_cli import CliRun, assert_refused, run_cli

import pssc_sim as ps
from pssc_sim.errors import PsscSimError

BODY = (
    "time: {stop: 2, dt: 0.5}\nparameters: {k: 0.5}\nstocks: {x: 10}\n"
    "flows: {out: {from: x, rate: k * x}}\n"
)
#: Commands that read a model file, each given the model's path.
COMMANDS: dict[str, Callable[[Path], list[str | Path]]] = {
    "run": lambda model: ["run", model],
    "check": lambda model: ["check", model],
    "compare": lambda model: ["compare", model, model],
    "loops --dominance": lambda model: ["loops", "--dominance", "--", model],
}
CONTROLS = "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 0.5 ~~|\nSAVEPER = 0.5 ~~|\n"


def code(canary: Path) -> str:
    """Python that creates ``canary`` if it ever runs."""
    return f"__import__('os').system('touch {canary}')"


def yaml_model(folder: Path, header: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.yaml"
    path.write_text(header + BODY, encoding="utf-8")
    return path


def vensim_model(folder: Path, lookup: str) -> Path:
    path = folder / "hostile.mdl"
    path.write_text(f"{{UTF-8}}\n{lookup}\nx = t(Time) ~~|\n{CONTROLS}", encoding="utf-8")
    return path


def xmile_model(folder: Path, flow: str, head: str = "", gf: str = "") -> Path:
    path = folder / "hostile.xmile"
    path.write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n{head}'
        '<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">\n'
        "<header><name>m</name></header>\n"
        "<sim_specs><start>0</start><stop>1</stop><dt>0.5</dt></sim_specs>\n"
        "<model><variables>\n"
        '<stock name="x"><eqn>1</eqn><outflow>out</outflow></stock>\n'
        f'<flow name="out"><eqn>{flow}</eqn></flow>\n{gf}'
        "</variables></model>\n</xmile>\n",
        encoding="utf-8",
    )
    return path


def refused_in_python(path: Path, canary: Path) -> None:
    with pytest.raises(PsscSimError):
        ps.simulate(ps.load_model(path))
    assert not canary.exists(), f"model text ran as code: {canary} was created"


def refused(run: CliRun, canary: Path, match: str) -> None:
    assert_refused(run, canary=canary, match=match)


# -- the model's name and folder ---------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_a_model_name_holding_code_is_refused(tmp_path: Path, command: str) -> None:
    canary = tmp_path / "canary"
    name = f"x\\n{code(canary)}\\n#".replace('"', "'")
    model = yaml_model(tmp_path / "m", f'model: "{name}"\n')
    run = run_cli(*COMMANDS[command](model), cwd=tmp_path)
    refused(run, canary, "model: not a valid model name")
    refused_in_python(model, canary)


def test_a_folder_name_holding_code_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    model = yaml_model(tmp_path / f"x\n{code(canary)}\n#", "")
    refused(run_cli("run", model, cwd=tmp_path), canary, "the folder name is not a valid model")
    refused_in_python(model, canary)


def test_a_scenario_name_holding_code_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    yaml_model(tmp_path / "m", "model: decay\n")
    scenario = tmp_path / "s.yaml"
    name = f"x\\n{code(canary)}\\n#".replace('"', "'")
    scenario.write_text(f'scenario: "{name}"\nmodel: m\n', encoding="utf-8")
    for command in (["run", scenario], ["compare", scenario, scenario]):
        refused(run_cli(*command, cwd=tmp_path), canary, "scenario: not a valid scenario name")


def test_a_title_holding_code_is_free_text_that_never_runs(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    title = f"x\\n{code(canary)}\\n#".replace('"', "'")
    model = yaml_model(tmp_path / "m", f'model: decay\ntitle: "{title}"\n')
    for name, command in COMMANDS.items():
        run = run_cli(*command(model), cwd=tmp_path)
        # check exits 1 when it has findings about the model (units, sources)
        assert run.returncode in ((0, 1) if name == "check" else (0,)), run.stderr[-2000:]
        assert "Traceback" not in run.stderr
        assert not canary.exists()
    assert ps.simulate(ps.load_model(model)).model_name == "decay"
    assert not canary.exists()


# -- Vensim: text the translator evaluates -----------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_a_vensim_lookup_range_holding_code_is_refused(tmp_path: Path, command: str) -> None:
    canary = tmp_path / "canary"
    model = vensim_model(tmp_path, f"t( [({code(canary)},0)-(1,1)],(0,0),(1,1))\n~~|")
    run = run_cli(*COMMANDS[command](model), cwd=tmp_path)
    refused(run, canary, "hostile.mdl: t: a lookup range must be numbers")
    refused_in_python(model, canary)


@pytest.mark.parametrize(
    "lookup",
    [
        "x2 = WITH LOOKUP(Time, ([({code},0)-(1,1)],(0,0),(1,1))) ~~|",
        "t2( \\\n\t[({code},0)-(1,1)],(0,0),(1,1))\n~~|",
        "t2([(0,0)-(1,1),({code},1)],(0,0),(1,1))\n~~|",
    ],
)
def test_every_vensim_lookup_range_form_is_checked(tmp_path: Path, lookup: str) -> None:
    canary = tmp_path / "canary"
    model = vensim_model(tmp_path, "t([(0,0)-(1,1)],(0,0),(1,1)) ~~|\n" + lookup.format(
        code=code(canary)))  # fmt: skip
    refused(run_cli("run", model, cwd=tmp_path), canary, ": a lookup range must be numbers")
    refused_in_python(model, canary)


def test_the_vensim_template_runs(tmp_path: Path) -> None:
    model = vensim_model(tmp_path, "t( [(0,0)-(1,1)],(0,0),(1,1))\n~~|")
    assert ps.simulate(ps.load_model(model)).names


# -- XMILE -------------------------------------------------------------------------------------


def test_xmile_equations_holding_code_are_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    flow = code(canary).replace("'", "&quot;")
    model = xmile_model(tmp_path, flow)
    refused(run_cli("run", model, cwd=tmp_path), canary, "hostile.xmile: ")
    refused_in_python(model, canary)


def test_an_xmile_graphical_function_holding_code_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    gf = (
        f'<aux name="g"><eqn>TIME</eqn><gf><xscale min="{code(canary)}" max="1"/>'
        "<ypts>0,1</ypts></gf></aux>\n"
    ).replace("'", "&apos;")
    model = xmile_model(tmp_path, "x * g", gf=gf)
    refused(run_cli("run", model, cwd=tmp_path), canary, "hostile.xmile: ")
    refused_in_python(model, canary)


def test_an_xmile_entity_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    head = '<!DOCTYPE xmile [<!ENTITY e SYSTEM "file:///etc/hostname">]>\n'
    model = xmile_model(tmp_path, "x * 0 + &e;", head=head)
    refused(run_cli("run", model, cwd=tmp_path), canary, "a document type declaration")
    refused_in_python(model, canary)


def test_the_xmile_template_runs(tmp_path: Path) -> None:
    model = xmile_model(tmp_path, "x * 0.5")
    assert ps.simulate(ps.load_model(model)).names
