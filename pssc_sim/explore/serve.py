"""Serving the explorer: one page per browser session on a Bokeh server bound to loopback unless
asked otherwise, or the same page inline in a notebook."""

from __future__ import annotations

import ipaddress
import signal
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


def warm_up(scenarios: Sequence[Scenario]) -> threading.Thread:
    """Load, in a thread in the background, the loop compiled by numba for the runs the
    explorer of each of ``scenarios`` starts with, where it is in the cache folder (compiled by
    an earlier ``--backend numba``, say): the ``auto`` back end then takes it for every move
    (see :func:`~pssc_sim.integrate.backends.choose_backend`). Nothing is compiled here (that
    would hold up the sessions for the seconds it takes); until the loop is loaded, and where it
    is not stored, the runs go on with numpy, whose numbers are the same. Returns the thread."""
    from pssc_sim.compile.cache import is_stored, numba_version
    from pssc_sim.explore.compute import compiled_run, recorded
    from pssc_sim.scenario.runner import run

    def load() -> None:
        if numba_version() is None:
            return
        for scenario in scenarios:
            try:
                start, outputs = first_run(scenario)
                compiled = compiled_run(start, outputs)
                if not compiled.loop_refusal and is_stored(compiled.loop_key):
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
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        signal.raise_signal(received[0])
