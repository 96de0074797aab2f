"""``pssc loops``, ``pssc cld`` and ``pssc check`` end to end, and the diagram's layout."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from pssc_sim.analysis.diagram import draw_cld, neighbourhood
from pssc_sim.cli import main
from pssc_sim.errors import ParameterError
from pssc_sim.ir.causal import causal_graph
from pssc_sim.parse import load_model
from pssc_sim.parse.cld_file import load_cld_file

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
LOGISTIC = """
time: {stop: 40, dt: 0.0625}
parameters: {r: 0.5, capacity: 1000}
stocks: {population: 1}
flows:
  net_growth: {to: population, rate: population * growth_fraction}
auxiliaries:
  growth_fraction: r * (1 - population / capacity)
"""


def test_loops_of_the_sir_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loops", str(ROOT / "models" / "sir"), "--json"]) == 0
    loops = json.loads(capsys.readouterr().out)
    found = {tuple(lp["variables"]): lp["polarity"] for lp in loops}
    # The three classic loops, plus those through total_population (an auxiliary summing the
    # stocks, so structurally a cause of infection even though its value stays constant).
    assert found[("infected", "infection")] == "R"
    assert found[("infected", "recovery")] == "B"
    assert found[("infection", "susceptible")] == "B"
    assert sorted(found.values()) == ["B", "B", "B", "B", "R", "R"]
    assert all(set(lp) == {"name", "polarity", "variables"} for lp in loops)


def test_loop_dominance_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "logistic.yaml"
    model.write_text(LOGISTIC)
    plot = tmp_path / "dominance.png"
    assert main(["loops", str(model), "--dominance", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    phases = [
        line.split()[-1]
        for line in out.splitlines()[out.splitlines().index("dominant loops:") + 1 :]
        if line.strip() and not line.startswith("wrote")
    ]
    assert phases == ["R1", "B1"]
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_dominance_of_a_diagram_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diagram = tmp_path / "map.yaml"
    diagram.write_text("cld: m\nlinks:\n  - [a, b, '+']\n  - [b, a, '+']\n")
    assert main(["loops", str(diagram)]) == 0
    assert "R1    reinforcing" in capsys.readouterr().out
    assert main(["loops", str(diagram), "--dominance"]) == 2
    assert "a diagram file has no equations to run" in capsys.readouterr().err


def test_cld_writes_svg_and_png(tmp_path: Path) -> None:
    assert main(["cld", str(ROOT / "models" / "sir"), "-o", str(tmp_path / "sir.svg")]) == 0
    assert "<svg" in (tmp_path / "sir.svg").read_text()
    assert (
        main(
            [
                "cld",
                str(ROOT / "models" / "teacup"),
                "-o",
                str(tmp_path / "t.png"),
                "--around",
                "teacup_temperature",
                "--depth",
                "1",
            ]
        )
        == 0
    )
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")


def test_cld_rejects_an_unknown_format_and_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cld", str(ROOT / "models" / "sir"), "-o", str(tmp_path / "x.gif")]) == 2
    assert "unsupported diagram format '.gif'" in capsys.readouterr().err
    assert (
        main(
            [
                "cld",
                str(ROOT / "models" / "sir"),
                "-o",
                str(tmp_path / "x.png"),
                "--around",
                "infectd",
            ]
        )
        == 2
    )
    assert "unknown variable 'infectd'" in capsys.readouterr().err


def test_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.yaml"
    model.write_text(
        "time: {stop: 5, units: year}\nparameters: {k: {value: 1, units: 1/year}}\n"
        "stocks: {x: {initial: 1, units: people}}\n"
        "flows: {f: {to: x, rate: x + k, units: people/year}}\n"
    )
    assert main(["check", str(model), "--json"]) == 1
    kinds = [row["kind"] for row in json.loads(capsys.readouterr().out)]
    assert kinds == ["units", "source"]
    assert main(["check", str(tmp_path / "missing.yaml")]) == 2


def _ring_graph(n: int, extra: int = 12):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    links = [f"  - [variable_number_{i}, variable_number_{(i + 1) % n}, '+']" for i in range(n)]
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, n, (extra, 2)) if a != b}
    links += [
        f"  - [variable_number_{a}, variable_number_{b}, '-']"
        for a, b in sorted(pairs)
        if (b - a) % n != 1
    ]
    stocks = "".join(f"  variable_number_{i}: {{kind: stock}}\n" for i in range(0, n, 3))
    return "cld: ring\nvariables:\n" + stocks + "links:\n" + "\n".join(links) + "\n"


def test_a_thirty_variable_diagram_has_no_overlapping_labels(tmp_path: Path) -> None:
    path = tmp_path / "ring.yaml"
    path.write_text(_ring_graph(30))
    graph = load_cld_file(path)
    ax = draw_cld(graph)
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    labels = [
        t for t in ax.texts if t.get_text().replace("\n", " ").replace(" ", "_") in graph.nodes
    ]
    assert len(labels) == 30
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    signs = [t for t in ax.texts if t.get_text() in ("+", "\u2212", "?")]
    assert len(signs) == len(graph.links)


def test_neighbourhood_follows_causes_and_uses() -> None:
    graph = causal_graph(load_model(ROOT / "models" / "sir"))
    near = neighbourhood(graph, "recovery", 1)
    assert set(near.nodes) == {"recovery", "infected", "recovered", "duration"}
    with pytest.raises(ParameterError, match="depth: must be at least 1"):
        neighbourhood(graph, "recovery", 0)
