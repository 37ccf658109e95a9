"""Debian's Chromium, which the browser tests drive through Playwright (never a downloaded
build): where it is, how it is started, and the one way to start it.

Missing is a failure, not a skip: a skipped check would hide exactly the regressions the
browser tests are for. `.ci/run` installs the `chromium` package when it is missing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def launched() -> Iterator[Browser]:
    """Headless Chromium, closed on the way out."""
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium); "
        ".ci/run does so. Never `playwright install`."
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
