"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium via Playwright).

Skipped when Chromium is not installed, unless STOREOPS_TEST_REQUIRE_BROWSER=1 (CI),
where a missing browser is a failure instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text

from storeops.core.secrets import SecretBox
from storeops.db.models import Shop, ShopCredential
from storeops.db.session import Database
from storeops.engine.inbox import NewEvent, insert_events

from conftest import SHOP_DOMAIN, SHOP_SECRET, LiveServer, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/storeops-overview.png")  # noqa: S108 - a fixed, well-known spot for reviewers




def kpi(page: Page, name: str) -> str:
    return page.locator(f'[data-kpi="{name}"] b').inner_text().strip()


def _event(shop: str, event_id: str, topic: str) -> NewEvent:
    return NewEvent(shop_id=shop, vendor="shopify", event_id=event_id, topic=topic,
                    headers={"x-shopify-topic": topic}, body=b"{}")


# --- signing in --------------------------------------------------------------------


def test_visiting_the_dashboard_signed_out_redirects_to_login(page: Page) -> None:
    for path in ("/", "/shops"):
        response = page.goto(path)
        assert response is not None and response.ok
        assert page.url.endswith("/login"), page.url
        assert page.get_by_role("heading", name="Sign in").is_visible()
        assert page.get_by_label("Admin token").get_attribute("type") == "password"
    assert page.context.cookies() == []


def test_a_wrong_token_shows_the_error(page: Page) -> None:
    sign_in(page, "not-the-token")
    assert page.url.endswith("/login")
    alert = page.get_by_role("alert")
    assert alert.is_visible()
    assert alert.inner_text().strip() == "That token is not valid."
    assert page.context.cookies() == []
    assert "not-the-token" not in page.content()  # the typed token is not echoed back
    page.goto("/")
    assert page.url.endswith("/login")  # still signed out


def test_the_right_token_signs_in_and_shows_the_overview(page: Page, live_app: LiveServer, shop_id: str) -> None:
    sign_in(page)
    assert page.url == f"{live_app.url}/", page.url
    assert page.title().startswith("Overview")
    for name in ("pending", "processed", "failed", "invalid", "ignored"):
        assert kpi(page, name) == "0", name
    assert kpi(page, "shops") == "1"
    [cookie] = page.context.cookies()
    assert cookie["name"] == "storeops_token" and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: not readable by page scripts
    assert "No events yet" in page.locator("main").inner_text()


def test_signing_out_ends_the_session(page: Page) -> None:
    sign_in(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert page.context.cookies() == []
    page.goto("/shops")
    assert page.url.endswith("/login")


# --- shops -------------------------------------------------------------------------


def test_add_a_shop_from_the_form(page: Page, db: Database, box: SecretBox, shop_id: str) -> None:
    webhook_secret, access_token = "shpss_browser_webhook_secret_91", "shpat_browser_token_73"
    sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Shops", exact=True).click()
    page.wait_for_url("**/shops")
    assert page.get_by_role("heading", name="Add a shop").is_visible()
    page.get_by_label("Shop domain").fill("Northwind-Outfitters.myshopify.com")
    page.get_by_label("Name").fill("Northwind Outfitters")
    page.get_by_label("Shopify app secret").fill(webhook_secret)
    page.get_by_label("Admin API access token").fill(access_token)
    page.get_by_role("button", name="Add shop").click()
    page.wait_for_load_state()

    assert page.url.endswith("/shops")
    row = page.locator("#shops tr", has_text="northwind-outfitters.myshopify.com")
    assert row.count() == 1
    assert row.locator("[data-col=name] strong").inner_text().strip() == "Northwind Outfitters"
    credentials = [c.strip() for c in row.locator("[data-col=credentials] .chip").all_inner_texts()]
    assert credentials == ["shopify.access_token", "shopify.webhook_secret"]
    # the shop registered before is still listed
    assert page.locator("#shops tr", has_text=SHOP_DOMAIN).count() == 1
    # the secrets are nowhere on the page, not even in the form's inputs
    html = page.content()
    for value in (webhook_secret, access_token, SHOP_SECRET):
        assert value not in html
    assert page.get_by_label("Shopify app secret").input_value() == ""
    # ...and they were stored, encrypted
    with db.system_session() as session:
        shop = session.scalar(select(Shop).where(Shop.domain == "northwind-outfitters.myshopify.com"))
        assert shop is not None and shop.name == "Northwind Outfitters"
        stored = dict(session.execute(select(ShopCredential.name, ShopCredential.ciphertext)
                                      .where(ShopCredential.shop_id == shop.id)).tuples().all())
    assert box.decrypt(stored["webhook_secret"]).reveal() == webhook_secret
    assert box.decrypt(stored["access_token"]).reveal() == access_token
    assert webhook_secret not in stored["webhook_secret"]

    page.get_by_role("navigation").get_by_role("link", name="Overview", exact=True).click()
    page.wait_for_url(f"{page.url.rsplit('/', 1)[0]}/")
    assert kpi(page, "shops") == "2"


def test_a_bad_domain_shows_the_error_and_keeps_the_typed_values(page: Page, db: Database) -> None:
    sign_in(page)
    page.goto("/shops")
    page.get_by_label("Shop domain").fill("not a domain")
    page.get_by_label("Name").fill("Typed Name")
    page.get_by_label("Shopify app secret").fill("shpss_typed_secret")
    page.get_by_role("button", name="Add shop").click()
    page.wait_for_load_state()

    alert = page.get_by_role("alert")
    assert alert.is_visible()
    assert "'not a domain' is not a shop domain like example.myshopify.com" in alert.inner_text()
    assert page.get_by_label("Shop domain").input_value() == "not a domain"
    assert page.get_by_label("Name").input_value() == "Typed Name"
    assert "shpss_typed_secret" not in page.content()  # a secret is never echoed back into the page
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shops")).scalar() == 0
    assert "No shops yet" in page.locator("main").inner_text()


def test_a_duplicate_domain_is_refused_in_the_form(page: Page, shop_id: str) -> None:
    sign_in(page)
    page.goto("/shops")
    page.get_by_label("Shop domain").fill(SHOP_DOMAIN.upper())
    page.get_by_role("button", name="Add shop").click()
    page.wait_for_load_state()
    assert f"shop {SHOP_DOMAIN} is already registered" in page.get_by_role("alert").inner_text()
    assert page.locator("#shops tr", has_text=SHOP_DOMAIN).count() == 1


def test_an_overlong_name_is_an_error_on_the_form_not_a_crash(page: Page, db: Database) -> None:
    sign_in(page)
    page.goto("/shops")
    page.get_by_label("Shop domain").fill("long-name.myshopify.com")
    page.get_by_label("Name").evaluate("(el, v) => { el.removeAttribute('maxlength'); el.value = v; }", "n" * 300)
    page.get_by_role("button", name="Add shop").click()
    page.wait_for_load_state()
    assert "at most 255 characters" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Shop domain").input_value() == "long-name.myshopify.com"
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shops")).scalar() == 0


# --- events ------------------------------------------------------------------------


def test_inbox_events_appear_on_the_overview_with_their_status(page: Page, db: Database, shop_id: str) -> None:
    insert_events(db, [_event(shop_id, "ev-1001", "orders/create"), _event(shop_id, "ev-1002", "orders/paid"),
                       _event(shop_id, "ev-1003", "refunds/create"), _event(shop_id, "ev-1004", "products/update")])
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE inbox_events SET status = 'processed' WHERE event_id IN ('ev-1001', 'ev-1002')"))
        conn.execute(text("UPDATE inbox_events SET status = 'failed', error = 'system: shopify HTTP 502' "
                          "WHERE event_id = 'ev-1003'"))
    sign_in(page)

    assert (kpi(page, "pending"), kpi(page, "processed"), kpi(page, "failed")) == ("1", "2", "1")
    rows = page.locator("#events tbody tr")
    assert rows.count() == 4
    by_event = {}
    for i in range(4):
        row = rows.nth(i)
        event_id = row.locator("[data-col=event]").inner_text().strip()
        by_event[event_id] = (row.locator("[data-col=topic]").inner_text().strip(),
                              row.locator("[data-col=status]").inner_text().strip())
    assert list(by_event) == ["ev-1004", "ev-1003", "ev-1002", "ev-1001"]  # newest first
    assert by_event["ev-1001"] == ("orders/create", "processed")
    assert by_event["ev-1004"] == ("products/update", "pending")
    topic, status = by_event["ev-1003"]
    assert topic == "refunds/create" and status.startswith("failed") and "shopify HTTP 502" in status
    assert SHOP_DOMAIN in rows.nth(0).inner_text()  # events say which shop they came from

    page.locator('[data-kpi="processed"]').scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
