"""Slider-to-redraw latency of ``pssc explore`` in headless Chromium (the system's, through
playwright), for one targeted scenario of each case-study model.

For each scenario a ``pssc explore`` server is started, a page opened, and the culture slider
(the first control) moved one step with the keyboard, again and again; the time from the key
press until the page's chart data has changed and the browser has drawn two more frames is one
latency (the moves go back and forth, so from the third on the server has run their setting
before, unless ``--one-way``). Prints the median and the largest of ``--moves`` moves for one
run and for the uncertainty ensemble (200 members in one call), against the goals of 150 ms
and 500 ms. Wall time, so other jobs on the machine add to it; so it also prints the CPU time
per move of the server process and of the browser's processes (read from /proc on Linux),
which other jobs change much less, and the time the page's main thread was busy per move
(its tasks in a Chromium trace: scripts, style, layout and paint of the page's renderer), as
wall time and as that thread's CPU time (the trace's thread clock).

    .venv/bin/python benchmarks/bench_explore.py [--quick] [--moves 9] [--one-way]
    .venv/bin/python benchmarks/bench_explore.py --sessions 30 [--seconds 60] [--websocket]

With ``--sessions N`` it is a workshop instead: N sessions on one server (the smoking scenario),
each at its own culture, each moving the culture slider every 2 s (a session waits for its
update before the next move); prints the median and 95th percentile of update latency (goal:
under 1 s), how many sessions ended with their own settings (no session sees another's state),
and the server's CPU time. The sessions are browser contexts of one headless Chromium by
default, all on this machine: they draw the pages on the cores the server runs on. With
``--websocket`` they are Bokeh websocket clients instead (``bokeh.client``), one thread each,
as in a real workshop where each participant's laptop draws their own page and the server's
machine only serves: the latency is from the slider's change sent to the server's update of
the plotted data received; the server's CPU time is given per page open and per move; and each
session's plotted data at the end are compared with a run of its own settings made here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from harness import ROOT, machine

#: One targeted scenario per case-study model.
SCENARIOS = (
    "smoking/quit-count-target",
    "child_obesity/y6-target",
    "climate/net-zero-2030",
    "em_employment/work-programme",
    "health_social_care/dtoc-target",
    "ambulance/eight-minute-target",
    "ae_four_hour/four-hour-history",
)
QUICK = ("smoking/quit-count-target",)
GOALS = {"one run": 0.150, "ensemble of 200": 0.500}
CHROMIUM = "/usr/bin/chromium"
#: A fingerprint of every plotted column (a move may change the ledgers alone): its middle and
#: last values, cheap enough to take every frame (the ledgers' source exists once their tab has
#: been shown).
DATA = (
    "() => JSON.stringify(['outputs', 'ledgers'].map(name => Bokeh.documents[0]"
    ".get_model_by_name(name)).map(source => source === null ? null : Object.values("
    "source.data).map(c => [c[c.length >> 1], c[c.length - 1]])))"
)
READY = (
    "() => window.Bokeh && Bokeh.documents.length > 0 && "
    "Bokeh.documents[0].get_model_by_name('outputs') !== null && "
    "Bokeh.documents[0].get_model_by_name('outputs').data.t.length > 0"
)
FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
#: The page's plotted columns, as lists.
PLOTTED = (
    "() => Object.fromEntries(Object.entries(Bokeh.documents[0].get_model_by_name('outputs')"
    ".data).map(([name, column]) => [name, Array.from(column)]))"
)


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` has used, from /proc (NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_processes() -> list[int]:
    """The Chromium processes under this one (playwright's driver starts the browser, and the
    browser its helpers)."""
    children: dict[int, list[int]] = {}
    chromium: set[int] = set()
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as command:
                    if b"chrom" in command.read():
                        chromium.add(int(entry))
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return [pid for pid in found if pid in chromium]


def main_thread_seconds(trace: bytes) -> tuple[float, float]:
    """The seconds the renderers' main threads spent in top-level tasks in a Chromium trace
    (``toplevel``): the browser's own work for the page, apart from waiting; as wall time, and
    as the threads' CPU time (the trace's thread clock, ``tdur``), which other jobs on the
    machine change much less."""
    events = json.loads(trace)
    events = events["traceEvents"] if isinstance(events, dict) else events
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e.get("args", {}).get("name") == "CrRendererMain"
    }
    spans = sorted(
        (event["ts"], event["ts"] + event.get("dur", 0), event.get("tdur", 0))
        for event in events
        if event.get("ph") == "X"
        and event.get("name") in ("RunTask", "ThreadControllerImpl::RunTask")
        and (event.get("pid"), event.get("tid")) in main
    )
    busy, cpu, reached = 0.0, 0.0, -math.inf
    for begin, end, thread in spans:  # a task run inside another (a nested loop) counts once
        if begin >= reached:
            cpu += thread
        if end > reached:
            busy += end - max(begin, reached)
            reached = end
    return busy / 1e6, cpu / 1e6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(scenario: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pssc_sim",
            "explore",
            str(scenario),
            "--port",
            str(port),
            "--no-browser",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/", timeout=60):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"pssc explore {scenario} did not start")


def stop(server: subprocess.Popen[bytes]) -> None:
    """End the server, killing it if it does not end within 10 s of SIGTERM."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def latencies(
    browser: object, url: str, moves: int, server: int, one_way: bool = False
) -> tuple[list[float], float, float, float, float]:
    """The latency of each of ``moves`` moves (back and forth, or all one way: each to a
    setting not run before), the CPU seconds per move of the ``server`` process and of the
    browser, and the seconds per move of the page's main thread, busy and on CPU (from a
    trace)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    try:
        page.goto(url, wait_until="load", timeout=300_000)
        page.wait_for_function(READY, timeout=120_000)
        page.evaluate(FRAMES)
        page.wait_for_timeout(1000)  # the page settles before anything is counted
        handle = page.locator(".noUi-handle").first
        found = []
        helpers = browser_processes()
        browser.start_tracing(page=page, categories=["devtools.timeline", "toplevel"])  # type: ignore[attr-defined]
        server_cpu, browser_cpu = cpu_seconds(server), sum(map(cpu_seconds, helpers))
        for i in range(moves):
            before = page.evaluate(DATA)
            handle.focus()
            began = time.perf_counter()
            page.keyboard.press("ArrowLeft" if i % 2 and not one_way else "ArrowRight")
            page.wait_for_function(
                f"(before) => ({DATA})() !== before", arg=before, timeout=120_000, polling="raf"
            )
            page.evaluate(FRAMES)
            found.append(time.perf_counter() - began)
        page.wait_for_timeout(300)  # what the last move left to do
        server_cpu = (cpu_seconds(server) - server_cpu) / moves
        browser_cpu = (sum(map(cpu_seconds, helpers)) - browser_cpu) / moves
        busy, on_cpu = main_thread_seconds(browser.stop_tracing())  # type: ignore[attr-defined]
        return found, server_cpu, browser_cpu, busy / moves, on_cpu / moves
    finally:
        page.close()


async def workshop_session(
    browser: Any, url: str, culture: float, seconds: float, found: list[float]
) -> bool:
    """One participant: opens the page at its own culture, moves the slider every 2 s for
    ``seconds``; whether the page kept its own settings (no other session's state)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    try:
        await page.goto(f"{url}?culture={culture}", wait_until="load", timeout=300_000)
        await page.wait_for_function(READY, timeout=300_000)
        handle = page.locator(".noUi-handle").first
        steps, ends = 0, time.monotonic() + seconds
        while time.monotonic() < ends:
            before = await page.evaluate(DATA)
            await handle.focus()
            began = time.perf_counter()
            await page.keyboard.press("ArrowRight")
            steps += 1
            await page.wait_for_function(
                f"(before) => ({DATA})() !== before", arg=before, timeout=120_000
            )
            found.append(time.perf_counter() - began)
            await asyncio.sleep(max(0.0, 2.0 - (time.perf_counter() - began)))
        expected = min(1.0, culture + 0.01 * steps)
        await asyncio.sleep(1.0)  # the address is written after the charts
        search = await page.evaluate("() => window.location.search")
        # the address leaves out a control at the scenario's value: a session that has reached
        # the default culture (0.5) shows no culture at all
        shown = parse_qs(search.lstrip("?")).get("culture", [str(default_culture())])[-1]
        if abs(float(shown) - expected) >= 1e-6:
            print(f"  a session at culture {culture} after {steps} moves shows {search!r}")
            return False
        plotted = await page.evaluate(PLOTTED)
        if plots(plotted, round(expected, 2)):
            return True
        print(f"  a session at culture {culture} after {steps} moves plots other settings' run")
        return False
    finally:
        await context.close()


def workshop(sessions: int, seconds: float) -> None:
    """``sessions`` browser contexts on one server, each moving a slider every 2 s."""
    from playwright.async_api import async_playwright

    async def run_all() -> tuple[list[float], list[bool]]:
        found: list[float] = []
        async with async_playwright() as driver:
            browser = await driver.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            own = await asyncio.gather(
                *(
                    workshop_session(browser, url, round(0.1 + 0.02 * i, 2), seconds, found)
                    for i in range(sessions)
                )
            )
            await browser.close()
        return found, list(own)

    port = free_port()
    server = start(ROOT / "scenarios" / f"{QUICK[0]}.yaml", port)
    url = f"http://localhost:{port}/"
    began = cpu_seconds(server.pid)
    try:
        found, own = asyncio.run(run_all())
        server_cpu = cpu_seconds(server.pid) - began
    finally:
        stop(server)
    ordered = sorted(found)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(
        f"workshop: {sessions} sessions for {seconds:g} s, {len(found)} moves: median "
        f"{statistics.median(found) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (goal 1000 ms); "
        f"{sum(own)} of {sessions} sessions kept their own settings (address and plotted "
        f"data); server CPU "
        f"{server_cpu:.1f} s in all (the page opens and the moves), "
        f"load {os.getloadavg()[0]:.1f}"
    )


def smoking() -> Any:
    """The workshop's scenario, read here as the server reads it."""
    from pssc_sim.scenario.definition import Scenario

    return Scenario.load(ROOT / "scenarios" / f"{QUICK[0]}.yaml")


def default_culture() -> float:
    """The culture the workshop's scenario sets (what its address leaves out)."""
    from pssc_sim.explore.controls import CULTURE, controls_for

    return next(c.default for c in controls_for(smoking()) if c.key == CULTURE)


def expected_columns(culture: float, names: list[str]) -> dict[str, Any]:
    """The plotted columns ``names`` of a page of the workshop's scenario at ``culture``, run
    here (one run, no other setting changed)."""
    from pssc_sim.explore.compute import compute, output_columns, scenario_for
    from pssc_sim.explore.controls import CULTURE, controls_for, defaults

    base = smoking()
    model = base.load_model()
    controls = controls_for(base, model)
    state = defaults(controls) | {CULTURE: culture}
    outputs = sorted({name.split(":")[0] for name in names if name != "t"})
    return output_columns(compute(scenario_for(base, controls, state, model), outputs), outputs)


def plots(data: dict[str, Any], culture: float) -> bool:
    """Whether the plotted columns ``data`` (some or all of them) are those of the workshop's
    scenario at ``culture``, run here."""
    names = [name for name in data if name != "t"]
    expected = expected_columns(culture, names)
    shared = [name for name in names if name in expected]
    return bool(shared) and all(
        np.allclose(np.asarray(data[name], dtype=float), expected[name], rtol=1e-9)
        for name in shared
    )


class Participant:
    """One websocket client of the workshop (``bokeh.client``): its page's document pulled
    from the server, the culture slider moved every 2 s on its own event loop (in a thread of
    its own), and the time from each change sent to the plotted data received."""

    def __init__(self, url: str, culture: float, opened: threading.Barrier) -> None:
        self.url, self.culture, self.opened = url, culture, opened
        self.found: list[float] = []
        self.data: dict[str, Any] = {}
        self.error = ""

    def run(self, seconds: float) -> None:
        """Open the page, wait for every participant to have opened theirs, move for
        ``seconds``, keep the plotted data at the end."""
        try:
            self._run(seconds)
        except Exception as exc:  # reported with the results, not raised in a thread
            self.error = repr(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                self.opened.abort()

    def _run(self, seconds: float) -> None:
        import panel  # noqa: F401  (Panel's models must be known to read the document)
        from bokeh.client import pull_session
        from bokeh.document.events import MessageSentEvent
        from bokeh.events import DocumentReady
        from bokeh.models import Slider
        from tornado.ioloop import IOLoop

        loop = IOLoop()
        session = pull_session(url=self.url, arguments={"culture": str(self.culture)}, io_loop=loop)
        document = session.document
        source = document.get_model_by_name("outputs")
        slider = next(
            m for m in document.models if isinstance(m, Slider) and m.title.startswith("culture")
        )
        self.opened.wait()
        ends, sent = time.monotonic() + seconds, [math.nan]

        def move() -> None:
            if time.monotonic() >= ends:
                session.close()
                return
            self.culture = round(min(1.0, self.culture + 0.01), 2)
            sent[0] = time.perf_counter()
            slider.value = self.culture  # as the browser sends a key press: value, then
            slider.set_from_json("value_throttled", self.culture)  # the (read-only) release

        def changed(event: Any) -> None:
            if getattr(event, "model", None) is source and not math.isnan(sent[0]):
                latency, sent[0] = time.perf_counter() - sent[0], math.nan
                self.found.append(latency)
                self.data.update(source.data)  # the columns this update changed
                loop.call_later(max(0.0, 2.0 - latency), move)

        document.on_change(changed)
        # what the browser sends once it has drawn the page: the server then sends updates
        # (Panel holds them back until then) and runs the page's on-load callbacks
        loop.add_callback(
            document.callbacks.trigger_on_change,
            MessageSentEvent(document, "bokeh_event", DocumentReady()),
        )
        loop.call_later(0.5, move)
        loop.call_later(seconds + 120, session.close)  # an update never received
        session._loop_until_closed()  # bokeh.client's loop, kept running until closed

    def own(self) -> bool:
        """Whether the plotted data at the end are those of this participant's settings."""
        return bool(self.data) and plots(self.data, self.culture)


def websocket_workshop(sessions: int, seconds: float) -> None:
    """``sessions`` websocket clients on one server, each moving a slider every 2 s."""
    port = free_port()
    server = start(ROOT / "scenarios" / f"{QUICK[0]}.yaml", port)
    url = f"http://localhost:{port}/"
    opened = threading.Barrier(sessions + 1)
    people = [Participant(url, round(0.1 + 0.02 * i, 2), opened) for i in range(sessions)]
    threads = [threading.Thread(target=p.run, args=(seconds,), daemon=True) for p in people]
    try:
        began = cpu_seconds(server.pid)
        for thread in threads:
            thread.start()
        opened.wait(timeout=600)
        open_cpu = cpu_seconds(server.pid) - began
        load_opened = os.getloadavg()[0]
        for thread in threads:
            thread.join(seconds + 300)
        move_cpu = cpu_seconds(server.pid) - began - open_cpu
    finally:
        stop(server)
    found = [latency for p in people for latency in p.found]
    for p in people:
        if p.error:
            print(f"  a session at culture {p.culture} failed: {p.error}")
    own = [p.own() for p in people]
    for p, kept in zip(people, own, strict=True):
        if not kept and not p.error:
            print(f"  a session at culture {p.culture} shows data of other settings")
    ordered = sorted(found)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if found else math.nan
    print(
        f"workshop (websocket clients): {sessions} sessions for {seconds:g} s, {len(found)} "
        f"moves: median {statistics.median(found) * 1000 if found else math.nan:.0f} ms, p95 "
        f"{p95 * 1000:.0f} ms (goal 1000 ms); {sum(own)} of {sessions} sessions plotted their "
        f"own settings' run; server CPU {open_cpu:.1f} s for the {sessions} page opens "
        f"({open_cpu / sessions * 1000:.0f} ms each, load {load_opened:.1f}), "
        f"{move_cpu:.1f} s for the moves ({move_cpu / max(1, len(found)) * 1000:.0f} ms "
        f"each), load {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="scenarios under scenarios/ (default: one per case study)",
    )
    parser.add_argument("--quick", action="store_true", help="the smoking scenario only")
    parser.add_argument("--moves", type=int, default=9, help="slider moves per measurement")
    parser.add_argument(
        "--one-way",
        action="store_true",
        help="move the slider one way only (every move a new setting, never a kept run)",
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=0,
        help="instead: a workshop of this many concurrent sessions",
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="how long the workshop moves sliders"
    )
    parser.add_argument(
        "--websocket",
        action="store_true",
        help="the workshop's sessions as websocket clients instead of browser contexts",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"bench_explore: {machine()}")
    if args.sessions:
        run_workshop = websocket_workshop if args.websocket else workshop
        run_workshop(args.sessions, args.seconds)
        return
    print(
        f"{'scenario':<34} {'mode':<16} {'median':>9} {'max':>9}  {'goal':<15} "
        "server CPU  browser CPU  main thread busy / CPU (per move)"
    )
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        for name in args.scenarios or (QUICK if args.quick else SCENARIOS):
            port = free_port()
            server = start(ROOT / "scenarios" / f"{name}.yaml", port)
            try:
                for mode, query in (
                    ("one run", "?culture=0.5"),
                    ("ensemble of 200", "?culture=0.5&uncertainty=1"),
                ):
                    found, server_cpu, browser_cpu, main_thread, main_cpu = latencies(
                        browser,
                        f"http://localhost:{port}/{query}",
                        args.moves,
                        server.pid,
                        args.one_way,
                    )
                    median = statistics.median(found)
                    verdict = "met" if median < GOALS[mode] else "missed"
                    print(
                        f"{name:<34} {mode:<16} {median * 1000:7.0f} ms {max(found) * 1000:6.0f}"
                        f" ms  {GOALS[mode] * 1000:.0f} ms {verdict:<7} {server_cpu * 1000:7.0f} ms"
                        f" {browser_cpu * 1000:9.0f} ms {main_thread * 1000:9.0f} /"
                        f" {main_cpu * 1000:3.0f} ms"
                        f"  (load {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
            finally:
                stop(server)
        browser.close()


if __name__ == "__main__":
    main()
