"""The "Order rules" page (routing, payment policy, substitution) in headless Chromium, and its
POST over plain HTTP (those run on PostgreSQL too).

Skipped without Chromium unless STOREOPS_TEST_REQUIRE_BROWSER=1, like test_dashboard_browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from storeops.db.session import Database
from storeops.domain.orders import services as orders
from storeops.flows import order_lifecycle as lifecycle
from storeops.web.dashboard import COOKIE

from conftest import ADMIN_TOKEN, LiveServer, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

browser_test = pytest.mark.browser

FORCE_RULE = {"name": "canada-from-toronto", "action": "force", "fc_ids": ["156"], "countries": ["CA"],
              "fallback": True}


@pytest.fixture
def client(live_app: LiveServer) -> Iterator[httpx.Client]:
    """Signed in (the dashboard's cookie), redirects not followed."""
    with httpx.Client(base_url=live_app.url, cookies={COOKIE: ADMIN_TOKEN}, timeout=10) as signed_in:
        yield signed_in


def routing_version(db: Database, shop: str) -> int:
    with db.session(shop) as session:
        return orders.routing_rules(session)[1]


# --- in the browser ----------------------------------------------------------------------


@browser_test
def test_signed_out_the_page_redirects_to_login(page: Page, shop_id: str) -> None:
    page.goto("/order-rules")
    assert page.url.endswith("/login")
    response = page.request.post("/order-rules", form={"shop": shop_id, "kind": "routing", "body": "{}"},
                                 max_redirects=0)
    assert response.status == 303 and response.headers["location"] == "/login"


@browser_test
def test_add_a_force_rule_and_see_it_saved(page: Page, db: Database, shop_id: str) -> None:
    sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Order rules", exact=True).click()
    page.wait_for_url("**/order-rules")
    assert page.title().startswith("Order rules")
    routing = page.locator("#rules-routing")
    assert routing.locator("[data-version]").inner_text().startswith("version 0")
    assert "only these fulfillment centers ship orders that match" in routing.inner_text()
    editor = page.get_by_label("Routing rules as JSON")
    current = json.loads(editor.input_value())
    assert current == {"rules": []}
    editor.fill(json.dumps({"rules": [*current["rules"], FORCE_RULE]}, indent=2))
    routing.get_by_role("button", name="Save").click()
    page.wait_for_url("**/order-rules?*saved=routing*")
    assert "now version 1" in page.get_by_role("status").inner_text()
    assert routing.locator("[data-version]").inner_text().strip() == "version 1"
    row = routing.locator('#routing-rules tr[data-rule="canada-from-toronto"]')
    assert row.locator("[data-col=name]").inner_text().strip() == "canada-from-toronto"
    assert row.locator("[data-col=action]").inner_text().strip() == "force"
    assert row.locator("[data-col=fcs]").inner_text().strip() == "156"
    assert "countries: CA" in row.locator("[data-col=conditions]").inner_text()
    assert json.loads(editor.input_value())["rules"][0]["name"] == "canada-from-toronto"
    with db.session(shop_id) as session:
        rules, version = orders.routing_rules(session)
    assert version == 1
    assert [(r.name, r.action, r.fc_ids, r.countries, r.fallback) for r in rules] == [
        ("canada-from-toronto", "force", ("156",), ("CA",), True)]


@browser_test
def test_invalid_json_and_an_invalid_rule_are_clear_errors(page: Page, db: Database, shop_id: str) -> None:
    sign_in(page)
    page.goto("/order-rules")
    routing = page.locator("#rules-routing")
    editor = page.get_by_label("Routing rules as JSON")
    typed = '{"rules": [{"name": "x", }'
    editor.fill(typed)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        routing.get_by_role("button", name="Save").click()
    assert posted.value.status == 422
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert "not valid JSON" in alert.inner_text() and "Nothing was saved" in alert.inner_text()
    assert page.get_by_label("Routing rules as JSON").input_value() == typed  # what the user typed stays
    assert page.get_by_role("status").count() == 0

    shipping = json.dumps({"rules": [{"name": "to-the-moon", "action": "ship", "fc_ids": ["1"]}]})
    page.get_by_label("Routing rules as JSON").fill(shipping)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator("#rules-routing").get_by_role("button", name="Save").click()
    assert posted.value.status == 422
    page.wait_for_load_state()
    text = page.get_by_role("alert").inner_text()
    assert "action must be one of force, exclude, prefer" in text and "field: action" in text
    assert page.get_by_label("Routing rules as JSON").input_value() == shipping
    assert routing_version(db, shop_id) == 0
    assert page.locator("#rules-routing [data-version]").inner_text().startswith("version 0")


@browser_test
def test_payment_policy_saves_and_shows_the_reminders(page: Page, db: Database, shop_id: str) -> None:
    sign_in(page)
    page.goto("/order-rules")
    payment = page.locator("#rules-payment")
    summary = payment.locator("[data-summary]").inner_text()
    assert "reminders after 1 h, 24 h, 72 h, then cancel after 24 h" in summary  # the defaults
    page.get_by_label("Unpaid orders (payment policy) as JSON").fill('{"intervals_s": [600, 3600]}')
    payment.get_by_role("button", name="Save").click()
    page.wait_for_url("**/order-rules?*saved=payment*")
    assert "payment policy: now version 1" in page.get_by_role("status").inner_text()
    assert "reminders after 10 min, 1 h, then cancel after 24 h" in payment.locator("[data-summary]").inner_text()
    assert json.loads(page.get_by_label("Unpaid orders (payment policy) as JSON").input_value())["intervals_s"] == [
        600, 3600]
    with db.session(shop_id) as session:
        policy, version = lifecycle.payment_policy(session)
    assert (policy.intervals_s, version) == ((600.0, 3600.0), 1)


# --- over plain HTTP (SQLite and PostgreSQL) -------------------------------------------------


def test_post_errors_are_422_and_store_nothing(client: httpx.Client, db: Database, shop_id: str) -> None:
    bad_rule = json.dumps({"rules": [{"name": "r", "action": "ship", "fc_ids": ["1"]}]})
    for kind, body, expected in (
        ("routing", "{not json", "This is not valid JSON"),
        ("routing", bad_rule, "action must be one of force, exclude, prefer"),
        ("routing", "[1, 2]", "must be one JSON object"),
        ("payment", '{"intervals_s": [-5]}', "intervals must be positive seconds"),
        ("payment", '{"final": "shrug"}', "final must be"),
        ("substitution", '{"skus": {"A": {"substitutes": ["A"]}}}', "cannot substitute itself"),
        ("nonsense", "{}", "No rules named"),
    ):
        response = client.post("/order-rules", data={"shop": shop_id, "kind": kind, "body": body})
        assert response.status_code == 422, (kind, body)
        assert 'role="alert"' in response.text and expected in response.text.replace("&#39;", "'"), (kind, body)
    with db.session(shop_id) as session:
        assert orders.routing_rules(session)[1] == 0
        assert lifecycle.payment_policy(session)[1] == 0
        assert orders.substitution_rules(session).version == 0


def test_substitution_rules_save_over_http(client: httpx.Client, db: Database, shop_id: str) -> None:
    body = {"allow_partial": True, "skus": {"MH01-XS-Orange": {"substitutes": ["MH01-XS-Black"],
                                                               "requires_consent": False}}}
    response = client.post("/order-rules", data={"shop": shop_id, "kind": "substitution",
                                                 "body": json.dumps(body)})
    assert response.status_code == 303
    assert response.headers["location"] == f"/order-rules?shop={shop_id}&saved=substitution"
    shown = client.get(response.headers["location"])
    assert shown.status_code == 200
    assert "substitution rules: now version 1" in shown.text
    assert 'data-sku="MH01-XS-Orange"' in shown.text and "MH01-XS-Black" in shown.text
    with db.session(shop_id) as session:
        rules = orders.substitution_rules(session)
    assert rules.version == 1 and rules.allow_partial
    assert rules.skus["MH01-XS-Orange"].substitutes == ("MH01-XS-Black",)
    signed_out = httpx.get(str(client.base_url.join("/order-rules")), timeout=10)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"


def test_a_save_made_meanwhile_is_not_overwritten(client: httpx.Client, db: Database, shop_id: str) -> None:
    """Two people opened version 0; the second save is refused (409) with the typed text kept,
    and saving again from that page knowingly replaces the newer version."""
    mine = json.dumps({"rules": [FORCE_RULE]})
    theirs = json.dumps({"rules": [{**FORCE_RULE, "name": "theirs"}]})
    form = {"shop": shop_id, "kind": "routing"}
    assert client.post("/order-rules", data={**form, "body": mine, "version": "0"}).status_code == 303
    conflict = client.post("/order-rules", data={**form, "body": theirs, "version": "0"})
    assert conflict.status_code == 409 and "changed since version 0" in conflict.text
    assert "&#34;theirs&#34;" in conflict.text or '"theirs"' in conflict.text  # the editor keeps the text
    assert 'name="version" value="1"' in conflict.text  # the page now starts from version 1
    with db.session(shop_id) as session:
        rules, version = orders.routing_rules(session)
    assert version == 1 and [r.name for r in rules] == ["canada-from-toronto"]
    assert client.post("/order-rules", data={**form, "body": theirs, "version": "1"}).status_code == 303
    with db.session(shop_id) as session:
        rules, version = orders.routing_rules(session)
    assert version == 2 and [r.name for r in rules] == ["theirs"]


def test_the_api_refuses_a_put_based_on_an_old_version(live_app: LiveServer, shop_id: str) -> None:
    api = httpx.Client(base_url=f"{live_app.url}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                       timeout=10)
    shown = api.get("/order-rules/payment").json()
    assert api.put("/order-rules/payment", json={**shown, "grace_s": 60}).json()["version"] == 1
    stale = api.put("/order-rules/payment", json={**shown, "grace_s": 120})  # still says version 0
    assert stale.status_code == 409 and stale.json()["detail"]["field"] == "version"
    assert api.get("/order-rules/payment").json()["grace_s"] == 60
    assert api.put("/order-rules/payment", json={"grace_s": 120}).json()["version"] == 2  # no version: replaces
    assert api.put("/order-rules/routing", json={"rules": [], "version": "1"}).status_code == 422
