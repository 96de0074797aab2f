"""Serving the explorer: one page per browser session on a Bokeh server bound to loopback unless
asked otherwise, or the same page inline in a notebook."""

from __future__ import annotations

import ipaddress
import signal
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
