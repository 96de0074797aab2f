"""Open a page in headless Chromium (driven by playwright, using the system's browser) and
report what a reader would notice: console errors, pictures that did not load, requests that
left the file."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class Page:
    """What opening a page showed."""

    title: str
    errors: list[str]
    images: list[tuple[bool, int]]
    requests: list[str]


def chromium() -> str:
    """The Chromium executable; skipped when absent, except under CI where it must be there."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                "chromium is not installed, and CI is set: .ci/run installs it with "
                "apt-get install chromium"
            )
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    return found


def open_page(path: Path) -> Page:
    """Load ``path`` in headless Chromium and collect errors, pictures and requests."""
    executable = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed, and CI is set: it is in the dev extra")
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.complete, i.naturalWidth])"
            )
            title = page.title()
        finally:
            browser.close()
    return Page(title, errors, [(bool(done), int(width)) for done, width in images], requests)
