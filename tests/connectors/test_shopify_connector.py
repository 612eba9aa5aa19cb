"""The Shopify connector against the Shopify sandbox on loopback: the shared conformance
suite, cost-aware limiting (10x the restore rate, zero THROTTLED), THROTTLED handling,
subscriptions, readers and writers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from storeops.connectors.shopify import documents as docs
from storeops.connectors.shopify.client import SUBSCRIPTION_TOPICS, ShopifyClient
from storeops.connectors.shopify.cost import CostLimiter, estimate_cost
from storeops.core.errors import ConfigError, NotFound, VendorError
from storeops.engine.errors import Action, classify
from storeops.engine.retry import RetryPolicy
from storeops.sandbox.common import VendorSandbox
from storeops.sandbox.shopify import ShopifySandbox

from conformance import ConnectorConformance
from sandbox_runtime import running


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def client_for(sb: ShopifySandbox, *, limiter: CostLimiter | None = None, token: str | None = None) -> ShopifyClient:
    return ShopifyClient(sb.shop_domain, token or sb.access_token, base_url=sb.base_url,
                         limiter=limiter or CostLimiter())


class TestShopifyConformance(ConnectorConformance):
    vendor = "shopify"

    def make_sandbox(self) -> VendorSandbox:
        # 30 products: two pages of 15, and within one bucket (no real waiting in tests).
        return ShopifySandbox(seed=11, product_limit=30, seed_orders=0)

    def make_connector(self, sandbox: VendorSandbox, *, valid: bool = True) -> Any:
        assert isinstance(sandbox, ShopifySandbox)
        return client_for(sandbox, token=None if valid else "shpat_not-the-token")

    def read_all(self, connector: Any) -> list[Any]:
        return connector.list_products(page_size=15)  # type: ignore[no-any-return]

    def expected_all(self, sandbox: VendorSandbox) -> int:
        assert isinstance(sandbox, ShopifySandbox)
        return len(sandbox.store.products)

    def test_auth_failure_is_a_config_error(self, sandbox: VendorSandbox) -> None:
        super().test_auth_failure_is_a_config_error(sandbox)
        with pytest.raises(ConfigError):  # check() says so explicitly
            self.make_connector(sandbox, valid=False).check()


# --- cost limits ---------------------------------------------------------------------------------
def test_driven_at_ten_times_the_restore_rate_it_is_never_throttled() -> None:
    """Offer 1000 points/s (10x Standard's 100/s restore) for 60 fake seconds; the shared
    limiter paces the requests so Shopify never answers THROTTLED."""
    clock = FakeClock()
    with running(ShopifySandbox(seed=4, clock=clock, seed_orders=0)) as sb:
        client = client_for(sb, limiter=CostLimiter(clock=clock, sleep=clock.sleep))
        variables = {"first": 15, "variantsFirst": 20, "after": None, "query": None}
        offered = estimate_cost(docs.PRODUCTS, variables)
        start, sent, spent = clock.now, 0, 0
        while clock.now - start < 60:
            issue_at = start + sent * offered / 1000.0  # the offered load: 1000 points per second
            clock.now = max(clock.now, issue_at)
            client.execute(docs.PRODUCTS, variables)
            spent += client.last_cost["actualQueryCost"]  # type: ignore[index]
            sent += 1
        stats = httpx.get(f"{sb.base_url}/_sandbox/stats").json()
        assert stats["throttled"] == 0
        elapsed = clock.now - start
        offered_requests = elapsed * 1000.0 / offered
        assert sent * 3 < offered_requests, "the limiter did not hold the driver back"
        assert spent <= 2000 + 100 * elapsed + 1  # Shopify's limit held
        assert client.last_cost["requestedQueryCost"] == offered  # type: ignore[index]
        client.close()


def test_throttled_is_a_429_that_waits_as_told() -> None:
    clock = FakeClock()
    with running(ShopifySandbox(seed=4, clock=clock, seed_orders=0)) as sb:
        # Another app-process drained the bucket; this client's limiter cannot know yet.
        drain = "{ products(first: 249) { nodes { id variants(first: 1) { nodes { id } } } } }"
        for _ in range(2):
            httpx.post(f"{sb.base_url}/admin/api/2026-07/graphql.json", json={"query": drain},
                       headers={"X-Shopify-Access-Token": sb.access_token}).raise_for_status()
        client = client_for(sb, limiter=CostLimiter(clock=clock, sleep=clock.sleep))
        variables = {"first": 15, "variantsFirst": 20, "after": None, "query": None}
        errors: list[VendorError] = []
        waits: list[float] = []

        def call() -> dict[str, Any]:
            try:
                return client.execute(docs.PRODUCTS, variables)
            except VendorError as exc:
                errors.append(exc)
                raise

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock.sleep(seconds)

        started = clock.now
        data = RetryPolicy(max_attempts=3).call(call, sleep=sleep)
        assert data and len(errors) == 1
        assert errors[0].status == 429 and classify(errors[0]).action is Action.RATE_LIMITED
        assert errors[0].retry_after == pytest.approx((947 - 4) / 100)  # deficit / restoreRate
        assert waits == [pytest.approx(9.43)]
        assert clock.now - started == pytest.approx(9.43)  # and not a second more
        client.close()


def test_estimates_match_shopifys_requested_cost() -> None:
    with running(ShopifySandbox(seed=4, product_limit=20, seed_orders=2)) as sb:
        client = client_for(sb)
        for document, variables in [(docs.SHOP, {}), (docs.LOCATIONS, {"first": 50}),
                                    (docs.PRODUCTS, {"first": 15, "variantsFirst": 20}),
                                    (docs.ORDERS, {"first": 8}), (docs.INVENTORY_ITEMS, {"first": 50}),
                                    (docs.CUSTOMERS, {"first": 50})]:
            client.execute(document, variables)
            assert client.last_cost["requestedQueryCost"] == estimate_cost(document, variables)  # type: ignore[index]
            assert client.last_cost["requestedQueryCost"] <= 1000  # type: ignore[index]
        client.close()


# --- subscriptions, readers, writers -----------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox() -> Any:
    with running(ShopifySandbox(seed=21, product_limit=25, seed_orders=6)) as sb:
        yield sb


@pytest.fixture
def client(sandbox: ShopifySandbox) -> Any:
    with client_for(sandbox) as connector:
        yield connector


def test_ensure_subscriptions_is_idempotent(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    url = "http://127.0.0.1:9/webhooks/shopify"  # refused at once: deliveries fail fast
    assert client.ensure_subscriptions(url) == SUBSCRIPTION_TOPICS
    assert client.ensure_subscriptions(url) == SUBSCRIPTION_TOPICS
    subscribed = [(s.topic, s.uri) for s in sandbox.store.subscriptions.values()]
    assert sorted(subscribed) == sorted((t, url) for t in SUBSCRIPTION_TOPICS)


def test_readers_and_changed_since(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    locations = client.list_locations()
    assert [loc.name for loc in locations] == ["Moreno Valley (CA)", "Cicero (IL)", "Bethlehem (PA)"]
    products = client.list_products()
    assert len(products) == 25 and all(p.variants for p in products)
    assert sum(len(p.variants) for p in products) == sum(len(p.variant_ids) for p in sandbox.store.products.values())
    orders = client.list_orders()
    assert len(orders) == 6 and all(o.line_items and o.total > 0 for o in orders)
    later = datetime.now(UTC) + timedelta(seconds=2)
    assert client.list_orders(updated_since=later) == []
    time.sleep(1.1)
    mark = datetime.now(UTC)
    client.add_tags(orders[0].id, ["vip"])
    changed = client.list_orders(updated_since=mark)
    assert [o.id for o in changed] == [orders[0].id] and "vip" in changed[0].tags
    assert client.get_order(orders[0].id).name == orders[0].name
    with pytest.raises(NotFound):
        client.get_order("gid://shopify/Order/1")
    assert len(client.list_customers()) >= 1


def test_set_inventory_batches_and_refuses_stale_compare(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    store = sandbox.store
    levels = list(store.levels.values())[:300]
    items = [(f"gid://shopify/InventoryItem/{lvl.item_id}", f"gid://shopify/Location/{lvl.location_id}",
              lvl.quantities["available"] + 1, lvl.quantities["available"]) for lvl in levels]
    before = httpx.get(f"{sandbox.base_url}/_sandbox/stats").json()["requests_total"]
    changes = client.set_inventory(items, idempotency_key="sync-1")
    after = httpx.get(f"{sandbox.base_url}/_sandbox/stats").json()["requests_total"]
    assert after - before == 2  # 300 items: one call of 250, one of 50
    assert len([c for c in changes if c.name == "available"]) == 300
    with pytest.raises(VendorError) as caught:
        client.set_inventory(items[:1])  # its compare quantity is now stale
    assert caught.value.status == 422 and "CHANGE_FROM_QUANTITY_STALE" in caught.value.message
    adjusted = client.adjust_inventory([(items[0][0], items[0][1], -1)])
    assert {(c.name, c.delta) for c in adjusted} == {("available", -1), ("on_hand", -1)}


def test_fulfil_tag_refund_cancel(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    first, second = client.list_orders()[1:3]
    fulfillments = client.create_fulfillment(first.id, tracking_company="UPS", tracking_number="1Z999AA10123456784",
                                             tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784")
    assert fulfillments and all(f["trackingInfo"][0]["number"] == "1Z999AA10123456784" for f in fulfillments)
    assert client.get_order(first.id).fulfillment_status == "FULFILLED"
    line = first.line_items[0]
    refund = client.create_refund(first.id, [(line.id, 1, "RETURN")], amount=line.unit_price, note="damaged",
                                  idempotency_key="refund-1")
    assert refund["order"]["displayFinancialStatus"] in ("PARTIALLY_REFUNDED", "REFUNDED")
    again = client.create_refund(first.id, [(line.id, 1, "RETURN")], amount=line.unit_price, note="damaged",
                                 idempotency_key="refund-1")
    assert again["refund"]["id"] == refund["refund"]["id"]  # same key: Shopify does not refund twice
    client.cancel_order(second.id, reason="CUSTOMER")
    assert client.get_order(second.id).cancelled_at is not None
    with pytest.raises(VendorError) as caught:
        client.cancel_order(second.id)
    assert caught.value.status == 422
