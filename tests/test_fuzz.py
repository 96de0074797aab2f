"""Fuzzing the readers of untrusted text: arbitrary YAML documents (as text and as structured data
of the model and scenario schemas, with anchors and aliases) through the model reader and the
scenario reader, and arbitrary equation text through the expression parser.

Properties: only the project's own errors are raised (a :class:`~pssc_sim.PsscSimError`), each
example is read within the deadline, and no input runs as code (the canary file that the
strategies try to create never appears).

The Vensim pre-check is not fuzzed here: this source tree has no pre-check of ``.mdl`` text.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from strategies import (
    CANARY,
    CODE,
    CODE_TAGS,
    aliased_texts,
    documents,
    expression_texts,
    model_documents,
    yaml_texts,
)

import pssc_sim as ps
from pssc_sim.parse.expressions import Namespace, parse_expression
from pssc_sim.parse.model_file import read_document
from pssc_sim.parse.yaml_reader import load_yaml
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.reader import scenario_arguments, where_in
from pssc_sim.scenario.schema import ScenarioError

ROOT = Path(__file__).parent.parent
#: Where relative paths in the scenarios point (nothing is written there).
FOLDER = ROOT / "scenarios" / "teacup"
NAMESPACE = Namespace(variables={"a", "b", "c", "x"}, lookups={"f"}, measures={"m"})
#: Budget per test, chosen so the whole suite takes about 20-30 s on a CI machine.
FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True)
def no_canary() -> Iterator[None]:
    CANARY.unlink(missing_ok=True)
    yield
    assert not CANARY.exists(), f"input ran as code: {CANARY} was created"


def only_our_errors(read: Callable[[], Any]) -> None:
    """Run ``read``; a refusal must be one of the project's errors, and nothing may run."""
    with contextlib.suppress(ps.PsscSimError):
        read()
    assert not CANARY.exists(), f"input ran as code: {CANARY} was created"


@functools.cache
def teacup() -> ps.Model:
    return ps.load_model(ROOT / "models" / "teacup")


@FUZZ
@given(text=expression_texts)
@example(text=CODE[0])
@example(text="ZIDZ(1, MAX(a, ZIDZ(1, MAX(a, a))))")  # sympy: "zoo is not comparable"
@example(text="MODULO(1, 0)")  # sympy: ZeroDivisionError
@example(text="-" * 3000 + "a")  # RecursionError while the parser builds the tree
@example(text=" ** ".join(["a"] * 3000))  # MemoryError: the parser's stack overflows
@example(text=" + ".join(["a"] * 5000))  # a flat sum: read, not refused
@example(text="XIDZ(a, b + LN(1 + " * 4 + "a" + "), 1)" * 4)  # exponential folding
@example(text="(1/0) > 1")  # sympy: invalid comparison of zoo
def test_the_expression_parser_raises_only_its_own_errors(text: str) -> None:
    only_our_errors(lambda: parse_expression(text, where="m.yaml: x", namespace=NAMESPACE))


@FUZZ
@given(text=yaml_texts)
@example(text="a: 2001-13-45")  # ValueError from the date constructor
@example(text="a: " + "9" * 5000)  # ValueError: an integer of too many digits
@example(text="a: &a [1, *a]")  # an alias inside its own anchor
@example(text="[" * 10_000 + "]" * 10_000)  # RecursionError in the composer
@example(text="a: \x07")  # a control character
@example(text=f"model: fuzz\nstocks: {{x: {CODE_TAGS[0]}}}\n")
def test_the_model_reader_raises_only_its_own_errors(text: str) -> None:
    only_our_errors(lambda: ps.load_model_text(text, name="fuzz"))


@FUZZ
@given(document=model_documents() | documents)
@example(document={"time": {"stop": 1}, "lookups": {"f": {"points": [[0, 1], [float("nan"), 2]]}}})
@example(document={"time": {"stop": 1}, "stocks": {"x": "a__b"}})
def test_a_model_document_raises_only_its_own_errors(document: object) -> None:
    only_our_errors(lambda: read_document("fuzz.yaml", document))


def read_scenario(text: str, folder: Path, model: ps.Model) -> None:
    document = load_yaml(text, "s.yaml", error=ScenarioError, no_code="no code")
    if not isinstance(document, dict):
        return
    arguments = scenario_arguments(document, where_in("s.yaml"))
    arguments.pop("extends", None)
    arguments.pop("model", None)
    Scenario(model=model, **arguments, folder=folder).check(model)


@FUZZ
@given(text=yaml_texts | documents.map(str) | aliased_texts())
@example(text="interventions: [{set: room_temperature, to: .nan, at: 1}]")
@example(text="uncertainty: {members: 1e999}")
def test_the_scenario_reader_raises_only_its_own_errors(text: str) -> None:
    model = teacup()
    only_our_errors(lambda: read_scenario(text, FOLDER, model))


@FUZZ
@given(document=documents)
def test_a_scenario_document_raises_only_its_own_errors(document: object) -> None:
    model = teacup()

    def read() -> None:
        if isinstance(document, dict):
            arguments = scenario_arguments(document, where_in("s.yaml"))
            arguments.pop("extends", None)
            arguments.pop("model", None)
            Scenario(model=model, **arguments, folder=FOLDER).check(model)

    only_our_errors(read)
