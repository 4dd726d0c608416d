"""Chromium (Debian's), driven by Playwright, against the live server; screenshots go to the run's output folder."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_service

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Without the networking flags Chromium reaches for Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OUTPUT_DIR = Path(os.environ.get("TEST_OUTPUT_DIR", Path(__file__).resolve().parents[2] / "test-output")) / "browser"


@pytest.fixture(scope="session")
def browser() -> Iterator:
    require_service(CHROMIUM.exists(), f"the browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's synchronous API runs an event loop in this thread; Django's ORM refuses to run
    # beside one unless told that this (single-threaded test) use is safe. Only while it runs.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Screens:
    """Saves a numbered screenshot of each page a test visits, and collects what the console said."""

    def __init__(self, test_name: str):
        self.folder = OUTPUT_DIR / test_name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0
        self.console: list[str] = []

    def watch(self, page) -> None:
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on("response", self._note_failure)

    def _note_failure(self, response) -> None:
        if response.status >= 400:
            self.console.append(f"error: {response.status} {response.request.method} {response.url}")

    def shot(self, page, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def problems(self) -> list[str]:
        """Script errors and Content Security Policy refusals the pages caused."""
        return [line for line in self.console if line.startswith(("error", "pageerror"))]


@pytest.fixture
def screens(request) -> Screens:
    return Screens(request.node.name)
