"""Slider-to-redraw latency of ``pssc explore`` in headless Chromium (the system's, through
playwright), for one targeted scenario of each case-study model.

For each scenario a ``pssc explore`` server is started, a page opened, and the culture slider
(the first control) moved one step with the keyboard, again and again; the time from the key
press until the page's chart data has changed and the browser has drawn two more frames is one
latency. Prints the median and the largest of ``--moves`` moves for one run and for the
uncertainty ensemble (200 members in one call), against the goals of 150 ms and 500 ms. Wall
time, so other jobs on the machine add to it.

    .venv/bin/python benchmarks/bench_explore.py [--quick] [--moves 9]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from harness import ROOT, machine

#: One targeted scenario per case-study model.
SCENARIOS = ("smoking/quit-count-target", "child_obesity/y6-target", "climate/net-zero-2030",
             "em_employment/work-programme", "health_social_care/dtoc-target",
             "ambulance/eight-minute-target")
QUICK = ("smoking/quit-count-target",)
GOALS = {"one run": 0.150, "ensemble of 200": 0.500}
CHROMIUM = "/usr/bin/chromium"
DATA = ("() => JSON.stringify(Object.values(Bokeh.documents[0].get_model_by_name('outputs')"
        ".data).slice(1, 3))")
READY = ("() => window.Bokeh && Bokeh.documents.length > 0 && "
         "Bokeh.documents[0].get_model_by_name('outputs') !== null && "
         "Bokeh.documents[0].get_model_by_name('outputs').data.t.length > 0")
FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(scenario: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "pssc_sim", "explore", str(scenario),
                                "--port", str(port), "--no-browser"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/", timeout=60):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"pssc explore {scenario} did not start")


def latencies(browser: object, url: str, moves: int) -> list[float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    try:
        page.goto(url, wait_until="load")
        page.wait_for_function(READY, timeout=120_000)
        page.evaluate(FRAMES)
        handle = page.locator(".noUi-handle").first
        found = []
        for i in range(moves):
            before = page.evaluate(DATA)
            handle.focus()
            began = time.perf_counter()
            page.keyboard.press("ArrowLeft" if i % 2 else "ArrowRight")
            page.wait_for_function(f"(before) => ({DATA})() !== before", arg=before,
                                   timeout=120_000, polling="raf")
            page.evaluate(FRAMES)
            found.append(time.perf_counter() - began)
        return found
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smoking scenario only")
    parser.add_argument("--moves", type=int, default=9, help="slider moves per measurement")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"bench_explore: {machine()}")
    print(f"{'scenario':<34} {'mode':<16} {'median':>9} {'max':>9}  goal")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM,
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
        for name in QUICK if args.quick else SCENARIOS:
            port = free_port()
            server = start(ROOT / "scenarios" / f"{name}.yaml", port)
            try:
                for mode, query in (("one run", "?culture=0.5"),
                                    ("ensemble of 200", "?culture=0.5&uncertainty=1")):
                    found = latencies(browser, f"http://localhost:{port}/{query}", args.moves)
                    median = statistics.median(found)
                    verdict = "met" if median < GOALS[mode] else "missed"
                    print(f"{name:<34} {mode:<16} {median * 1000:7.0f} ms {max(found) * 1000:6.0f}"
                          f" ms  {GOALS[mode] * 1000:.0f} ms {verdict}", flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)
        browser.close()


if __name__ == "__main__":
    main()
