"""Hostile input for ``pssc strategy-map``: a perspective that is markup, an output that is a
folder and a YAML tag that would build an object are refused with one line; names that are
markup end up as escaped text in the SVG, never as elements."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.hostile.hostile_cli import assert_refused, run_cli

MARKUP = '</title><script>alert(1)</script><title x="'


def _diagram(folder: Path, perspective: str, name: str = "outcome_measure") -> Path:
    path = folder / "map.yaml"
    path.write_text(
        f"cld: hostile\nvariables:\n  {name!r}: {{perspective: {perspective}}}\n"
        f"  capability_measure: {{perspective: capability}}\n"
        f"links:\n  - [capability_measure, {name!r}, '+']\n"
    )
    return path


@pytest.mark.parametrize(
    ("perspective", "match"),
    [
        ("'<script>alert(1)</script>'", "unknown perspective"),
        ("!!python/object/apply:os.system ['touch canary']", "map.yaml"),
    ],
)
def test_hostile_perspectives_are_refused(tmp_path: Path, perspective: str, match: str) -> None:
    diagram = _diagram(tmp_path, perspective)
    run = run_cli("strategy-map", diagram, "-o", tmp_path / "map.svg", cwd=tmp_path)
    assert_refused(run, canary=tmp_path / "canary", match=match)


def test_an_output_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    diagram = _diagram(tmp_path, "outcome")
    (tmp_path / "map.svg").mkdir()
    run = run_cli("strategy-map", diagram, "-o", tmp_path / "map.svg", cwd=tmp_path)
    assert_refused(run, match="map.svg")


def test_markup_in_names_stays_text(tmp_path: Path) -> None:
    diagram = _diagram(tmp_path, "outcome", name=MARKUP)
    run = run_cli("strategy-map", diagram, "-o", tmp_path / "map.svg", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    root = ET.parse(tmp_path / "map.svg").getroot()  # well-formed: every name was escaped
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    assert "script" not in tags
    titles = [element.text or "" for element in root.iter() if element.tag.endswith("title")]
    assert any(MARKUP in title for title in titles)
