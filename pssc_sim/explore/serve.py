"""Serving the explorer: one page per browser session on a Bokeh server bound to loopback unless
asked otherwise, or the same page inline in a notebook."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pssc_sim.errors import ParameterError
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.reader import is_scenario_file

if TYPE_CHECKING:
    import panel as pn

#: The page's title in the browser tab.
TITLE = "pssc explore"


def load_source(source: Scenario | str | Path) -> Scenario:
    """A scenario from a :class:`Scenario`, a scenario file, or a model file or folder (run as
    it is), checked against its model."""
    if isinstance(source, Scenario):
        source.check()
        return source
    path = Path(source)
    if not path.exists():
        raise ParameterError(
            f"explore: no such scenario or model (got {str(source)!r}). Give a "
            "scenario file, a model .yaml file or a folder holding model.yaml"
        )
    if is_scenario_file(path):
        return Scenario.load(path)
    return Scenario(model=path.resolve(), name=path.stem if path.is_dir() else path.parent.name)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def first_run(scenario: Scenario) -> tuple[Scenario, list[str]]:
    """The scenario a new page of the explorer of ``scenario`` runs, and the outputs it shows:
    what to compile before serving, so that the pages run what was compiled."""
    from pssc_sim.explore.app import default_outputs
    from pssc_sim.explore.compute import scenario_for
    from pssc_sim.explore.controls import controls_for, defaults

    model = scenario.load_model()
    controls = controls_for(scenario, model)
    return scenario_for(scenario, controls, defaults(controls), model), default_outputs(
        scenario, model
    )


#: Child processes compiling loops for this server (ended with it).
COMPILERS: list[Any] = []


#: A move estimated to take longer than this on numpy (its run, or the ensemble of the
#: uncertainty switch) is worth compiling the loop for, in the background.
QUICK_SECONDS = 0.01


def worth_compiling(scenario: Scenario, outputs: Sequence[str]) -> bool:
    """Whether a run of ``scenario`` on one member or the ensemble the uncertainty switch runs
    is estimated (:func:`~pssc_sim.integrate.backends.numpy_seconds`) to take longer on numpy
    than :data:`QUICK_SECONDS`: the compiled loop then takes a move's run from tens or
    hundreds of milliseconds to a few (see :func:`warm_up`)."""
    from pssc_sim.explore.compute import ENSEMBLE_MEMBERS, compiled_run
    from pssc_sim.integrate.backends import numpy_seconds
    from pssc_sim.integrate.grid import Grid
    from pssc_sim.integrate.methods import METHODS
    from pssc_sim.scenario.reader import scenario_time

    compiled = compiled_run(scenario, outputs)
    tableau = METHODS[scenario.method or "euler"].tableau
    if tableau is None:  # an adaptive method: it runs on numpy whatever is compiled
        return False
    grid = Grid.from_time(scenario_time(scenario, compiled.model))
    return any(
        numpy_seconds(compiled, grid, tableau, members) > QUICK_SECONDS
        for members in (1, ENSEMBLE_MEMBERS)
    )


def compile_loops(runs: Sequence[tuple[dict[str, Any], list[str]]]) -> None:
    """Compile, into the cache folder, the loop of each ``(scenario document, outputs)`` of
    ``runs`` (:func:`~pssc_sim.explore.compute.compiled_run`), at the lowest priority: what a
    child process of the server does (see :func:`warm_up`)."""
    from pssc_sim.explore.compute import recorded
    from pssc_sim.scenario.fields import where_in
    from pssc_sim.scenario.reader import scenario_arguments
    from pssc_sim.scenario.runner import run

    with contextlib.suppress(OSError, AttributeError):  # no os.nice on some systems
        os.nice(19)
    for document, outputs in runs:
        try:
            arguments = scenario_arguments(document, where_in("explore"))
            scenario = Scenario.from_values({**arguments, "folder": None})
            # numba compiles on the first run, and keeps the machine code in the folder
            record = recorded(scenario.load_model(), scenario, outputs)
            run(scenario, record=record, backend="numba")
        except Exception:  # only a head start: the server runs on numpy without it
            continue


#: What the child process runs: :func:`compile_loops` of the YAML list on its standard input.
_CHILD = (
    "import sys, yaml; from pssc_sim.explore.serve import compile_loops; "
    "compile_loops(yaml.safe_load(sys.stdin.read()))"
)


def start_compiling(runs: Sequence[tuple[dict[str, Any], list[str]]]) -> subprocess.Popen[bytes]:
    """A child process running :func:`compile_loops` on ``runs`` (kept in :data:`COMPILERS`,
    ended with the server)."""
    import yaml

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    COMPILERS.append(child)
    assert child.stdin is not None  # asked for above
    with child.stdin:
        child.stdin.write(yaml.safe_dump([[d, o] for d, o in runs]).encode())
    return child


def warm_up(scenarios: Sequence[Scenario], compile_slow: bool = True) -> threading.Thread:
    """Load, in a thread in the background, the loop compiled by numba for the runs the
    explorer of each of ``scenarios`` starts with, where it is in the cache folder (compiled by
    an earlier ``--backend numba``, say): the ``auto`` back end then takes it for every move
    (see :func:`~pssc_sim.integrate.backends.choose_backend`). Until the loop is loaded, and
    where it is not stored, the runs go on with numpy, whose numbers are the same.

    Nothing is compiled in the server's process (that would hold up its sessions for the
    seconds it takes). Where the loop is not stored and a move would be slow on numpy
    (:func:`worth_compiling`), and ``compile_slow``, a child process at the lowest priority
    compiles it into the cache folder (:func:`compile_loops`), and the thread loads it once it
    is there. Returns the thread."""
    from pssc_sim.compile.cache import is_stored, numba_version
    from pssc_sim.explore.compute import compiled_run, recorded, scenario_document
    from pssc_sim.scenario.runner import run

    def load() -> None:
        if numba_version() is None:
            return
        starts = []
        for scenario in scenarios:
            try:
                start, outputs = first_run(scenario)
                compiled = compiled_run(start, outputs)
            except Exception:  # only a head start: the runs go on with numpy
                continue
            if not compiled.loop_refusal:
                starts.append((start, outputs, compiled.loop_key))
        missing = [
            (scenario_document(start), list(outputs))
            for start, outputs, key in starts
            if not is_stored(key) and worth_compiling(start, outputs)
        ]
        if missing and compile_slow:
            start_compiling(missing).wait()
        for start, outputs, key in starts:
            if not is_stored(key):
                continue
            try:
                # run (not taken from the cache of runs): the machine code loads on use
                record = recorded(start.load_model(), start, outputs)
                run(start, record=record, backend="numba")
            except Exception:  # only a head start: the runs go on with numpy
                continue

    thread = threading.Thread(target=load, name="pssc-explore-warm-up", daemon=True)
    thread.start()
    return thread


def notebook_app(scenario: Scenario) -> pn.viewable.Viewable:
    """The explorer of ``scenario`` for a notebook cell."""
    import panel as pn

    from pssc_sim.explore.app import Explorer

    pn.extension()
    return Explorer(scenario, {}).layout


def serve(
    scenario: Scenario | None,
    *,
    port: int,
    host: str,
    show: bool,
    demo: str | None = None,
    backend: str = "auto",
) -> None:
    """Serve the explorer of ``scenario`` (or the teaching steps of ``demo``) at
    ``http://host:port/`` until interrupted; each browser session gets its own page (its own
    controls, pins and runs), computed on ``backend``."""
    import panel as pn

    from pssc_sim.explore.app import build
    from pssc_sim.explore.teaching import Teaching, demo_steps

    steps = demo_steps(demo) if demo is not None else ()
    if backend == "auto":
        warm_up([scenario] if scenario is not None else [step.scenario for step in steps])

    def page() -> pn.viewable.Viewable:
        if scenario is not None:
            return build(scenario, backend=backend).layout
        teaching = Teaching(steps, dict(pn.state.session_args or {}), backend)
        pn.state.onload(lambda: teaching.explorer.write_location() if teaching.explorer else None)
        return teaching.layout

    origins = [f"{host}:{port}"] + (
        [f"localhost:{port}", f"127.0.0.1:{port}"] if is_loopback(host) else []
    )
    server = pn.serve(
        {"/": page},
        port=port,
        address=host,
        show=show,
        title=TITLE,
        websocket_origin=origins if is_loopback(host) else "*",
        print=False,
        threaded=False,
        start=False,
    )
    run_until_signal(server)


def run_until_signal(server: Any) -> None:
    """Run the Bokeh ``server`` until SIGINT or SIGTERM, then stop it and raise that signal
    again with the caller's handlers back in place (the command line exits 130 or 143).

    A signal handler that raises inside the server's event loop is not seen by the loop, so the
    handlers here only ask the loop to stop."""
    received: list[int] = []

    def stop(signum: int, frame: object) -> None:
        received.append(signum)
        server.io_loop.asyncio_loop.call_soon_threadsafe(server.io_loop.stop)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        server.io_loop.start()
    finally:
        server.stop()
        for child in COMPILERS:  # a compile still going ends with the server
            if child.poll() is None:
                child.terminate()
                child.wait()
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        signal.raise_signal(received[0])
