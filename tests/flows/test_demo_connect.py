"""connect_demo_shop against the five real sandboxes (one SandboxCluster on loopback ports,
served by its own event loop in a background thread): the demo shop is registered with
encrypted credentials, the subscriptions are created through the connectors and show in
each sandbox's /_sandbox/state, a second run creates nothing twice, and the vendors'
deliveries then pass storeops' own webhook verification."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from storeops.connectors.shipbob.models import Address, OrderLine, Recipient
from storeops.connectors.shopify.client import SUBSCRIPTION_TOPICS as SHOPIFY_TOPICS
from storeops.core.secrets import SecretBox
from storeops.core.settings import Settings
from storeops.db.models import ShopCredential
from storeops.db.session import Database
from storeops.domain.shops import services as shops
from storeops.engine.models import InboxEvent
from storeops.flows.demo import DEMO_SHOP, callback_url, connect_demo_shop, connector_for, sandbox_credentials
from storeops.sandbox.runner import SANDBOXES
from storeops.web.app import create_app

from conftest import LiveServer, free_port

CALLBACK = "http://127.0.0.1:9"  # nothing listens: deliveries are not under test here


def state(sandboxes: dict[str, dict[str, Any]], vendor: str) -> dict[str, Any]:
    return httpx.get(f"{sandboxes[vendor]['url']}/_sandbox/state", timeout=10).json()  # type: ignore[no-any-return]


def subscriptions(sandboxes: dict[str, dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    shopify = state(sandboxes, "shopify")["webhook_subscriptions"]
    shipbob = state(sandboxes, "shipbob")["webhooks"]
    gorgias = state(sandboxes, "gorgias")["integrations"]
    return {
        "shopify": sorted((s["topic"], s["uri"]) for s in shopify),
        "shipbob": sorted((s["url"], tuple(s["topics"]), s["secret"]) for s in shipbob),
        "gorgias": sorted((i["name"], i["http"]["url"], i["http"]["headers"]["x-storeops-webhook-secret"])
                          for i in gorgias if i["type"] == "http"),
    }


def test_connect_registers_the_shop_with_encrypted_credentials_and_subscribes(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]]) -> None:
    connection = connect_demo_shop(db, box, sandboxes, CALLBACK)

    assert connection.ok, connection.as_dict()
    assert connection.created and connection.domain == DEMO_SHOP == sandboxes["shopify"]["shop"]
    assert all(v.checked for v in connection.vendors.values()) and set(connection.vendors) == set(SANDBOXES)
    expected = sandbox_credentials(sandboxes)
    with db.session(connection.shop_id) as session:
        rows = {(r.vendor, r.name): r.ciphertext for r in session.scalars(select(ShopCredential))}
    assert set(expected) <= set(rows)
    for key, value in expected.items():
        assert value not in rows[key]  # at rest only as Fernet ciphertext
        assert box.decrypt(rows[key]).reveal() == value
    api_secret = sandboxes["shopify"]["credentials"]["api_secret"]
    assert box.decrypt(rows[("shopify", "webhook_secret")]).reveal() == api_secret
    assert box.decrypt(rows[("shipbob", "webhook_secret")]).reveal().startswith("whsec_")
    assert box.decrypt(rows[("shopify", "base_url")]).reveal() == sandboxes["shopify"]["url"]
    gorgias_secret = box.decrypt(rows[("gorgias", "webhook_secret")]).reveal()

    subs = subscriptions(sandboxes)
    shopify_url = f"{CALLBACK}/webhooks/shopify"
    assert {uri for _, uri in subs["shopify"]} == {shopify_url}
    assert subs["shopify"] == sorted((t, shopify_url) for t in connection.vendors["shopify"].topics)
    assert {"orders/create", "orders/paid", "customers/create"} <= set(connection.vendors["shopify"].topics)
    shipbob_url = f"{CALLBACK}/webhooks/shipbob?shop={DEMO_SHOP}"
    assert subs["shipbob"] == [(shipbob_url, tuple(connection.vendors["shipbob"].topics),
                                sandboxes["shipbob"]["credentials"]["webhook_secret"])]
    gorgias_url = f"{CALLBACK}/webhooks/gorgias?shop={DEMO_SHOP}"
    assert subs["gorgias"] == [(f"storeops: {t}", gorgias_url, gorgias_secret)
                               for t in sorted(connection.vendors["gorgias"].topics)]
    assert connection.vendors["klaviyo"].topics == [] and connection.vendors["amazon"].topics == []


def test_connecting_again_creates_no_duplicates(db: Database, box: SecretBox,
                                                sandboxes: dict[str, dict[str, Any]]) -> None:
    first = connect_demo_shop(db, box, sandboxes, CALLBACK)
    before = subscriptions(sandboxes)
    second = connect_demo_shop(db, box, sandboxes, CALLBACK)  # a restart of storeops

    assert second.ok and not second.created and second.shop_id == first.shop_id
    assert subscriptions(sandboxes) == before  # same secrets too: the Gorgias one is kept
    assert sum(len(v) for v in before.values()) == len(SHOPIFY_TOPICS) + 1 + 2
    with db.system_session() as session:
        assert [v.domain for v in shops.list_shops(session)] == [DEMO_SHOP]
        count = session.scalar(select(func.count()).select_from(ShopCredential))
    assert count == len(sandbox_credentials(sandboxes)) + 1  # + the Gorgias secret we made


def test_connector_for_builds_every_vendor_from_the_shops_credentials(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]]) -> None:
    connect_demo_shop(db, box, sandboxes, CALLBACK)
    for vendor in SANDBOXES:
        with closing(connector_for(db, box, DEMO_SHOP, vendor)) as client:
            assert client.base_url.rstrip("/") == sandboxes[vendor]["url"]  # type: ignore[attr-defined]
            client.check()


def test_an_unreachable_vendor_is_reported_and_the_others_connect(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]]) -> None:
    broken = {**sandboxes, "klaviyo": {**sandboxes["klaviyo"], "url": f"http://127.0.0.1:{free_port()}"}}
    connection = connect_demo_shop(db, box, broken, CALLBACK)

    assert not connection.ok
    assert connection.vendors["klaviyo"].error and not connection.vendors["klaviyo"].checked
    assert all(v.error is None for name, v in connection.vendors.items() if name != "klaviyo")
    assert subscriptions(sandboxes)["shopify"]


def test_callback_urls_name_the_shop_where_the_vendor_does_not() -> None:
    assert callback_url("https://ops.example.com/", "shopify", DEMO_SHOP) == "https://ops.example.com/webhooks/shopify"
    assert callback_url("https://ops.example.com", "shipbob", DEMO_SHOP) == \
        f"https://ops.example.com/webhooks/shipbob?shop={DEMO_SHOP}"


# --- the vendors' deliveries pass storeops' verification -------------------------------------


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def stored(db: Database, vendor: str, topic: str | None = None) -> int:
    with db.system_session() as session:
        query = select(func.count()).select_from(InboxEvent).where(InboxEvent.vendor == vendor)
        if topic:
            query = query.where(InboxEvent.topic == topic)
        return int(session.scalar(query) or 0)


def test_deliveries_from_every_subscribed_vendor_are_verified_and_stored(
        settings: Settings, db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]]) -> None:
    with LiveServer(create_app(settings, db)) as storeops:
        connection = connect_demo_shop(db, box, sandboxes, storeops.url)
        assert connection.ok, connection.as_dict()

        # Shopify: shoppers check out; orders/create is signed with the app's API secret.
        placed = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts",
                            json={"count": 3, "abandon_rate": 0, "seed": 11}, timeout=30).json()
        assert placed["completed"] >= 1
        wait_for("orders/create", lambda: stored(db, "shopify", "orders/create") == placed["completed"])

        # Gorgias: a customer writes in; our HTTP integration calls back with our secret.
        httpx.post(f"{sandboxes['gorgias']['url']}/_sandbox/customer-message", timeout=10,
                   json={"customer": {"email": "ann@example.com", "name": "Ann"}, "body": "Where is my order?"},
                   ).raise_for_status()
        wait_for("gorgias ticket-created", lambda: stored(db, "gorgias", "ticket-created") >= 1)

        # ShipBob: an order ships; order.shipped is signed with the whsec_ secret.
        with closing(connector_for(db, box, DEMO_SHOP, "shipbob")) as client:
            client.create_order(  # type: ignore[attr-defined]
                "demo-connect-1", recipient=Recipient("Ann Example", Address("100 Main St", "Springfield", "US",
                                                                             state="IL", zip_code="62701")),
                lines=[OrderLine("MH01-XS-Orange", 1, "Chaz Kangeroo Hoodie", Decimal("52.00"))])
        for _ in range(3):
            httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/advance", timeout=10).raise_for_status()
        wait_for("shipbob order.shipped", lambda: stored(db, "shipbob", "order.shipped") >= 1)

    shopify_attempts = state(sandboxes, "shopify")["webhooks"]["deliveries"]
    assert shopify_attempts and all(a["status"] == 200 for a in shopify_attempts)
    assert all(c.get("status") == 200 for c in state(sandboxes, "gorgias")["integration_calls"])
    shipbob_attempts = state(sandboxes, "shipbob")["delivery_attempts"]
    assert shipbob_attempts and all(a["status"] == 200 for a in shipbob_attempts)
