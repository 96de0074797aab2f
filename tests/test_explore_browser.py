"""The served explorer in headless Chromium (the system's, driven by playwright): one
``pssc explore`` server and one browser for the module, a fresh page per test.

Skipped with the reason when Chromium is absent, and failed instead under CI, where it must be
installed (see tests/browser.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM_ARGS, chromium

pytest.importorskip("panel", reason="the explorer needs the explore extra")

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "smoking" / "quit-count-target.yaml"
MEASURE = "four_week_quits"  # the targeted measure of SCENARIO
LEDGERS = "Reported and true ledgers"  # the tab of the ledger charts
#: JavaScript reading a column of a named Bokeh data source of the page.
COLUMN = "([source, column]) => Bokeh.documents[0].get_model_by_name(source).data[column]"
READY = (
    "() => window.Bokeh && Bokeh.documents.length > 0 && "
    "Bokeh.documents[0].get_model_by_name('outputs') !== null && "
    "Bokeh.documents[0].get_model_by_name('outputs').data.t.length > 0"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Whether ``check`` holds within ``timeout`` seconds (the page updates asynchronously)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    chromium()  # skip before starting anything when there is no browser
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pssc_sim",
            "explore",
            str(SCENARIO),
            "--port",
            str(port),
            "--no-browser",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "BOKEH_LOG_LEVEL": "error"},
    )
    url = f"http://localhost:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                # a page is built on the first request: seconds on a loaded machine
                with urllib.request.urlopen(url, timeout=60):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()  # its error output ends only when it does
                    process.wait()
                    error = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"pssc explore did not start: {error[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        running = process.poll() is None  # not already ended (and reported) above
        process.terminate()
        try:
            status = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("pssc explore did not stop within 20 s of SIGTERM")
        if process.stderr:
            process.stderr.close()
        assert status == 143 or not running  # SIGTERM ends the server as it ends every command


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed, and CI is set: it is in the dev extra")
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Page:
    """A page of the explorer, with the console errors it logged."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(url, wait_until="load")
        self.page.wait_for_function(READY, timeout=60_000)

    def column(self, source: str, name: str) -> list[float]:
        return list(self.page.evaluate(COLUMN, [source, name]))

    def show(self, tab: str) -> None:
        """Choose the tab of charts named ``tab`` (the ledgers' are made when first shown)."""
        self.page.get_by_text(tab, exact=True).click()
        if tab == LEDGERS:
            self.page.wait_for_function(
                "() => Bokeh.documents[0].get_model_by_name('ledgers') !== null && "
                "Bokeh.documents[0].get_model_by_name('ledgers').data.t.length > 0",
                timeout=30_000,
            )

    def gap(self) -> float:
        row = self.page.locator(f"tr[data-measure='{MEASURE}']")
        return float(row.get_attribute("data-gap"))

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module")
def open_page(server: str, browser: Any) -> Iterator[Any]:
    """Open the page at a query; a query opened before gives the same page (loads are slow)."""
    pages: dict[str, Page] = {}

    def opened(query: str = "") -> Page:
        if query not in pages:
            pages[query] = Page(browser, server + query)
        return pages[query]

    yield opened
    for page in pages.values():
        page.close()


def test_the_page_loads_and_a_slider_redraws_the_charts_and_the_scorecard(open_page: Any) -> None:
    page = open_page("?culture=0.5")
    assert page.errors == []
    assert len(page.column("outputs", "t")) > 1
    page.show(LEDGERS)
    reported = page.column("ledgers", f"{MEASURE}:reported")
    assert reported != page.column("ledgers", f"{MEASURE}:true")
    page.show("Outputs over time")  # the ledgers hidden while the slider moves
    assert page.page.locator("td.rag").count() >= 1
    before = page.column("outputs", MEASURE)
    gap = page.gap()
    handle = page.page.locator(".noUi-handle").first  # the culture slider comes first
    handle.focus()
    for _ in range(10):
        page.page.keyboard.press("ArrowRight")
    page.page.wait_for_function(
        f"(before) => JSON.stringify(({COLUMN})(['outputs', '{MEASURE}'])) !== before",
        arg=json.dumps(before),
        timeout=30_000,
    )
    page.page.wait_for_function(
        "() => window.location.search.includes('culture=0.6')", timeout=30_000
    )
    assert page.column("outputs", MEASURE) != before
    assert eventually(lambda: page.gap() != gap)
    page.show(LEDGERS)  # shown again: drawn for the run the slider set
    assert eventually(lambda: page.column("ledgers", f"{MEASURE}:reported") != reported)
    assert page.errors == []


def test_links_differing_only_in_culture_show_different_gaps(open_page: Any) -> None:
    learning, blame = open_page("?culture=0.1"), open_page("?culture=0.9")
    assert learning.gap() != blame.gap()
    gaps = []
    for page in (learning, blame):
        page.show(LEDGERS)
        reported = page.column("ledgers", f"{MEASURE}:reported")
        true = page.column("ledgers", f"{MEASURE}:true")
        gaps.append([r - t for r, t in zip(reported, true, strict=True)])
    assert gaps[0] != gaps[1]
    assert learning.errors == blame.errors == []


def test_a_crafted_link_is_clamped_and_says_what_it_ignored(open_page: Any) -> None:
    page = open_page("?culture=5&__import__=1&target.four_week_quits.level=nan")
    assert page.page.locator("text=From the link").count() == 1
    # the address is rewritten to the state the page runs: clamped, the rest dropped
    assert eventually(lambda: page.page.evaluate("() => window.location.search") == "?culture=1.0")
    assert page.errors == []


def test_save_as_scenario_downloads_what_pssc_run_repeats(open_page: Any, tmp_path: Path) -> None:
    import numpy as np

    from pssc_sim.explore.compute import compute, scenario_for
    from pssc_sim.explore.controls import controls_for, read_query
    from pssc_sim.scenario import load_scenario

    page = open_page("?culture=0.9")
    with page.page.expect_download(timeout=30_000) as download:
        page.page.get_by_text("Save as scenario").click()
    path = tmp_path / "saved.yaml"
    download.value.save_as(path)
    base = load_scenario(SCENARIO)
    controls = controls_for(base)
    state, _ = read_query(controls, {"culture": "0.9"})
    explored = compute(scenario_for(base, controls, state)).result.results
    again = load_scenario(path).run().results
    for name in again.names:
        np.testing.assert_array_equal(
            again.values[:, again.index(name)], explored.values[:, explored.index(name)]
        )
    assert page.column("outputs", MEASURE) == explored[MEASURE].tolist()
