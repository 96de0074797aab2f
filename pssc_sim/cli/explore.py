"""``pssc explore MODEL_OR_SCENARIO [--port 8050] [--host 127.0.0.1] [--no-browser]``: the live
what-if explorer in the browser."""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from typing import TextIO

from pssc_sim.cli.common import EXIT_OK, PROG, UsageError
from pssc_sim.cli.scenario import add_backend_option

__all__ = ["add_commands", "command_explore"]

#: Where the explorer listens unless told otherwise: this machine only.
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8050


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``explore`` to the ``pssc`` parser."""
    explore = commands.add_parser(
        "explore",
        help="a live what-if explorer in the browser",
        description="Serve a page with a slider for every parameter with a range, the culture "
        "lever, each target's level, date and severity and a switch per "
        "intervention; the run, its reported and true ledgers and its scorecard "
        "redraw as they move. The page's address holds its settings; 'Save as "
        "scenario' downloads a scenario file that 'pssc run' repeats. Needs the "
        "explore extra (pip install 'pssc_sim[explore]').",
    )
    explore.add_argument(
        "source",
        metavar="MODEL_OR_SCENARIO",
        nargs="?",
        help="a scenario file, a model .yaml file or a folder holding model.yaml",
    )
    explore.add_argument(
        "--demo",
        metavar="NAME",
        help="teaching mode: walk through a demo's story step by step "
        "(e.g. --demo gaming; see 'pssc demo')",
    )
    explore.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"the port to serve on (default {DEFAULT_PORT})",
    )
    explore.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"the address to listen on (default {DEFAULT_HOST}, this machine "
        "only; another address lets other machines in, with a warning)",
    )
    explore.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    add_backend_option(explore)


def check_port(host: str, port: int) -> None:
    """Raise :class:`UsageError` unless ``port`` is a port number free on ``host``."""
    if not 1 <= port <= 65535:
        raise UsageError(
            f"--port: expected a port from 1 to 65535 (got {port}). Use e.g. --port {DEFAULT_PORT}"
        )
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            what = (
                "is in use"
                if exc.errno == errno.EADDRINUSE
                else f"cannot be used ({(exc.strerror or str(exc)).lower()})"
            )
            raise UsageError(
                f"--port: {host}:{port} {what} (got errno "
                f"{errno.errorcode.get(exc.errno or 0, '?')}). Pass another "
                "--port or --host"
            ) from None


def command_explore(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Load the scenario, check the address, then serve until interrupted."""
    try:
        from pssc_sim.explore.serve import is_loopback, load_source, serve
    except ImportError as exc:  # Panel or Bokeh missing
        raise UsageError(
            f"explore: the explorer needs Panel and Bokeh (got {exc}). Install them "
            "with pip install 'pssc_sim[explore]'"
        ) from None
    if (args.source is None) == (args.demo is None):
        raise UsageError(
            f"explore: give a scenario or model, or --demo NAME, not "
            f"{'both' if args.demo else 'neither'} (got {args.source!r}). Run e.g. "
            f"'{PROG} explore scenarios/smoking/quit-count-target.yaml' or "
            f"'{PROG} explore --demo gaming'"
        )
    if args.demo is not None:
        from pssc_sim.report.demo import load_demo

        load_demo(args.demo)
        scenario = None
    else:
        scenario = load_source(args.source)
        scenario.load_model()
    check_port(args.host, args.port)
    out = stream or sys.stderr
    if scenario is not None and args.backend == "numba":
        from pssc_sim.explore.compute import compute
        from pssc_sim.explore.serve import first_run

        print(
            f"compiling the run of {scenario.label} (numba; cached for later)", file=out, flush=True
        )
        start, outputs = first_run(scenario)
        compute(start, outputs, backend="numba")  # refuses what it cannot run, before serving
    if not is_loopback(args.host):
        print(
            f"{PROG}: warning: serving on {args.host}: anyone who can reach this machine on "
            f"port {args.port} can use the explorer (it reads and writes no files and runs "
            "only the declared controls). Use --host 127.0.0.1 to keep it local",
            file=out,
        )
    shown = "localhost" if is_loopback(args.host) else args.host
    what = f"the {args.demo} demo" if scenario is None else scenario.label
    print(f"exploring {what} at http://{shown}:{args.port}/ (Ctrl-C to stop)", file=out, flush=True)
    serve(
        scenario,
        port=args.port,
        host=args.host,
        show=not args.no_browser,
        demo=args.demo,
        backend=args.backend,
    )
    return EXIT_OK
