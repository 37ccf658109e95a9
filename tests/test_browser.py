"""The pages people open in a browser render under our Content-Security-Policy.

A CSP is enforced by the browser only, so these tests drive a real one: Debian's Chromium
(never a downloaded build) through Playwright, against the embedded default served by a real
server. Swagger UI at /api/docs/ once served its start-up code as an inline <script>, which
`script-src 'self'` blocks: the page stayed blank, and only the browser's console said why.

Chromium missing is a failure, not a skip: a skipped check would hide exactly that regression.
`.ci/run` installs the `chromium` package when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.embedded import EmbeddedServer, embedded_server

pytestmark = pytest.mark.slow

ADMIN_USER, ADMIN_PASSWORD = "browser-admin", "browser-pw-123456789"


@dataclass
class Console:
    """What the page told the console, and the scripts that failed."""

    errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def on_message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    @property
    def csp_violations(self) -> list[str]:
        return [text for text in self.errors if "Content Security Policy" in text]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    with embedded_server(tmp_path_factory.mktemp("browser")) as running:
        running.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_superuser({ADMIN_USER!r}, '', {ADMIN_PASSWORD!r})",
        )
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Console]]:
    context = browser.new_context()
    tab = context.new_page()
    console = Console()
    tab.on("console", console.on_message)
    tab.on("pageerror", lambda error: console.page_errors.append(str(error)))
    yield tab, console
    context.close()


def test_swagger_ui_renders_the_operations(server, page):
    tab, console = page
    tab.goto(f"{server.base_url}/api/docs/")
    ingest = tab.locator(".opblock-post", has_text="/api/v1/events").first
    expect(ingest).to_be_visible(timeout=15_000)
    expect(tab.locator(".opblock-summary-path", has_text="/api/v1/agents").first).to_be_visible()
    # the page is alive, not just drawn: opening an operation shows its parameters
    ingest.locator(".opblock-summary").click()
    expect(tab.get_by_role("button", name="Try it out").first).to_be_visible()
    assert console.csp_violations == []
    assert console.page_errors == []


def test_admin_pages_run_under_the_policy(server, page):
    tab, console = page
    tab.goto(f"{server.base_url}/admin/login/")
    tab.fill("#id_username", ADMIN_USER)
    tab.fill("#id_password", ADMIN_PASSWORD)
    tab.click("input[type=submit]")
    expect(tab.get_by_role("heading", name="Site administration")).to_be_visible()
    tab.goto(f"{server.base_url}/admin/game/pointrule/add/")
    expect(tab.locator("#id_name")).to_be_visible()
    tab.goto(f"{server.base_url}/admin/contests/contest/add/")
    # the admin's date shortcuts are drawn by its JavaScript: they show only if it ran
    expect(tab.get_by_role("button", name="Today").first).to_be_visible()
    expect(tab.get_by_text("Times on this page are UTC time")).to_be_visible()
    expect(tab.locator("#id_guardrails-0-kpi")).to_be_visible()  # rows, not a JSON text area
    assert console.csp_violations == []
    assert console.page_errors == []
