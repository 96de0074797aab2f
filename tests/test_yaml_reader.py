"""The one YAML reader: bounds on aliases and depth, duplicate keys, values it cannot build."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import pssc_sim as ps
from pssc_sim.errors import SHOWN_LIMIT, shown
from pssc_sim.parse import yaml_reader
from pssc_sim.parse.yaml_reader import MAX_ALIAS_NODES, MAX_DEPTH, load_yaml
from pssc_sim.scenario.schema import ScenarioError


def laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" document: each anchor lists ``width`` aliases of the previous one."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_is_built() -> None:
    text = laughs(9)
    assert len(text) < 1024
    start = time.perf_counter()
    with pytest.raises(
        ps.ModelError,
        match=r"^m\.yaml: the document expands to more than "
        rf"{MAX_ALIAS_NODES} nodes through aliases \(got \d+ from \d+ written\)",
    ):
        load_yaml(text, "m.yaml")
    assert time.perf_counter() - start < 1.0


def test_aliases_within_the_budget_are_expanded() -> None:
    document = load_yaml(laughs(3, width=3), "m.yaml")
    assert document["l2"] == [[["lol"] * 3] * 3] * 3


def test_only_the_nodes_that_aliases_add_count_against_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(yaml_reader, "MAX_ALIAS_NODES", 50)
    written = "\n".join(f"k{i}: [1, 2, 3]" for i in range(30))  # 241 nodes, no alias
    assert len(load_yaml(written, "m.yaml")) == 30
    reused = "a: &a [1, 2, 3, 4]\n" + "".join(f"k{i}: *a\n" for i in range(10))  # adds 50
    assert len(load_yaml(reused, "m.yaml")) == 11
    with pytest.raises(
        ps.ModelError,
        match=r"more than 50 nodes through aliases \(got 73 from 18 "
        r"written\)",
    ):
        load_yaml(reused + "k10: *a\n", "m.yaml")


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(
        ps.ModelError,
        match=r"^m\.yaml: line 1: an alias refers to a node that "
        r"holds it, so the document never ends \(got a cycle\)",
    ):
        load_yaml("a: &a [1, *a]\n", "m.yaml")


@pytest.mark.parametrize(
    "text",
    ["[" * 10_000 + "]" * 10_000, "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 500))],
)
def test_deep_nesting_is_refused_while_composing(text: str) -> None:
    with pytest.raises(
        ps.ModelError,
        match=rf"^m\.yaml: line \d+, column \d+: the document is "
        rf"too deeply nested \(limit {MAX_DEPTH}, got {MAX_DEPTH + 1} levels",
    ):
        load_yaml(text, "m.yaml")


def test_nesting_at_the_limit_is_read() -> None:
    document = load_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH, "m.yaml")
    depth = 0
    while isinstance(document, list) and document:
        document, depth = document[0], depth + 1
    assert depth == MAX_DEPTH - 1


def test_deep_nesting_through_aliases_is_refused() -> None:
    text = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 2 * MAX_DEPTH))
    with pytest.raises(
        ps.ModelError,
        match=r"^m\.yaml: the document is too deeply nested through "
        rf"aliases \(limit {MAX_DEPTH}, got {2 * MAX_DEPTH + 2} levels\)",
    ):
        load_yaml(text, "m.yaml")


@pytest.mark.parametrize(
    ("text", "line", "first"),
    [
        ("model: a\nstocks:\n  x: 1\n  y: 2\n  x: 3\n", 5, 3),
        ("{a: 1, b: 2, a: 3}", 1, 1),
        ("a: 1\n'a': 2\n", 2, 1),
    ],
)
def test_a_duplicate_key_is_refused_naming_both_lines(text: str, line: int, first: int) -> None:
    key = "x" if "x: 3" in text else "a"
    with pytest.raises(
        ps.ModelError,
        match=rf"^m\.yaml: line {line}: duplicate key '{key}' "
        rf"\(first at line {first}\)\. Keep one of the two entries",
    ):
        load_yaml(text, "m.yaml")


def test_a_merged_key_may_be_overridden() -> None:
    document = load_yaml("base: &b {x: 1, y: 2}\nc: {<<: *b, x: 3}\n", "m.yaml")
    assert document["c"] == {"x": 3, "y": 2}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2001-13-45", "month must be in 1..12"),
        ("!!float abc", "could not convert string to float"),
        ("9" * 5000, "xceeds the limit"),
    ],
)
def test_a_value_the_safe_constructor_cannot_build_is_reported_where_it_is(
    value: str, problem: str
) -> None:
    with pytest.raises(
        ps.ModelError,
        match=r"^m\.yaml: line 2, column 4: cannot read the value "
        rf"'.*{problem}.*\)\. Quote it to keep it as text",
    ):
        load_yaml(f"x: 1\na: {value}\n", "m.yaml")


def test_a_control_character_is_reported_by_position() -> None:
    with pytest.raises(
        ps.ModelError,
        match=r"^m\.yaml: invalid YAML at character 4 \(special "
        r"characters are not allowed: #x0007\)",
    ):
        load_yaml("a: \x07", "m.yaml")


def test_a_scenario_file_goes_through_the_same_bounds(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("model: teacup\n" + laughs(9), encoding="utf-8")
    with pytest.raises(ScenarioError, match="expands to more than"):
        ps.Scenario.load(path)


def test_an_echoed_value_is_cut_to_a_short_repr_with_control_characters_escaped() -> None:
    text = shown("\x1b[31m" + "x" * 10_000 + "\n")
    assert len(text) <= SHOWN_LIMIT + 30
    assert "\x1b" not in text
    assert text.startswith("'\\x1b[31mxxx")
    assert text.endswith("(10006 characters)")
    assert shown(10**5000) == "<int>"
    nested: list[object] = [1]
    for _ in range(10_000):
        nested = [nested, nested]
    assert len(shown(nested)) <= SHOWN_LIMIT
