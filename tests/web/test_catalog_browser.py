"""The catalog pages in headless Chromium, against the sandboxes: consistency per channel, the
audit, a product's per-channel preview with its diff against what Shopify shows (after someone
edited the SEO title there), and publishing from the page repairing that drift."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.catalog import services as catalog
from storeops.flows import catalog as catalog_flow
from storeops.flows import context as flow_context
from storeops.flows.demo import connect_demo_shop, connector_for
from storeops.flows.runtime import Worker

from conftest import ADMIN_TOKEN, LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser
SCREENSHOT = Path("/tmp/storeops-catalog.png")  # noqa: S108 - a fixed, well-known spot for reviewers
HANDLE = "joust-duffle-bag"


@pytest.fixture
def shop(db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], live_app: LiveServer) -> str:
    connection = connect_demo_shop(db, box, sandboxes, live_app.url)
    assert connection.ok, connection.as_dict()
    flow_context.configure(db, box)
    return connection.shop_id


@pytest.fixture
def page(browser: Browser, live_app: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_app.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def published(db: Database, shop: str) -> bool:
    with db.session(shop) as session:
        rows = [r for r in catalog.renditions(session) if r.channel in catalog_flow.TARGETS]
    return bool(rows) and all(r.published_hash == r.content_hash for r in rows)


def wait_until(probe: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_catalog_pages_show_consistency_audit_preview_diff_and_publish_repairs(
        page: Page, db: Database, box: SecretBox, shop: str, worker: Worker) -> None:
    catalog_flow.import_shopify(db, box, shop, "product_type:Bags")
    catalog_flow.compile_renditions(db, box, shop, handles=[HANDLE])
    catalog_flow.publish(db, shop, handles=[HANDLE])
    wait_until(lambda: published(db, shop), "the bag published")
    with db.session(shop) as session:
        gid = str(catalog.find(session, handle=HANDLE).shopify_gid)
        seo_title = next(r.fields["seo"]["title"] for r in catalog.renditions(session) if r.channel == "shopify")
    with closing(connector_for(db, box, shop, "shopify")) as client:
        cast(ShopifyClient, client).update_product(gid, {"seo": {"title": "CHEAP BAG SALE"}})
    result = catalog_flow.check_consistency(db, box, shop, repair=False)
    assert result["channels"]["shopify"]["percent"] == 0.0 and result["channels"]["amazon"]["percent"] == 100.0

    page.goto("/login")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Catalog").click()
    page.wait_for_url("**/catalog")
    assert page.locator('[data-consistency="shopify"] b').inner_text().strip() == "0.0%"
    assert page.locator('[data-consistency="amazon"] b').inner_text().strip() == "100.0%"
    assert page.locator('[data-consistency="klaviyo"] b').inner_text().strip() == "100.0%"
    assert page.locator("#products tbody tr").count() >= 5
    row = page.locator(f'tr[data-product="{HANDLE}"]')
    assert "published" in row.locator('[data-channel="amazon"]').inner_text()
    assert "drift" in row.locator('[data-channel="shopify"]').inner_text()
    assert page.locator("#audit-counts tbody tr").count() >= 1

    row.get_by_role("link").first.click()
    page.wait_for_url(f"**/catalog/{HANDLE}**")
    assert page.locator("#validity").inner_text().strip() == "valid"
    diff = page.locator('tr[data-diff="seo.title"]')
    assert diff.locator(".diff-old").inner_text().strip() == "CHEAP BAG SALE"
    assert diff.locator(".diff-new").inner_text().strip() == seo_title
    page.locator('[data-tab="amazon"]').click()
    page.wait_for_url("**channel=amazon**")
    assert page.locator("#no-diff").is_visible()
    assert page.locator('tr[data-field="bullet_point"]').count() == 1
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.locator('[data-tab="shopify"]').click()
    page.wait_for_url("**channel=shopify**")
    page.locator("#publish").click()
    page.wait_for_url("**done=**")
    assert "live: 1 sent" in page.locator("#done").inner_text()

    def repaired() -> bool:
        checked = catalog_flow.check_consistency(db, box, shop, repair=False)
        return bool(checked["channels"]["shopify"]["percent"] == 100.0)

    wait_until(repaired, "the page's publish to repair Shopify")
    page.goto(f"/catalog/{HANDLE}?channel=shopify")
    assert page.locator("#no-diff").is_visible()
    page.goto("/catalog/no-such-product")
    assert page.get_by_role("heading", name="Product not found").is_visible()
