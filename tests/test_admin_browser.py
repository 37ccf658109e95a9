"""The managers' admin pages in a real browser (Debian's Chromium through Playwright, as
tests/test_browser.py), in English and in Persian, against the seeded demo served by the
embedded default: the pages render with the seeded data, Persian is right to left with no
English left in our strings and dates in the Solar Hijri calendar, Traditional Chinese has no
Simplified-only characters, the keyboard reaches the forms, and the flows work: a grant moves
coins exactly as the API's, an adjustment, a rejection with a note, the CSV export, the audit
log's filters, the scorecard's week KPIs.

Bounded: one server and one browser for the module; every wait is Playwright's, at most 10 s.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from gamify.management.commands.seed_demo import DEMO_PASSWORD
from tests.embedded import EmbeddedServer, embedded_server
from tests.test_admin_i18n import po_path
from tests.test_browser import Console
from tests.widgets.catalogues import SIMPLIFIED_ONLY, read_po

pytestmark = pytest.mark.slow

AGENTS = 6
AGENT = "agent-001"
JALALI = re.compile(
    r"\d{1,2} (فروردین|اردیبهشت|خرداد|تیر|مرداد|شهریور|مهر|آبان|آذر|دی|بهمن|اسفند) 1[34]\d\d"
)
# Our English strings that a Persian page must not show (longer ones: a short word such as
# "KPI" or "CSV" may stand inside a Persian sentence).
ENGLISH = sorted(
    (m for m in read_po(po_path("en")) if len(m) > 12 and "%(" not in m and " " in m),
    key=len,
    reverse=True,
)


class Demo:
    def __init__(self, server: EmbeddedServer, output: str) -> None:
        self.server = server
        self.key = re.search(r"API key:\s+(\S+)", output).group(1)  # type: ignore[union-attr]

    @property
    def base(self) -> str:
        return self.server.base_url

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.base}/api/v1{path}", headers=headers, timeout=30, **kwargs
        )

    def balance(self, agent: str = AGENT) -> int:
        return int(self.api("GET", f"/agents/{agent}/wallet").json()["balance"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with embedded_server(tmp_path_factory.mktemp("admin-i18n")) as server:
        out = server.manage("seed_demo", "--agents", str(AGENTS), "--days", "1")
        yield Demo(server, out.stdout)


def manager_tab(browser: Browser, demo: Demo, locale: str) -> tuple[Page, Console]:
    """A manager's browser whose language (Accept-Language) is `locale`, logged in."""
    context = browser.new_context(locale=locale, accept_downloads=True)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    console = Console()
    tab.on("console", console.on_message)
    tab.on("pageerror", lambda error: console.page_errors.append(str(error)))
    tab.goto(f"{demo.base}/admin/login/")
    tab.fill("#id_username", "manager")
    tab.fill("#id_password", DEMO_PASSWORD)
    tab.locator("input[type=submit]").click()
    expect(tab.locator("#user-tools")).to_be_visible()
    return tab, console


@pytest.fixture
def english(browser: Browser, demo: Demo) -> Iterator[tuple[Page, Console]]:
    tab, console = manager_tab(browser, demo, "en-US")
    yield tab, console
    tab.context.close()


@pytest.fixture
def persian(browser: Browser, demo: Demo) -> Iterator[tuple[Page, Console]]:
    tab, console = manager_tab(browser, demo, "fa-IR")
    yield tab, console
    tab.context.close()


def open_agent(tab: Page, demo: Demo, external_id: str = AGENT) -> None:
    tab.goto(f"{demo.base}/admin/accounts/agent/?q={external_id}")
    tab.get_by_role("link", name=external_id, exact=True).click()
    expect(tab.locator("#game-week")).to_be_visible()


def english_left(tab: Page) -> list[str]:
    text = tab.locator("#container").inner_text()
    return [m for m in ENGLISH if m in text]


def tab_until(tab: Page, selector: str, presses: int = 400) -> None:
    """Tab through the page until `selector` has the focus (the keyboard reaches it)."""
    target = tab.locator(selector)
    for _ in range(presses):
        tab.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"the keyboard never reached {selector}")


def test_english_agent_page_grant_moves_coins_exactly_as_the_api(demo, english):
    tab, console = english
    open_agent(tab, demo)
    expect(tab.locator("#gamify-week-title")).to_contain_text("This week (")
    expect(tab.locator("#gamify-week-title")).to_contain_text("Asia/Shanghai time")
    expect(tab.locator(".gamify-week-kpis tbody tr").first).to_be_visible()
    before = demo.balance()
    expect(tab.locator(".gamify-balance")).to_have_text(str(before))
    # by keyboard: the grant's fields and its button
    tab_until(tab, "#id_amount")
    tab.keyboard.type("7")
    tab.keyboard.press("Tab")
    tab.keyboard.type("Great week (admin)")
    tab_until(tab, ".gamify-grant input[type=submit]")
    tab.keyboard.press("Enter")
    expect(tab.locator(".messagelist")).to_contain_text(
        f"Granted 7 coins to {tab.locator('#id_display_name').input_value()}"
    )
    assert demo.balance() == before + 7
    expect(tab.locator(".gamify-balance")).to_have_text(str(before + 7))
    # the same grant through the API is the same kind of ledger entry
    answer = demo.api(
        "POST",
        f"/agents/{AGENT}/wallet/grants",
        json={"amount": 5, "reason": "Great week (API)"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    assert demo.balance() == before + 12
    latest = demo.api("GET", f"/agents/{AGENT}/wallet").json()["transactions"][:2]
    assert [(t["amount"], t["kind"], t["reference"]) for t in latest] == [
        (5, "grant", "Great week (API)"),
        (7, "grant", "Great week (admin)"),
    ]
    assert console.page_errors == []
    assert console.csp_violations == []


def test_persian_agent_page_is_right_to_left_and_adjusts_points(demo, persian):
    tab, console = persian
    open_agent(tab, demo, "agent-002")
    html = tab.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "fa")
    expect(tab.locator("#gamify-actions-title")).to_have_text("سکه و امتیاز")
    expect(tab.locator("#gamify-week-title")).to_contain_text("این هفته (")
    assert JALALI.search(tab.locator("#gamify-week-title").inner_text())
    expect(tab.get_by_role("link", name="کارنامهٔ این هفته")).to_be_visible()
    assert english_left(tab) == []
    before = demo.api("GET", "/agents/agent-002/profile").json()["points"]["lifetime"]
    tab_until(tab, "#id_points")
    tab.keyboard.type("-3")
    tab.keyboard.press("Tab")
    tab.keyboard.type("اصلاح دستی")
    tab.locator(".gamify-adjust input[type=submit]").click()
    expect(tab.locator(".messagelist")).to_contain_text("تعدیل شد")
    assert JALALI.search(tab.locator(".messagelist").inner_text())
    after = demo.api("GET", "/agents/agent-002/profile").json()["points"]["lifetime"]
    assert after == before - 3
    assert console.page_errors == []


def test_persian_scorecard_shows_the_week_kpis(demo, persian):
    tab, _ = persian
    open_agent(tab, demo)
    link = tab.get_by_role("link", name="کارنامهٔ این هفته")
    link.focus()
    tab.keyboard.press("Enter")
    expect(tab.get_by_role("heading", name=re.compile("^کارنامه: "))).to_be_visible()
    expect(tab.locator("html")).to_have_attribute("dir", "rtl")
    table = tab.locator("#content-main table").first
    expect(table.locator("caption")).to_have_text("شاخص‌های دوره")
    expect(table.locator("tbody tr").first).to_be_visible()
    assert "میانگین زمان رسیدگی" in table.inner_text()  # AHT's name, in Persian
    intro = tab.locator("#content-main > p").first.inner_text()
    assert "Asia/Shanghai" in intro
    assert len(JALALI.findall(intro)) == 2
    expect(tab.get_by_label("دوره", exact=True)).to_have_value("week")
    assert english_left(tab) == []


def test_reject_a_redemption_with_a_note(demo, english):
    tab, _ = english
    requested = demo.api("GET", "/redemptions?status=requested").json()["results"]
    chosen = requested[0]
    tab.goto(f"{demo.base}/admin/wallet/redemption/{chosen['id']}/change/")
    tab.get_by_role("link", name="Reject with a reason").click()
    tab_until(tab, "#id_note")
    tab.keyboard.type("Out of season: pick another reward")
    tab.get_by_role("button", name="Reject").click()
    expect(tab.locator(".messagelist")).to_contain_text("1 redemption rejected.")
    after = demo.api("GET", f"/redemptions?status=rejected&agent={chosen['agent']}").json()
    mine = [r for r in after["results"] if r["id"] == chosen["id"]]
    assert mine
    assert mine[0]["note"] == "Out of season: pick another reward"


def test_persian_reject_page_and_csv_export(demo, persian):
    tab, _ = persian
    requested = demo.api("GET", "/redemptions?status=requested").json()["results"]
    tab.goto(f"{demo.base}/admin/wallet/redemption/{requested[0]['id']}/reject/")
    expect(tab.locator("html")).to_have_attribute("dir", "rtl")
    expect(tab.locator(".gamify-reject-list")).to_contain_text("سکه")
    expect(tab.get_by_label("دلیل")).to_be_visible()
    assert english_left(tab) == []
    tab.goto(f"{demo.base}/admin/accounts/agent/export/")
    assert english_left(tab) == []
    tab.get_by_label("دوره").select_option("week")
    with tab.expect_download() as download:
        tab.get_by_role("button", name="دریافت CSV").click()
    body = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 1 + AGENTS  # a header, then one row per agent
    assert {r[0] for r in rows[1:]} == {f"agent-{n:03d}" for n in range(1, AGENTS + 1)}


def test_audit_log_lists_and_filters(demo, english):
    tab, _ = english
    demo.api(
        "POST",
        "/agents/agent-003/wallet/grants",
        json={"amount": 2, "reason": "for the audit"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    tab.goto(f"{demo.base}/admin/audit/auditentry/")
    rows = tab.locator("#result_list tbody tr")
    expect(rows.first).to_be_visible()
    total = rows.count()
    filters = tab.locator("#changelist-filter")
    expect(filters).to_contain_text("By actor")
    key_link = filters.get_by_role("link", name=re.compile(r"\(key:\w+\)$")).first
    name = key_link.inner_text().rsplit(" (", 1)[0]
    key_link.click()
    expect(tab.locator("#changelist-filter li.selected", has_text="(key:")).to_be_visible()
    actors = tab.locator("#result_list tbody td.field-actor_label").all_inner_texts()
    assert 0 < len(actors) <= total
    assert set(actors) == {name}


def test_traditional_chinese_pages_have_no_simplified_only_strings(demo, browser):
    tab, _ = manager_tab(browser, demo, "zh-TW")
    try:
        for path in ("/admin/accounts/agent/export/", "/admin/audit/auditentry/"):
            tab.goto(f"{demo.base}{path}")
            expect(tab.locator("html")).to_have_attribute("lang", "zh-hant")
        open_agent(tab, demo)
        # our strings: headings, captions, labels, legends, buttons and help (not the data)
        ours = tab.locator(
            "#game-week h2, #game-week caption, #game-week th[scope=col], "
            "#game-actions h2, #game-actions legend, #game-actions label, "
            "#game-actions .help, #game-actions input[type=submit]"
        )
        texts = ours.all_inner_texts() + [
            v.get_attribute("value") or ""
            for v in tab.locator("#game-actions input[type=submit]").all()
        ]
        joined = "".join(texts)
        assert "發放金幣" in joined
        assert not SIMPLIFIED_ONLY & set(joined), SIMPLIFIED_ONLY & set(joined)
    finally:
        tab.context.close()


def test_the_language_menu_switches_by_keyboard(demo, english):
    tab, _ = english
    tab.goto(f"{demo.base}/admin/")
    tab_until(tab, "#gamify-language")
    tab.locator("#gamify-language").select_option("fa")
    tab.keyboard.press("Tab")
    tab.keyboard.press("Enter")
    expect(tab.locator("html")).to_have_attribute("dir", "rtl")
    expect(tab.locator("#gamify-language")).to_have_value("fa")
