"""Progress of runs: the callback of ``simulate`` and the bar of the command line."""

from __future__ import annotations

import io
import itertools
import time
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.cli.scenario import ProgressBar, command_run, progress
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.progress import ProgressReport

ROOT = Path(__file__).resolve().parents[1]
MODEL = (
    "time: {stop: 10, dt: 0.01}\nparameters: {k: 0.1}\nstocks: {x: 1}\n"
    "flows: {out: {from: x, rate: k * x}}\n"
)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def decay(tmp_path: Path) -> Path:
    path = tmp_path / "decay.yaml"
    path.write_text(MODEL)
    return path


@pytest.mark.parametrize("method", ["euler", "rk4", "rk45"])
@pytest.mark.parametrize("members", [1, 10])
def test_fractions_rise_and_end_at_one(
    decay: Path, method: str, members: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pssc_sim.integrate.progress.INTERVAL", 0.0)  # report every block
    params = {"k": np.linspace(0.1, 0.2, members)} if members > 1 else None
    seen: list[float] = []
    ps.simulate(ps.load_model(decay), params, method=method, chunk=3, progress=seen.append)
    assert seen[-1] == 1.0
    assert len(seen) >= 2  # reported during the run, not only at the end
    assert seen[0] > 0.0
    assert all(a < b for a, b in itertools.pairwise(seen))


def test_fractions_follow_the_chunks_of_an_ensemble() -> None:
    # two chunks of 2 members: half the span of the first is a quarter of the run, the end of the
    # first chunk a half, and the run ends at one
    seen: list[float] = []
    report = ProgressReport(seen.append, Grid(0.0, 10.0, 1.0, 1.0), members=4, interval=0.0)
    report.chunk(0, 2)
    report.reached(5.0)
    report.reached(10.0)
    report.chunk(2, 4)
    report.reached(2.5)
    report.finish()
    assert seen == [0.25, 0.5, 0.625, 1.0]


def test_reports_are_throttled_in_time() -> None:
    now = [0.0]
    seen: list[float] = []
    report = ProgressReport(
        seen.append, Grid(0.0, 10.0, 1.0, 1.0), members=1, interval=0.1, clock=lambda: now[0]
    )
    for step in range(1, 11):
        now[0] = step * 0.03  # a report every 0.03 s: a call at most every 0.1 s
        report.reached(float(step))
    report.finish()
    assert seen == [0.4, 0.8, 1.0]


def test_a_run_without_callback_gives_the_same_values(decay: Path) -> None:
    params = {"k": np.linspace(0.1, 0.2, 5)}
    plain = ps.simulate(ps.load_model(decay), params)
    seen: list[float] = []
    tracked = ps.simulate(ps.load_model(decay), params, progress=seen.append)
    assert np.array_equal(plain.values, tracked.values)
    assert seen[-1] == 1.0


def test_the_bar_shows_fraction_percentage_and_time_left() -> None:
    bar = ProgressBar("running sir", width=10)
    assert bar.line(0.5) == "running sir  0.5 s"  # nothing reported yet: the time alone
    bar(0.0)
    assert bar.line(0.5) == "running sir [..........]   0%  0.5 s"
    bar(0.25)
    assert bar.line(3.0) == "running sir [##........]  25%  3.0 s, about 9.0 s left"
    bar(0.1)  # never goes back
    assert bar.fraction == 0.25
    bar(1.0)
    assert bar.line(4.0) == "running sir [##########] 100%  4.0 s"


def test_a_long_label_is_shortened_to_fit_the_terminal() -> None:
    bar = ProgressBar("running a scenario with a very long name (1000 members)", width=10)
    bar(0.5)
    line = bar.line(2.0, columns=60)
    assert len(line) <= 60
    assert line.endswith("[#####.....]  50%  2.0 s, about 2.0 s left")
    assert line.startswith("running a scen...")


def test_phases_share_the_bar_between_runs() -> None:
    bar = ProgressBar("scorecard")
    bar.phase(0, 2)
    bar(1.0)
    assert bar.fraction == 0.5
    bar.phase(1, 2)
    bar(0.5)
    assert bar.fraction == 0.75


def test_a_terminal_gets_the_bar_after_the_delay_then_a_clear_line() -> None:
    terminal = _Terminal()
    with progress("running x", terminal, delay=0.05) as bar:
        bar(0.5)
        time.sleep(0.4)
    text = terminal.getvalue()
    assert "running x [" in text
    assert " 50%" in text
    assert "left" in text
    assert text.endswith("\r")
    assert text.split("\r")[-2].strip() == ""  # the last line drawn is blank: cleared


def test_nothing_is_written_when_not_a_terminal_or_fast() -> None:
    quiet = io.StringIO()
    with progress("running", quiet, delay=0.0) as bar:
        bar(0.5)
        time.sleep(0.3)
    assert quiet.getvalue() == ""
    fast = _Terminal()
    with progress("running", fast, delay=1.0) as bar:
        bar(1.0)
    assert fast.getvalue() == ""


def test_pssc_run_writes_no_progress_into_captured_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = command_run(
        str(ROOT / "scenarios" / "teacup" / "baseline.yaml"),
        method=None,
        out=None,
        assignments=[],
        stop=None,
        dt=None,
    )
    captured = capsys.readouterr()
    assert status == 0
    assert "\r" not in captured.err
    assert "\r" not in captured.out


def test_pssc_run_passes_its_bar_to_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pssc_sim.cli import scenario as cli
    from pssc_sim.scenario import runner

    bars: list[ProgressBar] = []

    def run(scenario: object, **options: object) -> object:
        bar = options["progress"]
        assert isinstance(bar, ProgressBar)
        bars.append(bar)
        return runner.run(scenario, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "run", run)
    assert (
        command_run(
            str(ROOT / "scenarios" / "teacup" / "baseline.yaml"),
            method=None,
            out=None,
            assignments=[],
            stop=None,
            dt=None,
        )
        == 0
    )
    capsys.readouterr()
    assert [bar.fraction for bar in bars] == [1.0]
