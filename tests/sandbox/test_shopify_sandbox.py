"""The Shopify sandbox over real loopback HTTP: auth, Shopify's error shapes, cost-based
throttling, pagination, compare-and-set inventory, the storefront, and signed webhooks
with retries (checked with our own verifier, which the sandbox does not import)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storeops.connectors.shopify.webhooks import ShopifyWebhookVerifier
from storeops.sandbox.shopify import ShopifySandbox
from storeops.sandbox.shopify.webhooks import RETRY_DELAYS_S

from conftest import LiveServer
from sandbox_runtime import running

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def gql(sb: ShopifySandbox, query: str, variables: dict[str, Any] | None = None,
        token: str | None = None) -> httpx.Response:
    headers = {} if token == "" else {"X-Shopify-Access-Token": token or sb.access_token}
    return httpx.post(f"{sb.base_url}/admin/api/2026-07/graphql.json", headers=headers,
                      json={"query": query, "variables": variables or {}}, timeout=30)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopifySandbox]:
    with running(ShopifySandbox(seed=5, product_limit=30, seed_orders=3)) as sb:
        yield sb


# --- auth and error shapes ---------------------------------------------------------------------
def test_wrong_or_missing_token_gets_shopifys_401(shop: ShopifySandbox) -> None:
    for token in ("shpat_wrong", ""):
        response = gql(shop, "{ shop { name } }", token=token)
        assert response.status_code == 401
        assert response.json() == {"errors": INVALID_TOKEN}


def test_unknown_field_gets_shopifys_validation_error(shop: ShopifySandbox) -> None:
    response = gql(shop, 'query OrderQuery { order(id: "gid://shopify/Order/1") { id nope } }')
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["message"] == "Field 'nope' doesn't exist on type 'Order'"
    assert error["locations"] == [{"line": 1, "column": 60}]
    assert error["path"] == ["query OrderQuery", "order", "nope"]
    assert error["extensions"]["code"] == "undefinedField"
    assert "cost" in response.json()["extensions"]


def test_every_answer_carries_the_cost_extension(shop: ShopifySandbox) -> None:
    body = gql(shop, "{ shop { name } products(first: 5) { nodes { id } } }").json()
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 + 2 + 5  # object 1, connection 2 + 5 x 1
    assert cost["actualQueryCost"] == 8
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0
    assert cost["throttleStatus"]["restoreRate"] == 100.0


def test_connections_need_first_or_last_and_ids_are_exact(shop: ShopifySandbox) -> None:
    body = gql(shop, "{ products { nodes { id } } }").json()
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    node = ok(gql(shop, "{ products(first: 1) { nodes { id legacyResourceId } } }"))["products"]["nodes"][0]
    legacy = int(node["legacyResourceId"])
    assert legacy > 2**53 and node["id"] == f"gid://shopify/Product/{legacy}"


# --- cost throttling -----------------------------------------------------------------------------
EXPENSIVE = "{ products(first: 249) { nodes { id variants(first: 1) { nodes { id } } } } }"


def test_a_burst_of_expensive_queries_is_throttled_then_restored() -> None:
    clock = FakeClock()
    with running(ShopifySandbox(seed=2, clock=clock, seed_orders=0)) as sb:
        first, second = (gql(sb, EXPENSIVE).json() for _ in range(2))
        assert first["extensions"]["cost"]["requestedQueryCost"] == 2 + 249 * (1 + 2 + 1)
        assert second["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 2000 - 2 * 998
        throttled = gql(sb, EXPENSIVE)
        assert throttled.status_code == 200
        body = throttled.json()
        assert body["errors"][0]["message"] == "Throttled"
        assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert "data" not in body
        status = body["extensions"]["cost"]["throttleStatus"]
        assert status == {"maximumAvailable": 2000.0, "currentlyAvailable": 4.0, "restoreRate": 100.0}
        clock.sleep((998 - 4) / 100)  # the deficit restores at 100 points per second
        assert "errors" not in gql(sb, EXPENSIVE).json()
        assert httpx.get(f"{sb.base_url}/_sandbox/stats").json()["throttled"] == 1


def test_a_single_query_over_1000_points_is_refused(shop: ShopifySandbox) -> None:
    body = gql(shop, "{ products(first: 250) { nodes { variants(first: 10) { nodes { id } } } } }").json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + 250 * (1 + 2 + 10)


# --- reads -------------------------------------------------------------------------------------
def test_cursor_pagination_and_updated_at_filter(shop: ShopifySandbox) -> None:
    seen: list[str] = []
    after = None
    while True:
        page = ok(gql(shop, "query($after: String) { products(first: 7, after: $after) { "
                            "edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
                      {"after": after}))["products"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 30
    product_id = seen[3]
    ok(gql(shop, "mutation($id: ID!) { tagsAdd(id: $id, tags: [\"sale\"]) { userErrors { message } } }",
           {"id": product_id}))
    changed = ok(gql(shop, "{ products(first: 50, query: \"updated_at:>'2026-02-01T00:00:00Z'\") "
                           "{ nodes { id tags } } }"))["products"]["nodes"]
    assert [p["id"] for p in changed] == [product_id] and "sale" in changed[0]["tags"]


def test_orders_read_with_line_items_customer_and_fulfillment_orders(shop: ShopifySandbox) -> None:
    orders = ok(gql(shop, "{ orders(first: 5) { nodes { name displayFinancialStatus email tags "
                          "customer { displayName } shippingAddress { city countryCodeV2 } "
                          "lineItems(first: 5) { nodes { sku quantity } } "
                          "fulfillmentOrders(first: 3) { nodes { status assignedLocation { name } } } } } }"))
    nodes = orders["orders"]["nodes"]
    assert [o["name"] for o in nodes] == ["#1001", "#1002", "#1003"]
    assert all(o["displayFinancialStatus"] == "PAID" and o["lineItems"]["nodes"] for o in nodes)
    assert all(fo["status"] == "OPEN" for o in nodes for fo in o["fulfillmentOrders"]["nodes"])


# --- inventory compare-and-set ---------------------------------------------------------------
SET = """mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { changes { name delta quantityAfterChange } }
    userErrors { field message code } } }"""


def _a_level(sb: ShopifySandbox) -> tuple[str, str, int]:
    item = ok(gql(sb, "{ inventoryItems(first: 1) { nodes { id inventoryLevels(first: 1) { nodes { "
                      "location { id } quantities(names: [\"available\"]) { quantity } } } } } }"))
    node = item["inventoryItems"]["nodes"][0]
    level = node["inventoryLevels"]["nodes"][0]
    return node["id"], level["location"]["id"], level["quantities"][0]["quantity"]


def test_inventory_set_quantities_compare_and_set(shop: ShopifySandbox) -> None:
    item, location, available = _a_level(shop)

    def set_to(quantity: int, key: str, **compare: Any) -> dict[str, Any]:
        line = {"inventoryItemId": item, "locationId": location, "quantity": quantity, **compare}
        return ok(gql(shop, SET, {"key": key, "input": {"name": "available", "reason": "correction",
                                                          "quantities": [line]}}))["inventorySetQuantities"]

    done = set_to(available + 5, "k1", changeFromQuantity=available)
    assert done["userErrors"] == []
    assert {(c["name"], c["delta"]) for c in done["inventoryAdjustmentGroup"]["changes"]} == {
        ("available", 5), ("on_hand", 5)}
    stale = set_to(1, "k2", changeFromQuantity=available)  # someone else moved it meanwhile
    assert stale["inventoryAdjustmentGroup"] is None
    assert stale["userErrors"][0]["code"] == "CHANGE_FROM_QUANTITY_STALE"
    missing = set_to(1, "k3")  # 2026-07: changeFromQuantity must be passed, even as null
    assert missing["userErrors"][0]["field"] == ["input", "quantities", "0", "changeFromQuantity"]
    assert set_to(available + 5, "k1", changeFromQuantity=available) == done  # same key: replayed, not re-applied
    assert _a_level(shop)[2] == available + 5
    unkeyed = gql(shop, SET.replace(" @idempotent(key: $key)", "").replace(", $key: String!", ""),
                  {"input": {"name": "available", "reason": "correction", "quantities": []}}).json()
    assert "@idempotent" in unkeyed["errors"][0]["message"]


# --- storefront and webhooks -----------------------------------------------------------------
class Receiver:
    """A webhook endpoint on loopback that records raw deliveries; `fail_first` answers 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()

        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.deliveries.append(({k.lower(): v for k, v in request.headers.items()}, body))
                failing = len(self.deliveries) <= self.fail_first
            return JSONResponse({}, status_code=500 if failing else 200)

        self.app = Starlette(routes=[Route("/hooks/shopify", hook, methods=["POST"])])

    def wait_for(self, count: int, timeout_s: float = 15.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries)
            time.sleep(0.02)
        raise AssertionError(f"only {len(self.deliveries)} of {count} deliveries arrived")


def subscribe(sb: ShopifySandbox, url: str, topics: list[str]) -> None:
    for topic in topics:
        created = ok(gql(sb, "mutation($t: WebhookSubscriptionTopic!, $u: String!) { webhookSubscriptionCreate("
                             "topic: $t, webhookSubscription: {uri: $u, format: JSON}) { userErrors { message } } }",
                         {"t": topic.replace("/", "_").upper(), "u": url}))
        assert created["webhookSubscriptionCreate"]["userErrors"] == []


def test_storefront_checkouts_create_orders_and_signed_webhooks() -> None:
    receiver = Receiver()
    with LiveServer(receiver.app) as hooks, running(ShopifySandbox(seed=8, product_limit=40, seed_orders=0)) as sb:
        topics = ["checkouts/create", "checkouts/update", "orders/create", "orders/paid", "customers/create"]
        subscribe(sb, f"{hooks.url}/hooks/shopify", topics)
        run = httpx.post(f"{sb.base_url}/_sandbox/checkouts", timeout=30, json={
            "count": 4, "seed": 3, "overrides": [{"abandon": True}, {"payment": "declined"}, {"payment": "pending"}]})
        assert run.status_code == 200, run.text
        result = run.json()
        statuses = [c["status"] for c in result["checkouts"]]
        assert statuses[:3] == ["abandoned", "payment_failed", "completed"]
        completed = [c for c in result["checkouts"] if c["status"] == "completed"]
        # 4 checkouts/create, 2 checkouts/update, 1 orders/create per order, orders/paid for paid ones,
        # customers/create per new shopper.
        expected = 4 + 2 + len(completed) + sum(c["financial_status"] == "paid" for c in completed) + len(
            {c["customer_id"] for c in result["checkouts"]})
        deliveries = receiver.wait_for(expected)
        verifier = ShopifyWebhookVerifier()
        by_topic: dict[str, list[dict[str, Any]]] = {}
        for headers, body in deliveries:
            event = verifier.verify(headers, body, sb.api_secret, now=time.time())
            assert event.topic == headers["x-shopify-topic"] and event.shop_hint == sb.shop_domain
            assert headers["x-shopify-api-version"] == "2026-07" and headers["x-shopify-webhook-id"]
            by_topic.setdefault(event.topic, []).append(json.loads(body))
        assert len(by_topic["checkouts/update"]) == 2
        assert len(by_topic["orders/paid"]) == len(completed) - 1  # the pending one is not paid
        assert {o["id"] for o in by_topic["orders/create"]} == {c["order_id"] for c in completed}
        order = next(o for o in by_topic["orders/create"] if o["id"] == completed[0]["order_id"])
        assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"  # exact 64-bit ids
        with pytest.raises(Exception, match="HMAC"):
            verifier.verify(deliveries[0][0], deliveries[0][1], "not-the-secret", now=time.time())
        # The order's units moved from available to committed at the shipping location.
        line = order["line_items"][0]
        level = next(lvl for lvl in sb.store.levels_of_item(sb.store.variants[line["variant_id"]].inventory_item_id)
                     if lvl.quantities["committed"])
        assert level.quantities["committed"] >= line["quantity"]
        assert level.quantities["on_hand"] == level.quantities["available"] + level.quantities["committed"]


def test_a_failing_receiver_gets_retries_with_the_same_webhook_id() -> None:
    receiver = Receiver(fail_first=2)
    # time_scale 36000: the 4-hour retry schedule passes in 0.4 s.
    with LiveServer(receiver.app) as hooks, running(ShopifySandbox(seed=9, product_limit=20, seed_orders=0,
                                                                   time_scale=36000)) as sb:
        subscribe(sb, f"{hooks.url}/hooks/shopify", ["orders/create"])
        assert httpx.post(f"{sb.base_url}/_sandbox/checkouts", json={"count": 1, "seed": 1}).status_code == 200
        attempts = receiver.wait_for(3)
        assert len({h["x-shopify-webhook-id"] for h, _ in attempts}) == 1
        assert len({h["x-shopify-event-id"] for h, _ in attempts}) == 1
        assert len({body for _, body in attempts}) == 1
        stats = httpx.get(f"{sb.base_url}/_sandbox/stats").json()
        assert (stats["webhooks_failed"], stats["webhooks_sent"]) == (2, 1)


def test_shopify_gives_up_after_eight_retries() -> None:
    receiver = Receiver(fail_first=10**6)
    assert len(RETRY_DELAYS_S) == 8 and 3.5 * 3600 <= sum(RETRY_DELAYS_S) <= 4.5 * 3600
    with LiveServer(receiver.app) as hooks, running(ShopifySandbox(seed=9, product_limit=20, seed_orders=0,
                                                                   time_scale=36000)) as sb:
        subscribe(sb, f"{hooks.url}/hooks/shopify", ["orders/create"])
        httpx.post(f"{sb.base_url}/_sandbox/checkouts", json={"count": 1, "seed": 1}).raise_for_status()
        assert len(receiver.wait_for(9)) == 9
        deadline = time.monotonic() + 5
        while httpx.get(f"{sb.base_url}/_sandbox/stats").json()["webhooks_given_up"] != 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.1)
        assert len(receiver.deliveries) == 9  # 1 try + 8 retries, then no more


def test_state_and_reset(shop: ShopifySandbox) -> None:
    state = httpx.get(f"{shop.base_url}/_sandbox/state").json()
    assert state["shop"]["domain"] == "demo.myshopify.com" and len(state["locations"]) == 3
    assert shop.describe()["shop"] == "demo.myshopify.com"
    assert set(shop.credentials()) == {"access_token", "api_secret"}


# --- every field the sandbox declares resolves -------------------------------------------------
def _selection(schema: Any, type_: Any, depth: int) -> str:
    from graphql import GraphQLInterfaceType, get_named_type, is_leaf_type, is_required_argument

    parts = []
    for name, field in type_.fields.items():
        named = get_named_type(field.type)
        required = [a for a, arg in field.args.items() if is_required_argument(arg)]
        args = ""
        if name == "quantities":
            args = '(names: ["available", "on_hand", "committed", "incoming"])'
        elif required:
            continue
        if is_leaf_type(named):
            parts.append(name + args)
            continue
        if depth == 0:
            continue
        if "first" in field.args:
            args = "(first: 1)"
        if named.name.endswith("Connection"):
            node_type = get_named_type(named.fields["nodes"].type)  # type: ignore[attr-defined]
            parts.append(f"{name}{args} {{ nodes {{ {_selection(schema, node_type, depth - 1)} }} "
                         "pageInfo { hasNextPage endCursor } }")
            continue
        inner = _selection(schema, named, depth - 1)
        if inner.strip():
            parts.append(f"{name}{args} {{ {inner} }}")
    if isinstance(type_, GraphQLInterfaceType) and depth > 0:
        for impl in schema.get_implementations(type_).objects:
            parts.append(f"... on {impl.name} {{ {_selection(schema, impl, depth - 1)} }}")
    return " ".join(parts) or "__typename"


def test_every_declared_field_resolves() -> None:
    from graphql import get_named_type

    from storeops.sandbox.shopify.schema import load_schema

    schema = load_schema()
    sb = ShopifySandbox(seed=13, product_limit=4, seed_orders=3)
    order = next(iter(sb.store.orders.values()))
    fo = sb.store.fulfillment_orders[order.fulfillment_order_ids[0]]

    def run(query: str) -> dict[str, Any]:
        sb.bucket.available_points = 2000.0  # this test checks shapes, not the rate limit
        _, answer = sb.run_graphql(query, {}, None)
        assert "errors" not in answer, answer["errors"][:3]
        return answer["data"]  # type: ignore[no-any-return]

    run(f'mutation {{ fulfillmentCreate(fulfillment: {{lineItemsByFulfillmentOrder: '
        f'[{{fulfillmentOrderId: "{fo.gid}"}}], trackingInfo: {{number: "1Z1"}}}}) {{ userErrors {{ message }} }} }}')
    shipped = sb.store.fulfillments[order.fulfillment_ids[0]].line_items[0]
    line = sb.store.line_items[shipped.line_item_id]
    run(f'mutation {{ returnCreate(returnInput: {{orderId: "{order.gid}", returnLineItems: [{{fulfillmentLineItemId: '
        f'"gid://shopify/FulfillmentLineItem/{shipped.id}", quantity: 1}}]}}) {{ userErrors {{ message }} }} }}')
    run(f'mutation {{ refundCreate(input: {{orderId: "{order.gid}", refundLineItems: [{{lineItemId: "{line.gid}", '
        f'quantity: 1, restockType: RETURN}}]}}) @idempotent(key: "k") {{ userErrors {{ message }} }} }}')
    run('mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE, webhookSubscription: {uri: "http://127.0.0.1:9/h"})'
        ' { userErrors { message } } }')
    root = schema.query_type
    assert root is not None
    for name, field in root.fields.items():
        if "first" not in field.args:
            continue
        node_type = schema.type_map[field.type.of_type.name].fields["nodes"].type  # type: ignore[attr-defined,union-attr]
        data = run(f"{{ {name}(first: 2) {{ nodes {{ {_selection(schema, get_named_type(node_type), 3)} }} }} }}")
        assert data[name]["nodes"], name
    run(f'{{ shop {{ {_selection(schema, schema.type_map["Shop"], 2)} }} order(id: "{order.gid}") {{ '
        f'{_selection(schema, schema.type_map["Order"], 4)} }} }}')
    level = sb.store.levels_of_item(sb.store.variants[line.variant_id or 0].inventory_item_id)[0]
    customer = next(iter(sb.store.customers.values()))
    singles = {"product": line.product_id, "productVariant": line.variant_id, "customer": customer.id,
               "fulfillmentOrder": fo.id, "inventoryItem": level.item_id}
    for name, id_ in singles.items():
        type_ = schema.type_map[get_named_type(root.fields[name].type).name]
        data = run(f'{{ {name}(id: "gid://shopify/{type_.name}/{id_}") {{ {_selection(schema, type_, 2)} }} }}')
        assert data[name], name
    ids = [level.gid, order.gid, fo.gid, f"gid://shopify/Location/{level.location_id}"]
    data = run(f'{{ location {{ name inventoryLevel(inventoryItemId: "gid://shopify/InventoryItem/{level.item_id}") '
               f'{{ id }} }} inventoryLevel(id: "{level.gid}") {{ id }} nodes(ids: {json.dumps(ids)}) {{ id }} '
               f'node(id: "{order.gid}") {{ ... on Order {{ name }} }} }}')
    assert [n["id"] for n in data["nodes"]] == ids and data["node"]["name"] == order.name
