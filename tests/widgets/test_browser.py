"""The widgets in a real browser (Debian's Chromium through Playwright) against the seeded
demo served by the embedded default: what agents see, live changes without a reload, the
store's double click, Persian right to left, Traditional Chinese, the keyboard.

The screenshots in docs/ (README) are taken here, from the same seeded demo.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.embedded import EmbeddedServer, embedded_server
from tests.test_browser import Console
from tests.widgets.catalogues import SIMPLIFIED_ONLY

pytestmark = pytest.mark.slow

# The README's screenshots are rewritten only when asked (`UPDATE_SCREENSHOTS=1`), so a test
# run leaves the checkout clean; otherwise they go to a scratch folder and are still taken.
DOCS = (
    Path(__file__).resolve().parents[2] / "docs"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "gamify-screenshots"
)
AGENT = "agent-001"


class Demo:
    def __init__(self, server: EmbeddedServer, output: str) -> None:
        self.server = server
        self.urls = dict(
            re.findall(
                r"^\s+(Agent card|\(Persian\)|Leaderboard|Store|Wallboard):\s+(\S+)$", output, re.M
            )
        )
        self.key = re.search(r"API key:\s+(\S+)", output).group(1)  # type: ignore[union-attr]

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.server.base_url}/api/v1{path}", headers=headers, timeout=30, **kwargs
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with embedded_server(tmp_path_factory.mktemp("widgets")) as server:
        out = server.manage("seed_demo", "--days", "2", "--base-url", server.base_url)
        demo = Demo(server, out.stdout)
        _a_contact_each_now(demo)
        yield demo


def _a_contact_each_now(demo: Demo) -> None:
    """One handled call per demo agent, now: the simulated history only reaches the hours that
    have passed of the tenant's day (Asia/Shanghai), so just after its midnight (16:00 UTC)
    today's boards were empty and the pages had no rows to show."""
    agents = demo.api("GET", "/agents?limit=100").json()["results"]
    now = datetime.now(UTC).isoformat()
    events = [
        {"event_id": f"browser-now-{a['external_id']}", "type": "interaction", "channel": "voice",
         "occurred_at": now, "agent": a["external_id"], "answered": True, "talk_seconds": 120}
        for a in agents
    ]  # fmt: skip
    posted = demo.api("POST", "/events", json={"events": events})
    assert posted.status_code == 202, posted.text
    assert posted.json()["accepted"] == len(events) >= 3


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Console]]:
    context = browser.new_context(viewport={"width": 760, "height": 1000})
    tab = context.new_page()
    console = Console()
    tab.on("console", console.on_message)
    tab.on("pageerror", lambda error: console.page_errors.append(str(error)))
    yield tab, console
    context.close()


def test_make_run_prints_a_working_url_per_page(demo):
    assert set(demo.urls) == {"Agent card", "(Persian)", "Leaderboard", "Store", "Wallboard"}
    for url in demo.urls.values():
        assert requests.get(url, timeout=30).status_code == 200, url


def test_agent_card_renders_the_seeded_agent(demo, page):
    tab, console = page
    tab.goto(demo.urls["Agent card"])
    expect(tab.get_by_role("heading", name="Alice Martin")).to_be_visible()
    expect(tab.get_by_role("heading", name="Why my points changed")).to_be_visible()
    expect(tab.get_by_text("Points today")).to_be_visible()
    expect(tab.locator("progress")).to_be_visible()
    assert console.csp_violations == []
    assert console.page_errors == []
    DOCS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(DOCS / "widget-agent-en.png"), full_page=True)


def test_persian_card_is_right_to_left_with_persian_text(demo, page):
    tab, console = page
    tab.goto(demo.urls["(Persian)"])
    assert tab.locator("html").get_attribute("dir") == "rtl"
    assert tab.locator("html").get_attribute("lang") == "fa"
    expect(tab.get_by_text("امتیاز امروز")).to_be_visible()
    points = tab.get_by_test_id("points-day").inner_text()
    assert re.fullmatch(r"[۰-۹٬−]+", points), points  # Persian digits
    # mirrored: the avatar sits at the right edge of the card's header
    box = tab.locator(".who .avatar").bounding_box()
    heading = tab.locator(".who h1").bounding_box()
    assert box is not None
    assert heading is not None
    assert box["x"] > heading["x"]
    assert console.page_errors == []
    tab.screenshot(path=str(DOCS / "widget-agent-fa.png"), full_page=True)


def test_traditional_chinese_page_has_no_simplified_only_characters(demo, page):
    tab, _ = page
    for name in ("Agent card", "Leaderboard", "Store"):
        tab.goto(demo.urls[name] + "&lang=zh-Hant")
        shown = tab.locator("body").inner_text()
        assert "積分" in shown or "排行榜" in shown or "獎勵" in shown, name
        assert not SIMPLIFIED_ONLY & set(shown), (name, SIMPLIFIED_ONLY & set(shown))


def test_wallboard_fills_a_1080p_screen(demo, browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(demo.urls["Wallboard"])
    expect(tab.get_by_role("heading", name="Support Tier 1")).to_be_visible()
    expect(tab.get_by_role("heading", name="Today's leaderboard")).to_be_visible()
    rows = tab.locator(".wall-board tbody tr")
    assert rows.count() >= 3
    # readable from 5 metres: body text of the board at least 28 px
    size = tab.locator(".wall-board td").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert size >= 28
    assert errors == []
    tab.screenshot(path=str(DOCS / "widget-wallboard.png"))
    context.close()


def _points_today(tab: Page) -> str:
    return tab.get_by_test_id("points-day").inner_text()


def test_an_event_changes_the_open_card_and_leaderboard_within_5_seconds(demo, browser):
    context = browser.new_context()
    card, board = context.new_page(), context.new_page()
    card.goto(demo.urls["Agent card"])
    board.goto(demo.urls["Leaderboard"].replace("period=week", "period=day"))
    for tab in (card, board):
        tab.evaluate("window.__loaded = true")  # gone if the page reloads
    before = _points_today(card)
    my_row = board.locator("tr.me")
    expect(my_row).to_be_visible()
    row_before = my_row.inner_text()
    events = [
        {
            "event_id": f"browser-{uuid.uuid4().hex}",
            "type": "survey",
            "occurred_at": datetime.now(UTC).isoformat(),
            "agent": AGENT,
            "csat": 5,
        }
        for _ in range(3)
    ]
    posted = demo.api("POST", "/events", json={"events": events})
    assert posted.status_code == 202, posted.text
    started = time.monotonic()
    expect(card.get_by_test_id("points-day")).not_to_have_text(before, timeout=5000)
    expect(my_row).not_to_have_text(
        row_before, timeout=max(100, 5000 - 1000 * (time.monotonic() - started))
    )
    assert time.monotonic() - started <= 5.0
    for tab in (card, board):
        assert tab.evaluate("window.__loaded") is True  # no reload
    context.close()


def test_store_double_click_is_one_redemption(demo, page):
    tab, console = page
    grant = demo.api(
        "POST",
        f"/agents/{AGENT}/wallet/grants",
        json={"amount": 500, "reason": "browser test"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert grant.status_code == 201, grant.text
    before = demo.api("GET", f"/redemptions?agent={AGENT}&limit=100").json()["results"]
    balance = demo.api("GET", f"/agents/{AGENT}/wallet").json()["balance"]
    tab.goto(demo.urls["Store"])
    button = tab.locator("button.redeem:not([disabled])").first
    expect(button).to_be_visible()
    reward_name = button.locator("xpath=ancestor::li[1]//h2").inner_text()
    cost = int(
        re.sub(
            r"\D",
            "",
            button.locator("xpath=ancestor::li[1]//p[@class='cost']")
            .inner_text()
            .split("coins")[0],
        )
    )
    button.dblclick()
    expect(tab.locator("#store-message")).to_have_text(re.compile("Requested"), timeout=5000)
    expect(tab.get_by_test_id("request").first).to_contain_text(reward_name, timeout=5000)
    time.sleep(1.0)  # a second redemption, if there were one, would have landed by now
    after = demo.api("GET", f"/redemptions?agent={AGENT}&limit=100").json()["results"]
    assert len(after) == len(before) + 1
    assert demo.api("GET", f"/agents/{AGENT}/wallet").json()["balance"] == balance - cost
    expect(tab.get_by_test_id("balance")).to_have_text(f"{balance - cost:,}", timeout=5000)
    assert console.page_errors == []


@pytest.mark.parametrize("name", ["Leaderboard", "Store", "Agent card"])
def test_keyboard_focus_reaches_every_control(demo, page, name):
    tab, _ = page
    tab.goto(demo.urls[name])
    controls = tab.evaluate(
        "() => [...document.querySelectorAll('a[href], button:not([disabled]), select,"
        " input:not([type=hidden])')].map((e, i) => (e.dataset.k = String(i)))"
    )
    reached = set()
    for _ in range(len(controls) + 3):
        tab.keyboard.press("Tab")
        key = tab.evaluate("() => document.activeElement && document.activeElement.dataset.k")
        if key is not None:
            reached.add(key)
    assert reached == set(controls), (name, controls, reached)


def test_celebration_stays_still_under_reduced_motion(demo, browser):
    for motion, moving in (("reduce", False), ("no-preference", True)):
        context = browser.new_context(reduced_motion=motion)
        tab = context.new_page()
        tab.goto(demo.urls["Agent card"])
        name = tab.evaluate(
            "() => { const b = document.getElementById('celebrate'); b.hidden = false;"
            " b.textContent = b.dataset.level; return getComputedStyle(b).animationName; }"
        )
        assert (name != "none") is moving, (motion, name)
        context.close()
