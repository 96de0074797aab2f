"""Fuzzing the readers of untrusted text: arbitrary YAML documents (as text and as structured data
of the model and scenario schemas, with anchors and aliases) through the model reader and the
scenario reader, arbitrary equation text through the expression parser, and Vensim and XMILE files
through the pre-check of imported models and PySD's translators.

Properties: only the project's own errors are raised (a :class:`~pssc_sim.PsscSimError`), each
example is read within the deadline, and no input runs as code (the canary file that the
strategies try to create never appears).
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
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
    VENSIM_CONTROLS,
    XMILE_HEAD,
    aliased_texts,
    code_ranges,
    documents,
    expression_texts,
    model_documents,
    numeric_ranges,
    range_openers,
    vensim_noise,
    vensim_texts,
    xmile_fragments,
    yaml_texts,
)

import pssc_sim as ps
from pssc_sim.errors import ModelError
from pssc_sim.parse.documents import read_document
from pssc_sim.parse.expressions import Namespace, parse_expression
from pssc_sim.parse.translate import document as translate_document
from pssc_sim.parse.translate.precheck import check_vensim_text
from pssc_sim.parse.yaml_reader import load_yaml
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.fields import where_in
from pssc_sim.scenario.reader import scenario_arguments
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


#: Imported files go through PySD's translators (about 10 ms a file once PySD is loaded).
IMPORT_FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def load_file(name: str, data: bytes) -> None:
    """Load ``data`` as the model file ``name`` in a folder of its own."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        ps.load_model(path)


def test_the_canary_sees_a_range_run_as_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the pre-check PySD runs a lookup range as Python, and the canary shows it: the
    fuzzing of imported files below can see what it looks for."""
    monkeypatch.setattr(translate_document, "check_vensim_text", lambda file, text: None)
    text = f"t( [({CODE[0]},0)-(1,1)],(0,0),(1,1)) ~~|\ny = t(Time) ~~|\n" + VENSIM_CONTROLS
    load_file("m.mdl", text.encode())
    assert CANARY.exists()
    CANARY.unlink()


@settings(max_examples=200, deadline=None)
@given(opener=range_openers, text=numeric_ranges)
def test_the_precheck_passes_a_range_of_plain_numbers(opener: str, text: str) -> None:
    check_vensim_text("m.mdl", f"t{opener}{text},(0,0),(1,1)) ~~|\n" + VENSIM_CONTROLS)


@settings(max_examples=100, deadline=None)
@given(opener=range_openers, text=code_ranges)
def test_the_precheck_refuses_code_in_any_place_of_a_range(opener: str, text: str) -> None:
    with pytest.raises(
        ModelError,
        match=r"^m\.mdl: t: a lookup range must be numbers \(got "
        r"['\"]\[.*\)\. Write it as \[\(x_min,y_min\)-\(x_max,y_max\)\] with plain "
        "numbers$",
    ):
        check_vensim_text("m.mdl", f"t{opener}{text},(0,0),(1,1)) ~~|\n" + VENSIM_CONTROLS)


@IMPORT_FUZZ
@given(text=vensim_texts() | vensim_noise)
@example(text=f"t( [({CODE[0]},0)-(1,1)],(0,0),(1,1)) ~~|\ny = t(Time) ~~|\n" + VENSIM_CONTROLS)
@example(
    text="y = WITH LOOKUP(Time, (\\\n[(0,0)-(1,1),(1,2)],(0,0),(1,1))) ~~|\n" + VENSIM_CONTROLS
)
@example(text="t( [(0,0)-(1,1)],(0,0),(1,1)) ~~|\ny = t(Time) ~~|\n" + VENSIM_CONTROLS)
def test_a_vensim_file_loads_or_is_refused_and_runs_no_code(text: str) -> None:
    only_our_errors(lambda: load_file("m.mdl", text.encode("utf-8")))


@IMPORT_FUZZ
@given(data=xmile_fragments())
@example(
    data=(
        XMILE_HEAD + '<model><variables><aux name="x"><eqn>1</eqn></aux></variables>'
        "</model></xmile>"
    ).encode()
)
@example(
    data=(
        '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        + XMILE_HEAD
        + "<model/></xmile>"
    ).encode()
)
def test_an_xmile_file_loads_or_is_refused_and_runs_no_code(data: bytes) -> None:
    only_our_errors(lambda: load_file("m.xmile", data))
