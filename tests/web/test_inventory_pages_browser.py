"""The inventory page in headless Chromium, and GET /api/v1/inventory, over state made with the
domain services (the shapes the inventory flow writes). Skipped without Chromium unless
STOREOPS_TEST_REQUIRE_BROWSER=1."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import select

from storeops.db.session import Database
from storeops.domain.inventory import StockChange, reserve
from storeops.domain.inventory import services as stock
from storeops.domain.inventory.models import ChannelListing
from storeops.flows import inventory as inventory_flow

from conftest import ADMIN_TOKEN, LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOT = Path("/tmp/storeops-inventory.png")  # noqa: S108 - a fixed, well-known spot for reviewers
STAMP = datetime(2026, 11, 27, 10, 0, tzinfo=UTC).isoformat()


@pytest.fixture
def stocked(db: Database, shop_id: str) -> str:
    with db.session(shop_id) as session:
        inventory_flow.set_mode(session, shop_id, "shadow")
        stock.apply_stock(session, shop_id, [StockChange("TEE-M", "1", 12, STAMP), StockChange("TEE-M", "2", 3, STAMP),
                                             StockChange("CAP-1", "1", 1, STAMP)])
        stock.link_listings(session, shop_id, [
            {"channel": "shopify", "sku": sku, "location": loc, "external_item": f"gid://shopify/InventoryItem/{n}",
             "external_location": f"gid://shopify/Location/{loc}"}
            for n, sku in enumerate(("TEE-M", "CAP-1")) for loc in ("1", "2")]
            + [{"channel": "amazon", "sku": sku, "location": ""} for sku in ("TEE-M", "CAP-1")])
        stock.set_policy(session, shop_id, "amazon", safety_buffer=1)
        stock.set_threshold(session, shop_id, "CAP-1", 2)
        assert reserve(session, shop_id, "5001", [("TEE-M", 2)]).ok
        stock.refresh_targets(session, shop_id, ["TEE-M", "CAP-1"])
        short = reserve(session, shop_id, "5002", [("CAP-1", 4)])
        stock.raise_alert(session, shop_id, "oversell", "CAP-1", order_id="5002",
                          detail={"order_id": "5002", "reason": "not_reservable",
                                  "short": [{"sku": "CAP-1", "wanted": 4, "available": short.short[0].available}]})
        row = session.scalar(select(ChannelListing).where(ChannelListing.sku == "TEE-M",
                                                          ChannelListing.channel == "shopify",
                                                          ChannelListing.location == "1"))
        assert row is not None
        row.last_pushed, row.last_seen = row.target, 7  # the channel drifted to 7
    return shop_id


def test_api_lists_sku_by_channel_with_atp_drift_and_alerts(live_app: LiveServer, stocked: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    body = httpx.get(f"{live_app.url}/api/v1/inventory", headers=headers, timeout=10).json()
    assert body["mode"] == "shadow"
    rows = {r["sku"]: r for r in body["skus"]}
    tee = rows["TEE-M"]
    assert (tee["on_hand"], tee["reserved"], tee["available"]) == (15, 2, 13)
    channels = {(c["channel"], c["location"]): c for c in tee["channels"]}
    assert channels[("shopify", "1")]["atp"] == 10 and channels[("shopify", "1")]["drift"] == 7 - 10
    assert channels[("shopify", "2")]["atp"] == 3 and channels[("amazon", "")]["atp"] == 9 + 2
    kinds = {(a["kind"], a["sku"]) for a in body["alerts"]}
    assert {("oversell", "CAP-1"), ("low_stock", "CAP-1")} <= kinds
    assert httpx.get(f"{live_app.url}/api/v1/inventory", timeout=10).status_code == 401
    bad = httpx.put(f"{live_app.url}/api/v1/inventory/policies/ebay", headers=headers, json={"safety_buffer": 1},
                    timeout=10)
    assert bad.status_code == 422
    ok = httpx.put(f"{live_app.url}/api/v1/inventory/policies/shopify", headers=headers,
                   json={"safety_buffer": 2, "floor": 0, "share_pct": 100}, timeout=10)
    assert ok.status_code == 200
    again = httpx.get(f"{live_app.url}/api/v1/inventory?sku=TEE", headers=headers, timeout=10).json()
    [tee] = again["skus"]
    assert {(c["channel"], c["location"]): c["atp"] for c in tee["channels"]}[("shopify", "1")] == 8


@pytest.mark.browser
def test_inventory_page_shows_atp_per_channel_and_alerts(page: Page, stocked: str) -> None:
    page.goto("/login")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Inventory").click()
    page.wait_for_url("**/inventory")
    assert page.locator("[data-mode]").inner_text() == "shadow"
    tee = page.locator('#inventory tr[data-sku="TEE-M"]')
    assert tee.locator('[data-col="on_hand"]').inner_text() == "15"
    assert tee.locator('[data-col="reserved"]').inner_text() == "2"
    assert tee.locator('[data-col="shopify"] [data-location="1"]').get_attribute("data-atp") == "10"
    assert tee.locator('[data-col="amazon"] [data-location=""]').get_attribute("data-atp") == "11"
    assert tee.locator("[data-drift]").inner_text() == "drift -3"
    first_alert = page.locator("#inventory-alerts tbody tr").first
    assert first_alert.get_attribute("data-alert") == "oversell"  # oversells first: a person must act
    assert "wanted 4" in first_alert.inner_text()
    page.get_by_label("SKU starts with").fill("CAP")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert page.locator("#inventory tbody tr").count() == 1
    page.screenshot(path=str(SCREENSHOT), full_page=True)
