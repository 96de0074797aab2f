"""Crashes and silent failures of the command line on careless or hostile input.

Scenarios that share nothing, unit names that pint reads as Python attributes, models with more
loops than the listing cap, interrupted and concurrent writes into one ``--out`` folder, a full
disk, and broken Vensim files: each ends in one line naming the file and the fix, never a
traceback, with exit 2 for bad input.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from hostile_cli import assert_refused, run_cli
from hypothesis import example, given, settings
from hypothesis import strategies as st

import pssc_sim as ps
from pssc_sim.analysis.checks import check_model
from pssc_sim.analysis.loops import list_loops, shortest_cycles
from pssc_sim.analysis.units import _DIMENSIONLESS as DIMENSIONLESS
from pssc_sim.analysis.units import Units, UnitsUnreadable, unit_text_problem
from pssc_sim.cli import main
from pssc_sim.errors import ParameterError
from pssc_sim.ir.causal import causal_graph
from pssc_sim.scenario.schema import ScenarioError

ROOT = Path(__file__).resolve().parents[2]
TEACUP, SIR = ROOT / "models" / "teacup", ROOT / "models" / "sir"


def complete_model(n: int) -> str:
    """A model of ``n`` stocks, each fed by a flow that reads every other stock: a complete
    digraph of stocks, with ``sum over k of C(n, k) (k - 1)!`` loops of ``2k`` links."""
    names = [f"v{i}" for i in range(n)]
    flows = "".join(
        f"  f_{v}: {{to: {v}, rate: 0.001 * ({' + '.join(w for w in names if w != v)})}}\n"
        for v in names
    )
    return (
        "model: complete\ntime: {stop: 2, dt: 0.5}\nstocks:\n"
        + "".join(f"  {v}: 1\n" for v in names)
        + "flows:\n"
        + flows
    )


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -- compare ------------------------------------------------------------------------------------


def test_comparing_scenarios_that_share_no_variable_is_refused(tmp_path: Path) -> None:
    run = run_cli("compare", TEACUP, SIR, cwd=tmp_path)
    assert_refused(
        run, match="compare: the scenarios share no variable (teacup: teacup_temperature"
    )
    assert "; sir: susceptible" in run.stderr
    assert "and 3 more" in run.stderr


def test_compare_refuses_a_variable_one_scenario_lacks_and_a_time_outside_the_runs(
    tmp_path: Path,
) -> None:
    assert_refused(
        run_cli("compare", TEACUP, SIR, "--outputs", "teacup_temperature", cwd=tmp_path),
        match="share no variable",
    )
    assert_refused(
        run_cli("compare", TEACUP, TEACUP, "--outputs", "infected", cwd=tmp_path),
        match="variables: 'infected' is not recorded by every scenario",
    )
    assert_refused(
        run_cli("compare", TEACUP, TEACUP, "--at", "1e300", cwd=tmp_path),
        match="at: time 1e+300 is outside the runs",
    )


def test_compare_library_error_names_what_each_scenario_records() -> None:
    with pytest.raises(
        ScenarioError,
        match=r"share no variable \(teacup: teacup_temperature, "
        r".*; sir: susceptible, .* and 3 more\)",
    ):
        ps.compare(TEACUP, SIR)


# -- check: units -------------------------------------------------------------------------------

TEACUP_TEXT = (TEACUP / "model.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("units", ["__class__", "_x", "a__", "__import__('os')", "x__y"])
def test_check_reports_attribute_like_unit_names_as_a_finding(
    units: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        TEACUP_TEXT.replace("units: degF\n", f"units: {json.dumps(units)}\n"), encoding="utf-8"
    )
    assert main(["check", "--no-run", str(path)]) == 1
    out = capsys.readouterr().out
    assert "stocks.teacup_temperature.units: the units cannot be read: a unit " in out
    assert "Write names that start with a letter" in out


def test_check_of_a_dunder_unit_in_a_child_process_is_a_finding_not_a_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(TEACUP_TEXT.replace("units: degF\n", "units: __class__\n"), encoding="utf-8")
    run = run_cli("check", path, cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert run.stderr == ""
    assert "the units cannot be read" in run.stdout


def test_a_crash_inside_check_is_bad_input_not_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pssc_sim.analysis.checks as checks

    def broken(model: ps.Model, *, run: bool = True) -> None:
        raise AttributeError("'NoneType' object has no attribute 'units'")

    monkeypatch.setattr(checks, "check_model", broken)
    assert main(["check", str(TEACUP)]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith("pssc: error: ")
    assert "model.yaml: the model could not be checked (AttributeError: 'NoneType'" in lines[0]


def test_unit_text_rule_names_the_offending_character() -> None:
    assert unit_text_problem("people/year") is None
    assert unit_text_problem("MtCO2/year/year") is None
    assert unit_text_problem("m^2 * kg ** -1") is None
    assert unit_text_problem("GBP$") == "a unit cannot hold '$' (got 'GBP$')"
    assert unit_text_problem("__class__") == (
        "a unit name must start with a letter and hold no '__' (got '__class__')"
    )
    assert "at most 200 characters" in (unit_text_problem("m" * 201) or "")
    with pytest.raises(UnitsUnreadable, match=r"pint cannot read it, ValueError: .* \(got 'nan'\)"):
        Units.create().parse("nan")


#: One registry for the fuzz test (a new pint registry takes a fraction of a second).
FUZZ_UNITS = Units.create()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab_1.*/^()- $[]%x")) | st.characters(), max_size=30))
@example("^")
@example("((((")
@example("a^^b")
@example("nan")
@example("inf/year")
@example("1e999")
def test_any_unit_text_is_a_unit_or_unreadable(text: str) -> None:
    """Arbitrary unit text never escapes pint as anything but an unreadable-units signal."""
    outcome: object
    try:
        outcome = FUZZ_UNITS.parse(text)
    except UnitsUnreadable as error:
        outcome = error
    cleaned = text.strip()
    if cleaned.lower() not in DIMENSIONLESS and unit_text_problem(cleaned) is not None:
        assert isinstance(outcome, UnitsUnreadable)  # text off the rule never reaches pint


def test_check_model_reports_an_unreadable_unit_with_its_key_path(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(TEACUP_TEXT.replace("units: minute\n", "units: _minute\n", 1), encoding="utf-8")
    report = check_model(ps.load_model(path), run=False)
    messages = [str(f) for f in report.findings]
    assert any(
        "parameters.characteristic_time.units: the units cannot be read" in m for m in messages
    ), messages


# -- loops --------------------------------------------------------------------------------------


def test_capped_loop_listing_keeps_the_shortest_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "complete.yaml"
    path.write_text(complete_model(6), encoding="utf-8")
    assert main(["loops", str(path), "--json", "--max-loops", "50"]) == 0
    captured = capsys.readouterr()
    listed = {tuple(lp["variables"]) for lp in json.loads(captured.out)}
    digraph = nx.DiGraph([(lk.cause, lk.effect) for lk in causal_graph(ps.load_model(path)).links])
    every = [tuple(c) for c in nx.simple_cycles(digraph)]
    assert len(listed) == 50 < len(every)
    longest_listed = max(len(c) for c in listed)
    # Law: no loop left out is shorter than a loop listed.
    left_out = [
        c for c in every if tuple(c[c.index(min(c)) :] + c[: c.index(min(c))]) not in listed
    ]
    assert min(len(c) for c in left_out) >= longest_listed
    note = error_lines(captured.err)
    assert len(note) == 1
    assert note[0].startswith("pssc: note: listing the 50 shortest of at least ")
    at_least = int(note[0].split("at least ")[1].split()[0])
    assert 50 < at_least <= len(every)


def test_loop_listing_below_the_cap_is_complete_and_silent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "complete.yaml"
    path.write_text(complete_model(4), encoding="utf-8")  # 6 + 8 + 6 = 20 loops
    assert main(["loops", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 20
    assert captured.err == ""


def test_capped_dominance_scores_the_shortest_loops_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "complete.yaml"
    path.write_text(complete_model(5), encoding="utf-8")
    assert main(["loops", str(path), "--dominance", "--max-loops", "12"]) == 0
    captured = capsys.readouterr()
    assert "pssc: note: listing the 12 shortest of at least " in captured.err
    scored = [line for line in captured.out.splitlines() if "peak relative score" in line]
    assert len(scored) == 12
    # The shortest loops of a complete digraph of stocks have 4 links (two stocks, two flows).
    assert all(line.count("->") <= 6 for line in scored)


def test_loop_cap_in_a_child_process_keeps_json_valid(tmp_path: Path) -> None:
    path = tmp_path / "complete.yaml"
    path.write_text(complete_model(7), encoding="utf-8")
    run = run_cli("loops", path, "--json", "--max-loops", "100", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)) == 100
    assert "listing the 100 shortest of at least 400 loops" in run.stderr


def test_loop_search_laws_on_complete_digraphs() -> None:
    for n in range(2, 7):
        graph = nx.complete_graph(n, nx.DiGraph)
        total = sum(1 for _ in nx.simple_cycles(graph))
        for cap in (1, 5, total - 1, total, total + 1):
            if cap < 1:
                continue
            search = shortest_cycles(graph, max_loops=cap)
            lengths = [len(c) for c in search.cycles]
            assert lengths == sorted(lengths)
            assert len(search.cycles) == min(cap, total)
            assert search.truncated == (cap < total)
            assert search.at_least <= total
            if search.truncated:
                assert search.at_least > cap


def test_loop_caps_below_one_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"max_loops: must be at least 1 \(got 0\)"):
        shortest_cycles(nx.DiGraph(), max_loops=0)
    with pytest.raises(ParameterError, match=r"max_length: must be at least 1 \(got 0\)"):
        list_loops(causal_graph(ps.load_model(TEACUP)), max_length=0)
    assert_refused(
        run_cli("loops", TEACUP, "--max-loops", "0", cwd=tmp_path),
        match="--max-loops: must be at least 1 (got 0)",
    )


# -- output folders: one set of files, nothing left behind ---------------------------------------


def ensemble_scenario(folder: Path, members: int, name: str = "big") -> Path:
    """A teacup ensemble of ``members`` members (writes results, parameters and a figure)."""
    path = folder / f"{name}.yaml"
    path.write_text(
        f"scenario: {name}\nmodel: {TEACUP}\nmethod: euler\nuncertainty:\n"
        f"  members: {members}\n  sampling: random\n  seed: 7\n  parameters:\n"
        "    room_temperature: {distribution: normal, mean: 70, sd: 4}\n",
        encoding="utf-8",
    )
    return path


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_run_replaces_its_own_files_and_keeps_the_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(ensemble_scenario(tmp_path, 64)), "--out", str(out)]) == 0
    assert (out / "parameters.csv").exists()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["run", str(TEACUP), "--out", str(out)]) == 0
    capsys.readouterr()
    # The single run's set, the user's file, and nothing of the ensemble run before it.
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "results.csv", "stocks.png"]
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_full_disk_names_the_final_file_and_leaves_the_previous_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import pssc_sim.output as output

    out = tmp_path / "out"
    assert main(["run", str(TEACUP), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(figure: object, path: Path, dpi: int = 120) -> Path:
        with output.atomic_path(path) as temporary:
            temporary.write_bytes(b"\x89PNG half")
            raise OSError(errno.ENOSPC, "No space left on device", str(temporary))

    monkeypatch.setattr(output, "write_figure", full_disk)
    capsys.readouterr()
    assert main(["run", str(TEACUP), "--out", str(out), "--set", "room_temperature=50"]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert lines == [
        f"pssc: error: {out / 'stocks.png'}: no space left on the device (got errno "
        "ENOSPC). Free space or write to another folder"
    ]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no mix, no hidden file


def test_convert_into_a_missing_folder_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "x.mdl"
    source.write_text(
        "x = 1 ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\n"
        "SAVEPER = TIME STEP ~~|\n",
        encoding="utf-8",
    )
    assert main(["convert", str(source), "-o", str(tmp_path / "no" / "m.yaml")]) == 2
    assert error_lines(capsys.readouterr().err) == [
        f"pssc: error: {tmp_path / 'no' / 'm.yaml'}: the folder does not exist (got errno "
        "ENOENT). Create the folder, or write to another one"
    ]


def test_an_os_error_without_atomic_path_still_names_the_final_file(tmp_path: Path) -> None:
    import errno

    from pssc_sim.atomic import file_set
    from pssc_sim.errors import OutputError

    with (
        pytest.raises(
            OutputError,
            match=r"out/results\.csv: the file system is read-only "
            r"\(got errno EROFS\)\. Write to another folder",
        ),
        file_set(tmp_path / "out", ["results.csv"]) as staging,
    ):
        raise OSError(
            errno.EROFS, "Read-only file system", str(staging / f".results.csv.{'0' * 32}.tmp")
        )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []


def test_an_abandoned_staging_folder_is_removed_by_the_next_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    out = tmp_path / "out"
    left = out / f".pssc-{'a' * 32}.tmp"
    left.mkdir(parents=True)
    (left / "results.csv").write_text("half", encoding="utf-8")
    os.utime(left, (0, 0))  # long ago, and no process holds its lock
    assert main(["run", str(TEACUP), "--out", str(out)]) == 0
    capsys.readouterr()
    assert hidden(out) == []


def test_sigterm_while_writing_leaves_no_temporary_file_and_no_half_set(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text("old", encoding="utf-8")
    scenario = ensemble_scenario(tmp_path, 6000)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pssc_sim",
            "run",
            str(scenario),
            "--out",
            str(out),
            "--save-ensemble",
        ],
        cwd=tmp_path,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not hidden(out) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert hidden(out), "the run never started writing"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 143, err
    assert error_lines(err) == [
        "pssc: error: terminated (SIGTERM); no output was left half written"
    ]
    assert hidden(out) == []
    names = sorted(p.name for p in out.iterdir())
    assert names == ["results.csv"]
    assert (out / "results.csv").read_text(encoding="utf-8") == "old"


def test_two_runs_into_one_folder_at_once_leave_one_complete_set(tmp_path: Path) -> None:
    import subprocess
    import sys

    import pandas as pd

    out = tmp_path / "out"
    commands = [
        ["run", str(ensemble_scenario(tmp_path, 3000)), "--out", str(out)],
        ["run", str(TEACUP), "--out", str(out)],
    ]
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "pssc_sim", *command],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    names = sorted(p.name for p in out.iterdir())
    columns = pd.read_csv(out / "results.csv").columns.tolist()
    if "parameters.csv" in names:  # the ensemble moved in last
        assert names == ["parameters.csv", "results.csv", "results.png"]
        assert columns[:3] == ["time", "variable", "p5"]
    else:
        assert names == ["results.csv", "stocks.png"]
        assert columns[:2] == ["time", "teacup_temperature"]


@pytest.mark.parametrize(
    "command",
    [
        ["cld", str(TEACUP), "-o", "{dir}/cld.svg"],
        ["convert", str(ROOT / "tests" / "hostile" / "x.mdl"), "-o", "{dir}/m.yaml"],
        ["schema", "-o", "{dir}/schema.json"],
        ["loops", str(TEACUP), "--dominance", "--plot", "{dir}/dominance.png"],
    ],
)
def test_single_file_commands_leave_no_temporary_file_on_a_full_disk(
    command: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno
    import os

    if command[0] == "convert":
        source = tmp_path / "x.mdl"
        source.write_text(
            "x = 1 ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\n"
            "TIME STEP = 1 ~~|\nSAVEPER = TIME STEP ~~|\n",
            encoding="utf-8",
        )
        command = [command[0], str(source), *command[2:]]
    real_replace = os.replace

    def full(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if Path(source).name.startswith("."):
            raise OSError(errno.ENOSPC, "No space left on device", str(source))
        real_replace(source, target)

    (tmp_path / "out").mkdir()
    monkeypatch.setattr(os, "replace", full)
    args = [part.format(dir=tmp_path / "out") for part in command]
    assert main(args) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert ": no space left on the device (got errno ENOSPC)" in lines[0]
    assert ".tmp" not in lines[0]
    assert lines[0].startswith(f"pssc: error: {tmp_path / 'out'}/")
    assert list((tmp_path / "out").iterdir()) == []


# -- one-line messages --------------------------------------------------------------------------


def test_a_run_too_large_for_memory_is_one_line_of_bad_input(tmp_path: Path) -> None:
    assert_refused(run_cli("run", TEACUP, "--stop", "1e300", cwd=tmp_path))
    assert_refused(run_cli("run", TEACUP, "--dt", "1e-12", cwd=tmp_path))


@pytest.mark.parametrize(
    "error",
    [
        ValueError("Maximum allowed size exceeded"),
        MemoryError("Unable to allocate 218. TiB for an array"),
    ],
)
def test_numpy_size_errors_become_one_line_at_the_command_line(
    error: BaseException, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_large(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("pssc_sim.integrate.simulate.simulate", too_large)
    assert main(["run", str(TEACUP)]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith(
        "pssc: error: the run is too large for the memory of this "
        f"machine (got '{error}'). Raise --dt"
    )


@pytest.mark.parametrize(
    "equation", ["SQRT(-1)", "LN(-2)", "room_temperature * SQRT(-4)", "(-8)**0.5"]
)
def test_an_equation_with_no_real_value_is_refused_at_load(equation: str, tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        TEACUP_TEXT.replace(
            "temperature_gap: teacup_temperature - room_temperature", f"temperature_gap: {equation}"
        ),
        encoding="utf-8",
    )
    with pytest.raises(
        ps.ExpressionError,
        match=r"auxiliaries\.temperature_gap\.equation: the equation is not a "
        r"real number \(got '.*" + r"\(-\d\)",
    ):
        ps.load_model(path)
    assert_refused(
        run_cli("run", path, cwd=tmp_path),
        match="temperature_gap.equation: the equation is not a real number",
    )


def test_a_negative_value_under_a_root_during_a_run_fails_the_run_naming_the_variable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        TEACUP_TEXT.replace(
            "temperature_gap: teacup_temperature - room_temperature",
            "temperature_gap: SQRT(room_temperature - 100)",
        ),
        encoding="utf-8",
    )
    with pytest.raises(
        ps.SimulationError,
        match=r"auxiliaries\.temperature_gap: the value is not "
        r"finite at time 0 \(got nan\)",
    ):
        ps.simulate(ps.load_model(path))


BROKEN_VENSIM = {
    "integ without arguments": ("x = INTEG() ~~|", r"\(VisitationError: TypeError: "),
    "values for a missing element": (
        "d: a, b ~~|\nx[d] = 1, 2, 3 ~~|",
        r"\(ValueError: cannot reshape array",
    ),
    "pulse train short of arguments": ("x = PULSE TRAIN(1,2) ~~|", r"\(VisitationError: "),
}
CONTROL = "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 0.5 ~~|\nSAVEPER = TIME STEP ~~|\n"


@pytest.mark.parametrize("case", sorted(BROKEN_VENSIM))
def test_a_broken_vensim_file_is_one_line_naming_the_error_type(case: str, tmp_path: Path) -> None:
    body, error = BROKEN_VENSIM[case]
    path = tmp_path / "broken.mdl"
    path.write_text(f"{body}\n{CONTROL}", encoding="utf-8")
    with pytest.raises(
        ps.ModelError, match=r"broken\.mdl: the Vensim file could not be read " + error
    ):
        ps.load_model(path)
    run = run_cli("convert", path, cwd=tmp_path)
    assert_refused(run, match="broken.mdl: the Vensim file could not be read (")
    assert "Parse tree" not in run.stderr


def test_a_broken_xmile_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.xmile"
    path.write_text(
        '<xmile><model><variables><aux name="a"><eqn>b(</eqn></aux></variables></model></xmile>',
        encoding="utf-8",
    )
    with pytest.raises(ps.ModelError, match=r"broken\.xmile: the XMILE file could not be read \("):
        ps.load_model(path)


def test_a_raw_file_error_is_one_line_naming_the_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def locked(path: object, **options: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "models/locked.yaml")

    monkeypatch.setattr("pssc_sim.parse.load_model", locked)
    assert main(["run", "models/locked.yaml"]) == 2
    assert error_lines(capsys.readouterr().err) == [
        "pssc: error: models/locked.yaml: permission denied (got errno EACCES). Check the path "
        "and its permissions"
    ]


def test_convert_names_the_source_file_in_an_equation_error(tmp_path: Path) -> None:
    path = tmp_path / "short.mdl"
    path.write_text(f"x = IF THEN ELSE(1) ~~|\n{CONTROL}", encoding="utf-8")
    run = run_cli("convert", path, "-o", tmp_path / "never.yaml", cwd=tmp_path)
    assert_refused(run, match="short.mdl: auxiliaries.x.equation: IF_THEN_ELSE takes 3 arguments")
    assert "never.yaml" not in run.stderr
    assert not (tmp_path / "never.yaml").exists()


def test_a_file_set_takes_plain_file_names(tmp_path: Path) -> None:
    from pssc_sim.atomic import file_set

    with (
        pytest.raises(
            ParameterError,
            match=r"names: file names without folders, not hidden "
            r"\(got \['sub/results.csv', '.hidden'\]\)",
        ),
        file_set(tmp_path, ["sub/results.csv", ".hidden", "ok.csv"]),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["\x1b]0;owned\x07", "\x1b[2J\x1b[H", "\x9b31m", "a\rb"])
def test_terminal_escapes_in_file_text_are_printed_as_escapes(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        TEACUP_TEXT.replace("title: Cooling cup of tea", f"title: {json.dumps(text)}"),
        encoding="utf-8",
    )
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert not any((0 <= ord(c) < 32 and c not in "\n\t") or 127 <= ord(c) < 160 for c in out)
    assert "\\x" in out.splitlines()[0]
    # the same holds for messages: a refused value from the file is shown, not obeyed
    path.write_text(
        TEACUP_TEXT.replace("room_temperature:", f"{json.dumps(text)}:", 1), encoding="utf-8"
    )
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert not any((0 <= ord(c) < 32 and c not in "\n\t") or 127 <= ord(c) < 160 for c in err)
