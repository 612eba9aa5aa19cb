"""The returns pages (list, one return, a person's approve / reject) in headless Chromium.

Orders are stored with the order services and returns asked for with the returns flow
(storeops.flows.returns.request_return), as the API does; no sandboxes: approving only writes
outbox messages here, which the test reads. Skipped without Chromium unless
STOREOPS_TEST_REQUIRE_BROWSER=1, like the other browser tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from storeops.db.session import Database
from storeops.domain.orders import services as orders
from storeops.domain.returns import services as returns
from storeops.engine.models import OutboxMessage
from storeops.flows import returns as returns_flow

from conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/storeops-returns.png")  # noqa: S108 - a fixed, well-known spot for reviewers


def shipped(db: Database, shop: str, n: int, *, tags: str = "") -> str:
    with db.session(shop) as session:
        applied = orders.apply_shopify_order(session, shop, {
            "id": 7000 + n, "name": f"#20{n:02d}", "email": f"buyer{n}@example.com", "currency": "USD",
            "total_price": "47.50", "financial_status": "paid", "updated_at": "2026-11-20T09:00:00Z", "tags": tags,
            "shipping_lines": [{"title": "Standard"}],
            "line_items": [{"id": 70 + n, "sku": "TEE-M", "name": "Tee", "quantity": 2, "grams": 200,
                            "price": "20.00"}]})
        assert applied is not None
        applied.order.status, applied.order.tracking_number = "shipped", f"9400{n}"
        return applied.order.external_id


def ask(db: Database, shop: str, order_id: str, **kwargs: Any) -> int:
    with db.session(shop) as session:
        request = returns_flow.request_return(session, shop, order_id, [{"sku": "TEE-M", "quantity": 1}],
                                              kwargs.pop("reason", "unwanted"), source="api", **kwargs)
        return request.id


@pytest.fixture
def known(db: Database, shop_id: str) -> dict[str, int]:
    return {
        "approved": ask(db, shop_id, shipped(db, shop_id, 1)),
        "review": ask(db, shop_id, shipped(db, shop_id, 2), condition="used", reason="defective"),
        "rejected": ask(db, shop_id, shipped(db, shop_id, 3, tags="final-sale")),
    }


def outbox_targets(db: Database) -> list[str]:
    with db.system_session() as session:
        return sorted(session.scalars(select(OutboxMessage.target)))


def test_signed_out_the_pages_redirect_to_login(page: Page) -> None:
    for path in ("/returns", "/returns/1"):
        page.goto(path)
        assert page.url.endswith("/login"), path
    response = page.request.post("/returns/1/decision", form={"decision": "approve"}, max_redirects=0)
    assert response.status == 303 and response.headers["location"] == "/login"


def test_the_list_shows_status_reasons_and_amounts(page: Page, known: dict[str, int]) -> None:
    sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Returns", exact=True).click()
    page.wait_for_url("**/returns")
    assert page.title().startswith("Returns")
    assert page.locator("#returns tbody tr").count() == 3

    def cell(key: str, col: str) -> str:
        return page.locator(f'tr[data-return="{known[key]}"] [data-col={col}]').inner_text().strip()

    assert cell("approved", "status") == "approved"
    assert cell("approved", "refund").startswith("18.00 USD")  # 20.00 less 10% for "unwanted"
    assert "fee 2.00" in cell("approved", "refund")
    assert cell("review", "status") == "needs_review" and cell("review", "why") == "condition_needs_review"
    assert cell("review", "refund") == "20.00 USD"
    assert cell("rejected", "status") == "rejected" and cell("rejected", "why") == "final_sale"
    assert cell("approved", "order").startswith("#2001")
    assert page.locator('[data-kpi="waiting"] b').inner_text().strip() == "1"
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.get_by_label("Status").select_option("needs_review")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/returns?*status=needs_review*")
    assert [r.get_attribute("data-return") for r in page.locator("#returns tbody tr").all()] == [str(known["review"])]


def test_a_person_approves_a_return_waiting_for_review(page: Page, db: Database, shop_id: str,
                                                       known: dict[str, int]) -> None:
    before = outbox_targets(db)
    sign_in(page)
    page.goto("/returns")
    page.get_by_role("link", name=f"#{known['review']}").click()
    page.wait_for_url(f"**/returns/{known['review']}*")
    assert page.get_by_role("heading", name=f"Return #{known['review']}").is_visible()
    assert "the item is reported used" in page.locator("#return-status [data-col=why]").inner_text()
    assert page.locator("#return-lines [data-col=total]").inner_text().strip() == "20.00 USD"
    page.screenshot(path=str(SCREENSHOT.with_name("storeops-return-detail.png")), full_page=True)
    page.get_by_label("Note").fill("photos look fine")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("**saved=approved*")
    assert f"Return {known['review']} approved" in page.get_by_role("status").inner_text()
    assert page.locator("#return-status [data-col=status]").inner_text().startswith("approved")
    assert page.locator("#decide").count() == 0  # nothing left to decide
    decisions = page.locator("section.decision")
    assert decisions.count() == 2 and "person_review@1" in decisions.nth(1).inner_text()
    assert "shipbob.create_return" in decisions.nth(1).inner_text()
    assert outbox_targets(db) == sorted([*before, "shipbob.create_return", "shopify.create_return"])
    with db.session(shop_id) as session:
        request = returns.find(session, known["review"])
        assert request is not None and request.status == "approved" and request.decided_by == "dashboard"
        assert request.note is not None and "photos look fine" in request.note
    page.reload()  # POST-redirect-GET: a reload does not post again
    assert len(outbox_targets(db)) == len(before) + 2


def test_reject_and_a_stale_form_is_a_clear_error(page: Page, db: Database, shop_id: str,
                                                  known: dict[str, int]) -> None:
    sign_in(page)
    page.goto(f"/returns/{known['review']}")
    page.get_by_role("button", name="Reject").click()
    page.wait_for_url("**saved=rejected*")
    assert page.locator("#return-status [data-col=status]").inner_text().startswith("rejected")
    # The same form posted again (a second tab): refused, nothing changed.
    answer = page.request.post(f"/returns/{known['review']}/decision",
                               form={"shop": shop_id, "decision": "approve"})
    assert answer.status == 409 and "only a return in needs_review" in answer.text()
    bad = page.request.post(f"/returns/{known['approved']}/decision", form={"shop": shop_id, "decision": "maybe"})
    assert bad.status == 422 and "Choose approve or reject" in bad.text()
    with db.session(shop_id) as session:
        assert returns.find(session, known["review"]).status == "rejected"  # type: ignore[union-attr]
    response = page.goto("/returns/999999")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Return not found").is_visible()
