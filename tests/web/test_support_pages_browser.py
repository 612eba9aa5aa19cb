"""The support pages (triage view, KPIs, model evaluation) in headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from storeops.db.session import Database
from web.test_orders_pages_browser import kpi
from web.test_support_api import seed

from conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
SCREENSHOT = Path("/tmp/storeops-support.png")  # noqa: S108 - a fixed, well-known spot for reviewers


def test_triage_view_kpis_and_evaluation(db: Database, shop_id: str, page: Page) -> None:
    seed(db, shop_id)
    sign_in(page)
    page.get_by_role("link", name="Support").click()
    page.wait_for_url("**/support")
    assert kpi(page, "automation") == "50%"
    assert kpi(page, "escalated") == "1"
    assert kpi(page, "first-response").startswith("16.0")
    escalated = page.locator('tr[data-ticket="12"]')
    assert escalated.locator('[data-col="intent"]').inner_text().strip() == "get_refund"
    assert escalated.locator('[data-col="status"]').inner_text().strip() == "escalated"
    assert "refund request" in escalated.locator('[data-col="escalation"]').inner_text()
    replied = page.locator('tr[data-ticket="11"]')
    assert replied.locator('[data-col="confidence"]').inner_text().strip() == "0.97"
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.get_by_role("link", name="escalated").first.click()
    page.wait_for_url("**/support?status=escalated**")
    assert page.locator("tr[data-ticket]").count() == 1

    page.get_by_role("link", name="Model evaluation").click()
    page.wait_for_url("**/support/evaluation")
    accuracy = kpi(page, "accuracy")
    assert accuracy.endswith("%") and 50 < float(accuracy.rstrip("%")) <= 100
    assert page.locator("#per-intent tr[data-intent]").count() >= 20
    assert page.locator('tr[data-intent="track_order"]').count() == 1
