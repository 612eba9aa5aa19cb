"""The order pages (orders, one order's decisions, automation modes, KPI strip) in headless Chromium.

Orders and decision records are made with the domain services directly (no sandboxes), in
the shapes the order flow writes them (storeops.flows.orders.decide and its actions).
Skipped without Chromium unless STOREOPS_TEST_REQUIRE_BROWSER=1, like test_dashboard_browser.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from storeops.core.settings import Settings
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.orders import FulfillmentCenter, exceptions
from storeops.domain.orders import services as orders
from storeops.web import orders_pages

from conftest import LiveServer, open_page, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/storeops-orders.png")  # noqa: S108 - a fixed, well-known spot for reviewers
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)




@pytest.fixture
def pages_app(settings: Settings, db: Database) -> Iterator[LiveServer]:
    """The web app with the order pages' router included (as app.py will)."""
    from storeops.web.app import create_app

    app = create_app(settings, db)
    if not any(getattr(r, "path", None) == "/automations" for r in app.api.routes):
        app.api.include_router(orders_pages.router)
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def page(browser: Browser, pages_app: LiveServer) -> Iterator[Page]:
    with open_page(browser, pages_app.url) as opened:
        yield opened


def kpi(page: Page, name: str) -> str:
    return page.locator(f'[data-kpi="{name}"] b').inner_text().strip()


# --- orders as the flow leaves them ----------------------------------------------------


def _snapshot(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": 5000 + n, "name": f"#10{n:02d}", "email": f"buyer{n}@example.com", "currency": "USD",
            "total_price": f"{n}9.00", "financial_status": "paid", "fulfillment_status": None,
            "updated_at": "2026-11-02T09:00:00Z", "shipping_lines": [{"title": "Standard"}],
            "shipping_address": {"first_name": "Ada", "last_name": "L", "address1": "200 N Spring St",
                                 "city": "Los Angeles", "province_code": "CA", "zip": "90012", "country_code": "US"},
            "line_items": [{"id": 1, "sku": "MH01-XS-Orange", "quantity": 1, "grams": 300, "price": "49.00"}],
            **extra}


def make_order(db: Database, shop: str, n: int, *, status: str, mode: str = "live", held: str | None = None,
               flags: tuple[str, ...] = (), priority: str = "normal", shipbob: str | None = None,
               minutes_to_shipbob: float | None = None, tracking: str | None = None,
               decided: bool = True) -> str:
    with db.session(shop) as session:
        applied = orders.apply_shopify_order(session, shop, _snapshot(n))
        assert applied is not None
        order = applied.order
        order.created_at = T0
        if not decided:
            return order.external_id
        order.status, order.priority, order.decided_at = status, priority, T0
        flag_list = [{"rule": f"{f}@1", "kind": "flag", "reason": f"{f} fired"} for f in flags]
        order.checks = {"address": {"ok": held != "address", "issues": []}, "flags": flag_list}
        outputs: dict[str, Any] = {"priority": priority, "flags": flag_list, "hold": held == "risk"}
        if held:
            outputs["held"] = held
        intended, taken = [], []
        if not held:
            intended = [{"target": "shipbob.create_order", "cause": f"order_routing:{order.external_id}",
                         "payload": {"order_id": order.external_id}}]
        if shipbob:
            order.shipbob_order_id, order.shipbob_status = shipbob, "Processing"
            result: dict[str, Any] = {"shipbob_order_id": shipbob, "status": "Processing"}
            if minutes_to_shipbob is not None:
                result["created_at"] = (T0 + timedelta(minutes=minutes_to_shipbob)).isoformat()
            taken = [{"target": "shipbob.create_order", "key": f"k{n}", "status": "done", "result": result}]
        if tracking:
            order.tracking_number, order.tracking_company = tracking, "USPS"
        record = decisions.record(session, shop, subject=f"order:{order.external_id}", automation="order_routing",
                                  mode=mode, inputs={"order": {"id": order.external_id}},
                                  rules=["address_check@1", "risk_score@3", *(f"{f}@1" for f in flags)],
                                  outputs=outputs, intended_actions=intended, actions_taken=taken,
                                  cause=f"inbox:shopify:ev-{n}")
        if held:  # as the flow does: a hold opens an exception for a person
            if held == "address":
                order.shipping_address = {**(order.shipping_address or {}), "zip": "10001"}
            exceptions.open_exception(session, shop, order, held, f"{held} hold for order {n}",
                                      {"decision_id": record.id, "checks": order.checks}, now=T0)
        return order.external_id


@pytest.fixture
def known_orders(db: Database, shop_id: str) -> dict[str, str]:
    """Six orders: 3 touchless (ShipBob after 4, 10 and 30 minutes), 2 held, 1 shadowed, 1 undecided."""
    return {
        "fast": make_order(db, shop_id, 1, status="routed", shipbob="SB-1", minutes_to_shipbob=4),
        "vip": make_order(db, shop_id, 2, status="shipped", shipbob="SB-2", minutes_to_shipbob=10,
                          flags=("vip_customer", "expedited_shipping"), priority="high", tracking="9400TRACK2"),
        "slow": make_order(db, shop_id, 3, status="routed", shipbob="SB-3", minutes_to_shipbob=30),
        "risky": make_order(db, shop_id, 4, status="held", held="risk", flags=("high_value_first_order",)),
        "bad_address": make_order(db, shop_id, 5, status="held", held="address"),
        "shadow": make_order(db, shop_id, 6, status="shadowed", mode="shadow"),
        "new": make_order(db, shop_id, 7, status="new", decided=False),
    }


# --- tests -----------------------------------------------------------------------------


def test_signed_out_the_pages_redirect_to_login(page: Page) -> None:
    for path in ("/orders", "/orders/5001", "/automations"):
        page.goto(path)
        assert page.url.endswith("/login"), path
    response = page.request.post("/automations", form={"automation": "order_routing", "mode": "off"},
                                 max_redirects=0)
    assert response.status == 303 and response.headers["location"] == "/login"


def test_orders_list_shows_status_across_systems_and_flags(page: Page, known_orders: dict[str, str]) -> None:
    sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Orders", exact=True).click()
    page.wait_for_url("**/orders")
    assert page.title().startswith("Orders")
    rows = page.locator("#orders tbody tr")
    assert rows.count() == 7

    def cell(order_id: str, col: str) -> str:
        return page.locator(f'tr[data-order="{order_id}"] [data-col={col}]').inner_text().strip()

    vip = known_orders["vip"]
    assert cell(vip, "order").startswith("#1002")
    assert cell(vip, "customer") == "buyer2@example.com"
    assert cell(vip, "total") == "29.00 USD"
    assert "high" in cell(vip, "flags") and "vip_customer" in cell(vip, "flags")
    assert "expedited_shipping" in cell(vip, "flags")
    assert cell(vip, "shopify") == "paid / unfulfilled"
    assert cell(vip, "status") == "shipped"
    assert cell(vip, "shipbob") == "SB-2 Processing"
    assert cell(vip, "tracking").startswith("9400TRACK2")
    assert cell(known_orders["risky"], "status") == "held"
    assert "high_value_first_order" in cell(known_orders["risky"], "flags")
    assert "address" in cell(known_orders["bad_address"], "flags")
    assert cell(known_orders["shadow"], "status") == "shadowed"
    assert cell(known_orders["shadow"], "shipbob") == "—"

    page.get_by_label("Status").select_option("held")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/orders?*status=held*")
    held = {r.get_attribute("data-order") for r in page.locator("#orders tbody tr").all()}
    assert held == {known_orders["risky"], known_orders["bad_address"]}
    page.goto("/orders?status=delivered")
    assert "No orders with status delivered" in page.locator("main").inner_text()


def test_kpi_strip_for_a_known_set_of_orders(page: Page, known_orders: dict[str, str]) -> None:
    sign_in(page)
    page.goto("/orders")
    # decided: 6 (not the new one); touchless: the 3 that reached ShipBob without a hold -> 50%
    assert kpi(page, "touchless") == "50%"
    assert "3 of 6" in page.locator('[data-kpi="touchless"] small').inner_text()
    assert kpi(page, "held") == "2"
    assert kpi(page, "to-3pl") == "10 min"  # median of 4, 10, 30
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.goto("/orders?status=held")  # the strip is about all orders, not the filtered list
    assert kpi(page, "touchless") == "50%"


def test_kpi_strip_shows_a_dash_when_unknown(page: Page, db: Database, shop_id: str) -> None:
    make_order(db, shop_id, 1, status="routed", shipbob="SB-1")  # no ShipBob creation time recorded
    sign_in(page)
    page.goto("/orders")
    assert (kpi(page, "touchless"), kpi(page, "held"), kpi(page, "to-3pl")) == ("100%", "0", "—")


def test_kpis_without_orders(page: Page, shop_id: str) -> None:
    sign_in(page)
    page.goto("/orders")
    assert (kpi(page, "touchless"), kpi(page, "held"), kpi(page, "to-3pl")) == ("—", "0", "—")
    assert "No orders" in page.locator("main").inner_text()


def test_order_detail_shows_its_decision_records(page: Page, known_orders: dict[str, str]) -> None:
    sign_in(page)
    page.goto("/orders")
    page.get_by_role("link", name="#1002").click()
    page.wait_for_url(f"**/orders/{known_orders['vip']}*")
    assert page.get_by_role("heading", name="Order #1002").is_visible()
    assert page.locator("#order-status [data-col=shipbob]").inner_text().startswith("SB-2 Processing")
    [decision] = page.locator("section.decision").all()
    assert "order_routing" in decision.locator("h2").inner_text()
    assert decision.locator("[data-col=mode]").inner_text().strip() == "live"
    rules = [r.strip() for r in decision.locator("[data-col=rules] .chip").all_inner_texts()]
    assert rules == ["address_check@1", "risk_score@3", "vip_customer@1", "expedited_shipping@1"]
    actions = decision.locator("table.actions tbody tr")
    assert actions.count() == 1
    assert "shipbob.create_order" in actions.inner_text() and "done" in actions.inner_text()
    assert "SB-2" in actions.inner_text()
    decision.get_by_text("Outputs").click()
    assert '"priority": "high"' in decision.locator("details").first.inner_text()
    assert "inbox:shopify:ev-2" in decision.inner_text()

    page.goto(f"/orders/{known_orders['shadow']}")
    shadow = page.locator("section.decision")
    assert shadow.locator("[data-col=mode]").inner_text().strip() == "shadow"
    assert "shadow mode acts nowhere" in shadow.inner_text()
    assert "Intended actions (1)" in shadow.inner_text()

    response = page.goto("/orders/999999")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Order not found").is_visible()


def test_automations_form_switches_a_mode(page: Page, db: Database, shop_id: str) -> None:
    sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Automations", exact=True).click()
    page.wait_for_url("**/automations")
    row = page.locator('tr[data-automation="order_routing"]')
    assert row.locator("[data-col=mode] .chip").inner_text().strip() == "live"  # the default
    page.get_by_label("Mode for order_routing").select_option("shadow")
    page.locator('tr[data-automation="order_routing"]').get_by_role("button", name="Save").click()
    page.wait_for_url("**/automations?*saved=order_routing*")
    assert row.locator("[data-col=mode] .chip").inner_text().strip() == "shadow"
    assert "order_routing is now shadow" in page.get_by_role("status").inner_text()
    with db.session(shop_id) as session:
        assert decisions.mode_for(session, shop_id, "order_routing") == "shadow"
    page.reload()  # POST-redirect-GET: a reload does not post again
    assert row.locator("[data-col=mode] .chip").inner_text().strip() == "shadow"


def test_a_bad_mode_is_a_clear_error(page: Page, db: Database, shop_id: str) -> None:
    sign_in(page)
    page.goto("/automations")
    page.get_by_label("Mode for order_routing").evaluate(
        "el => { const o = document.createElement('option'); o.value = 'turbo'; o.text = 'turbo';"
        " el.add(o); el.value = 'turbo'; }")
    page.locator('tr[data-automation="order_routing"]').get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "mode must be one of off, shadow, live" in page.get_by_role("alert").inner_text()
    assert page.locator('tr[data-automation="order_routing"] [data-col=mode] .chip').inner_text().strip() == "live"
    response = page.request.post("/automations", form={"shop": shop_id, "automation": "nope", "mode": "off"})
    assert response.status == 422 and "no automation named &#39;nope&#39;" in response.text()
    with db.session(shop_id) as session:
        assert decisions.mode_for(session, shop_id, "order_routing") == "live"


# --- the exceptions queue ----------------------------------------------------------------


def row_of(page: Page, exception_id: int) -> Any:
    return page.locator(f'tr[data-exception="{exception_id}"]')


def exception_ids(db: Database, shop: str) -> dict[str, int]:
    with db.session(shop) as session:
        return {x.kind: x.id for x in exceptions.list_exceptions(session, status="unresolved")}


def test_exceptions_page_shows_age_sla_escalation_and_context(page: Page, db: Database, shop_id: str,
                                                               known_orders: dict[str, str]) -> None:
    ids = exception_ids(db, shop_id)
    with db.session(shop_id) as session:  # the risk hold is recent; the address one aged and escalated
        risky = exceptions.get_exception(session, ids["risk"])
        risky.opened_at = datetime.now(UTC) - timedelta(minutes=30)
        risky.sla_due_at = risky.opened_at + timedelta(hours=4)
        aged = exceptions.get_exception(session, ids["address"])
        exceptions.escalate(aged, 2, datetime.now(UTC))
    sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Exceptions", exact=True).click()
    page.wait_for_url("**/exceptions")
    assert page.title().startswith("Exceptions")
    assert page.locator("#exceptions tbody tr[data-exception]").count() == 2
    assert page.locator('[data-count="unresolved"]').inner_text().startswith("2 waiting")
    risk = row_of(page, ids["risk"])
    assert risk.locator("[data-col=kind]").inner_text().strip() == "risk"
    assert risk.locator("[data-col=age]").inner_text().strip() in ("30 min", "31 min")
    assert risk.locator("[data-col=sla]").inner_text().strip().startswith("due in 3.")
    assert risk.locator("[data-col=order]").inner_text().startswith("#1004")
    address = row_of(page, ids["address"])
    assert address.locator("[data-col=sla]").inner_text().startswith("overdue")
    assert address.locator("[data-col=escalation]").inner_text().strip() == "level 2"
    detail = page.locator(f'tr[data-detail="{ids["address"]}"]')
    detail.get_by_text("Context").click()
    assert '"decision_id"' in detail.locator("pre").inner_text()
    assert detail.get_by_role("button", name="Fix address").is_visible()
    assert page.locator(f'tr[data-detail="{ids["risk"]}"]').get_by_role("button", name="Fix address").count() == 0

    page.get_by_label("Kind").select_option("risk")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/exceptions?*kind=risk*")
    assert [r.get_attribute("data-exception") for r in page.locator("#exceptions tr[data-exception]").all()] == [
        str(ids["risk"])]
    page.screenshot(path="/tmp/storeops-exceptions.png", full_page=True)  # noqa: S108


def test_approve_on_the_page_releases_the_order_and_the_kpi_drops(
        page: Page, db: Database, shop_id: str, known_orders: dict[str, str]) -> None:
    from storeops.engine.models import OutboxMessage
    from storeops.flows import orders as order_flow

    # The shop's ShipBob FCs as the flow caches them (no ShipBob here).
    order_flow._fc_cache[shop_id] = (time.monotonic(), [FulfillmentCenter("1", "Moreno Valley", 33.9, -117.2)])
    ids = exception_ids(db, shop_id)
    sign_in(page)
    page.goto("/orders")
    assert kpi(page, "held") == "2"
    page.goto("/exceptions")
    form = page.get_by_role("form", name=f"Approve exception {ids['risk']}")
    form.get_by_label("Your name").fill("ana@shop.test")
    form.get_by_label(f"Note for approve {ids['risk']}").fill("known customer")
    form.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"**/exceptions?*done={ids['risk']}*")
    assert f"Exception {ids['risk']} handled" in page.get_by_role("status").inner_text()
    assert page.locator("#exceptions tr[data-exception]").count() == 1
    with db.session(shop_id) as session:
        row = exceptions.get_exception(session, ids["risk"])
        assert (row.status, row.resolution, row.resolved_by, row.resolution_note) == (
            "resolved", "approved", "ana@shop.test", "known customer")
        order = orders.find(session, known_orders["risky"])
        assert order is not None and order.status == "routed" and order.assigned_fc == "1"
        last = decisions.for_subject(session, f"order:{known_orders['risky']}")[-1]
        assert last.inputs["by"] == "ana@shop.test" and last.outputs["waived"] == ["risk"]
    with db.system_session() as session:
        targets = {m.target for m in session.query(OutboxMessage).all()}
    assert "shipbob.create_order" in targets
    page.goto("/orders")
    assert kpi(page, "held") == "1"
    page.goto("/exceptions?status=resolved")
    assert "approved by ana@shop.test" in row_of(page, ids["risk"]).locator("[data-col=status]").inner_text()
    page.goto(f"/orders/{known_orders['risky']}")
    shown = page.locator(f'#order-exceptions tr[data-exception="{ids["risk"]}"]')
    assert "approved by ana@shop.test: known customer" in shown.locator("[data-col=resolution]").inner_text()


def test_a_bad_fix_is_a_clear_error_and_changes_nothing(page: Page, db: Database, shop_id: str,
                                                        known_orders: dict[str, str]) -> None:
    ids = exception_ids(db, shop_id)
    sign_in(page)
    page.goto("/exceptions")
    form = page.get_by_role("form", name=f"Fix exception {ids['address']}")
    assert form.get_by_label(f"ZIP for {ids['address']}").input_value() == "10001"
    form.get_by_label(f"ZIP for {ids['address']}").fill("10002")
    form.get_by_role("button", name="Fix address").click()
    page.wait_for_load_state()
    assert "still invalid" in page.get_by_role("alert").inner_text()
    override = page.get_by_role("form", name=f"Override exception {ids['address']}")
    override.get_by_label(f"Override for {ids['address']}").select_option("route")
    override.get_by_role("button", name="Override").click()
    page.wait_for_load_state()
    assert "route needs a fulfillment center" in page.get_by_role("alert").inner_text()
    with db.session(shop_id) as session:
        row = exceptions.get_exception(session, ids["address"])
        assert row.status == "open" and row.resolution is None
        order = orders.find(session, known_orders["bad_address"])
        assert order is not None and order.status == "held" and order.shipping_address["zip"] == "10001"
        assert len(decisions.for_subject(session, f"order:{known_orders['bad_address']}")) == 1
