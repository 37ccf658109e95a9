"""The coaching admin pages in a real browser (Debian's Chromium, as tests/test_browser.py):
they render under the Content-Security-Policy, the scorecard is reached from the agent's page
by keyboard, and its period form works."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401 - the fixtures, shared
    ADMIN_PASSWORD,
    ADMIN_USER,
    page,
    server,
)

pytestmark = pytest.mark.slow


def test_scorecard_and_goal_pages(server, page):  # noqa: F811
    server.manage(
        "shell",
        "-c",
        "from accounts.models import Tenant; from accounts.services import *; "
        "t = tenant_create(name='Browser', timezone_name='Asia/Tehran', slug='browser'); "
        "team_upsert(tenant=t, external_id='t1', name='Tier 1', parent_external_id=None); "
        "agent_upsert(tenant=t, external_id='a1', display_name='Ann', team_external_id='t1')",
    )
    tab, console = page
    tab.goto(f"{server.base_url}/admin/login/")
    tab.fill("#id_username", ADMIN_USER)
    tab.fill("#id_password", ADMIN_PASSWORD)
    tab.click("input[type=submit]")
    tab.goto(f"{server.base_url}/admin/accounts/agent/?q=a1")
    tab.get_by_role("link", name="a1").first.click()
    link = tab.get_by_role("link", name="This week's scorecard")
    link.focus()
    tab.keyboard.press("Enter")
    expect(tab.get_by_role("heading", name="Scorecard: Ann")).to_be_visible()
    expect(tab.get_by_text("Asia/Tehran time")).to_be_visible()
    expect(tab.get_by_role("table").first).to_be_visible()
    tab.get_by_label("Period", exact=True).select_option("month")
    tab.get_by_role("button", name="Show").click()
    expect(tab.get_by_label("Period", exact=True)).to_have_value("month")
    tab.goto(f"{server.base_url}/admin/coaching/goal/add/")
    expect(tab.locator("#id_kpi")).to_be_visible()
    tab.goto(f"{server.base_url}/admin/coaching/alertrule/add/")
    expect(tab.locator("#id_periods")).to_be_visible()
    assert console.csp_violations == []
    assert console.page_errors == []
