"""Names read from files follow one rule: a model name is an identifier, a scenario name a label;
refused values are shown escaped and cut short."""

from __future__ import annotations

from pathlib import Path

import pytest

import pssc_sim as ps
from pssc_sim.compile.compiler import compile_model
from pssc_sim.errors import ModelError
from pssc_sim.parse.identifiers import SHOWN_CHARACTERS, is_identifier, is_label, shown
from pssc_sim.scenario.definition import load_scenario
from pssc_sim.scenario.schema import ScenarioError

BODY = "time: {stop: 1}\nstocks: {x: 1}\nflows: {out: {from: x, rate: x}}\n"


def model_file(folder: Path, header: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.yaml"
    path.write_text(header + BODY, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["teacup", "a", "sir_2", "Waiting_List"])
def test_identifiers_pass_both_rules(name: str) -> None:
    assert is_identifier(name)
    assert is_label(name)


@pytest.mark.parametrize(
    "name", ["", "2x", "_x", "x y", "x-y", "x\n", "x;y", "é", 3, None, "x\nimport os"]
)
def test_other_text_is_not_an_identifier(name: object) -> None:
    assert not is_identifier(name)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("quit-count-target", True),
        ("2030-plan", True),
        ("base line", False),
        ("-x", False),
        ("x\ny", False),
        ("x\x1b[2J", False),
        ("", False),
    ],
)
def test_scenario_labels_allow_hyphens_only(name: str, ok: bool) -> None:
    assert is_label(name) is ok


def test_shown_values_are_escaped_and_cut() -> None:
    text = shown("x\nimport os\x1b[31m" + "y" * 1000)
    assert "\n" not in text
    assert "\x1b" not in text
    assert text.startswith("'x\\nimport os\\x1b[31m")
    assert len(text) <= SHOWN_CHARACTERS + 3
    assert text.endswith("...")


@pytest.mark.parametrize(
    ("header", "got"),
    [
        ("model: \"x\\nimport os; os.system('touch canary')\\n#\"\n", r"got \"x\\nimport os"),
        ("model: my model\n", "got 'my model'"),
        ("model: 42\n", "got '42'"),
        ("model: [a, b]\n", r"got \"\['a', 'b'\]\""),
    ],
)
def test_a_model_name_that_is_not_an_identifier_is_refused(
    tmp_path: Path, header: str, got: str
) -> None:
    path = model_file(tmp_path / "ok", header)
    with pytest.raises(
        ModelError,
        match=rf"model\.yaml: model: not a valid model name \({got}.*"
        r"\)\. Use a snake_case name .* put free text under "
        "'title:'",
    ):
        ps.load_model(path)


def test_a_long_model_name_is_shown_cut_short(tmp_path: Path) -> None:
    path = model_file(tmp_path / "ok", f'model: "{"x" * 5000}-"\n')
    with pytest.raises(ModelError) as info:
        ps.load_model(path)
    assert len(str(info.value)) < SHOWN_CHARACTERS + 300


def test_a_folder_name_that_is_not_an_identifier_is_refused(tmp_path: Path) -> None:
    path = model_file(tmp_path / "x\nimport os", "")
    with pytest.raises(
        ModelError,
        match=r"model: the folder name is not a valid model name "
        r"\(got 'x\\nimport os'\)\. Add 'model: a_name'",
    ):
        ps.load_model(path)


def test_a_named_model_may_live_in_any_folder(tmp_path: Path) -> None:
    path = model_file(tmp_path / "my models (2)", "model: decay\n")
    assert ps.load_model(path).name == "decay"


def test_a_title_is_free_text_that_never_enters_generated_code(tmp_path: Path) -> None:
    path = model_file(
        tmp_path / "ok",
        "model: decay\ntitle: \"D\u00e9cor\\nimport os; os.system('touch canary') #\"\n",
    )
    model = ps.load_model(path)
    assert model.title == "D\u00e9cor\nimport os; os.system('touch canary') #"
    source = compile_model(model).source
    for text in ("canary", "cor", "decay"):
        assert text not in source


def test_a_scenario_name_must_be_a_label(tmp_path: Path) -> None:
    model_file(tmp_path / "models" / "decay", "model: decay\n")
    path = tmp_path / "s.yaml"
    path.write_text('scenario: "base\\nline"\nmodel: models/decay\n', encoding="utf-8")
    with pytest.raises(
        ScenarioError,
        match=r"s\.yaml: scenario: not a valid scenario name "
        r"\(got 'base\\nline'\)\. Use letters, digits, "
        "underscores and hyphens",
    ):
        load_scenario(path)
