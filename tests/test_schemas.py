"""The JSON Schema of model files: built from the reader's key tables, so the keys it lists are
the keys the reader accepts; every example model validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pssc_sim.cli import main
from pssc_sim.errors import ModelError
from pssc_sim.parse import load_model
from pssc_sim.parse.dimensions import DIMENSION_KEYS, array_keys
from pssc_sim.parse.includes import INCLUDE_KEYS
from pssc_sim.parse.model_file import KEYS, SECTIONS, SPREAD_KEYS, TIME_KEYS, TOP_KEYS
from pssc_sim.parse.schema import model_json_schema

jsonschema = pytest.importorskip("jsonschema")

MODELS = Path(__file__).resolve().parent.parent / "models"
SCHEMA = model_json_schema()


def as_json(path: Path) -> object:
    # YAML reads the keys true: and false: as booleans, and a date such as time.origin's as a
    # date; JSON (and an editor) sees text
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


def test_the_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted(MODELS.glob("*/model.yaml")), ids=lambda p: p.parent.name)
def test_every_example_model_validates(path: Path) -> None:
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(as_json(path)))
    assert errors == []


def entry_keys(section: str) -> set[str]:
    entry = SCHEMA["properties"][section]["additionalProperties"]
    mapping = entry["oneOf"][0] if "oneOf" in entry else entry
    return set(mapping["properties"])


@pytest.mark.parametrize("section", [*SECTIONS, "measures"])
def test_the_schema_lists_exactly_the_keys_the_reader_accepts(section: str) -> None:
    assert entry_keys(section) == {*KEYS[section], *array_keys(section)}


def test_the_other_key_sets_agree() -> None:
    properties = SCHEMA["properties"]
    assert list(properties) == list(TOP_KEYS)
    assert set(properties["time"]["properties"]) == set(TIME_KEYS)
    assert set(properties["include"]["additionalProperties"]["properties"]) == set(INCLUDE_KEYS)
    dimension = properties["dimensions"]["additionalProperties"]["oneOf"][1]
    assert set(dimension["properties"]) == set(DIMENSION_KEYS)
    spread = properties["measures"]["additionalProperties"]["properties"]["distribution"]
    assert set(spread["properties"]) == set(SPREAD_KEYS)


def test_a_misspelt_key_fails_the_schema_and_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("time: {stop: 1}\nstocks: {x: {intial: 1}}\n")
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(as_json(path))
    with pytest.raises(ModelError, match=r"stocks\.x\.intial: unknown key 'intial'"):
        load_model(path)


def test_pssc_schema_model_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "model"]) == 0
    assert json.loads(capsys.readouterr().out) == SCHEMA


def test_pssc_schema_model_takes_no_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "model", "--model", str(MODELS / "sir")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "pssc: error: --model: lists the parameters of the scenario schema; "
        "the model file schema takes no model (got "
    )
    assert err.count("\n") == 1
