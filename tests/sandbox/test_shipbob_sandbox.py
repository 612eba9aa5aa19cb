"""The ShipBob sandbox over raw HTTP: what ShipBob documents, without our connector in the way."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storeops.sandbox import catalog
from storeops.sandbox.runner import load_sandbox
from storeops.sandbox.shipbob import ShipbobSandbox
from storeops.sandbox.shipbob.fulfillment import SHIPMENT_STEPS

from conftest import LiveServer
from sandbox_runtime import running

V = "/2026-01"
PAT_CHANNEL = "210001"


class FakeClock:
    def __init__(self) -> None:
        self.t = 5_000.0

    def now(self) -> float:
        return self.t


class Api:
    """Raw calls with the sandbox's token."""

    def __init__(self, sandbox: ShipbobSandbox, token: str | None = None) -> None:
        self.sandbox = sandbox
        self.http = httpx.Client(base_url=sandbox.base_url, timeout=10,
                                 headers={"Authorization": f"Bearer {token or sandbox.credentials()['token']}"})

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(V + path, params=params)

    def post(self, path: str, body: dict[str, Any], *, channel: str | None = PAT_CHANNEL) -> httpx.Response:
        headers = {"shipbob_channel_id": channel} if channel else {}
        return self.http.post(V + path, json=body, headers=headers)

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.post(f"/_sandbox/{path}", json=body or {})
        response.raise_for_status()
        return response.json()

    def order(self, reference: str, sku: str = "MH01-XS-Orange", quantity: int = 1, **extra: Any) -> httpx.Response:
        return self.post("/order", {
            "reference_id": reference, "type": "DTC", "shipping_method": "Standard",
            "recipient": {"name": "Ann Example", "email": "ann@example.com",
                          "address": {"address1": "100 Main St", "city": "Springfield", "state": "IL",
                                      "zip_code": "62701", "country": "US"}},
            "products": [{"reference_id": sku, "name": "Item", "quantity": quantity}], **extra})

    def levels(self, sku: str) -> dict[int, dict[str, int]]:
        variant = self.sandbox.store.variants_by_sku[sku]
        body = self.get(f"/inventory-level/{variant.inventory_id}/locations").json()
        return {loc["location_id"]: loc for loc in body["locations"]}


@pytest.fixture
def sandbox() -> Iterator[ShipbobSandbox]:
    with running(ShipbobSandbox(seed=11)) as sb:
        yield sb


@pytest.fixture
def api(sandbox: ShipbobSandbox) -> Iterator[Api]:
    client = Api(sandbox)
    yield client
    client.http.close()


def catalog_stock(sku: str) -> dict[int, int]:
    for product in catalog.products():
        for variant in product["variants"]:
            if variant["sku"] == sku:
                return {int(fc): int(n) for fc, n in variant["stock"].items()}
    raise KeyError(sku)


# --------------------------------------------------------------------------- auth, catalog

def test_runner_finds_the_sandbox_and_credentials_are_stable() -> None:
    sandbox = load_sandbox("shipbob", seed=4)
    assert isinstance(sandbox, ShipbobSandbox)
    creds = sandbox.credentials()
    assert creds["webhook_secret"].startswith("whsec_") and len(creds["webhook_secret"]) == 38
    sandbox.reset()
    assert sandbox.credentials() == creds == ShipbobSandbox(seed=4).credentials()


def test_wrong_or_missing_token_gets_shipbobs_401(sandbox: ShipbobSandbox) -> None:
    basic = {"Authorization": f"Basic {sandbox.credentials()['token']}"}
    for headers in ({}, {"Authorization": "Bearer pat_wrong"}, basic):
        response = httpx.get(f"{sandbox.base_url}{V}/fulfillment-center", headers=headers)
        assert response.status_code == 401
        assert response.content == b"" and response.headers["www-authenticate"] == "Bearer"
    inventory = httpx.get(f"{sandbox.base_url}{V}/inventory-level", headers={"Authorization": "Bearer nope"})
    assert inventory.status_code == 401 and inventory.json()["status"] == 401  # Inventory.ProblemDetails


def test_fulfillment_centers_products_and_stock_come_from_the_catalog(api: Api) -> None:
    centers = api.get("/fulfillment-center").json()
    expected = [(fc["id"], fc["name"]) for fc in catalog.fulfillment_centers()]
    assert [(fc["id"], fc["name"]) for fc in centers] == expected
    first = api.get("/product").json()
    assert len(first["items"]) == 50 and first["prev"] is None and "Cursor=2" in first["next"]
    products, url = [], f"{V}/product?PageSize=100"
    while url:
        body = api.http.get(url).json()
        products += body["items"]
        url = body["next"]
    assert len(products) == len(catalog.products())
    skus = {v["sku"] for p in products for v in p["variants"]}
    assert skus == {v["sku"] for p in catalog.products() for v in p["variants"]}
    sku = "MH01-XS-Orange"
    assert {fc: level["on_hand_quantity"] for fc, level in api.levels(sku).items()} == catalog_stock(sku)
    only_fc2 = api.get("/inventory-level/locations", LocationId=2, PageSize=3).json()["items"]
    assert all([loc["location_id"] for loc in item["locations"]] == [2] for item in only_fc2)


def test_created_product_gets_inventory_and_a_duplicate_sku_is_refused(api: Api) -> None:
    body = {"name": "Gift Card Sleeve", "type_id": 1, "variants": [{"sku": "GC-SLEEVE", "name": "Sleeve"}]}
    created = api.post("/product", body, channel=None)
    assert created.status_code == 201
    variant = created.json()["variants"][0]
    assert variant["sku"] == "GC-SLEEVE" and variant["inventory"]["on_hand_qty"] == 0
    assert api.post("/product", body, channel=None).status_code == 422
    found = api.get("/product", SKU="GC-SLEEVE").json()["items"]
    assert [p["id"] for p in found] == [created.json()["id"]]


# --------------------------------------------------------------------------- orders

def test_duplicate_reference_id_is_refused_as_shipbob_does(api: Api) -> None:
    assert api.order("dup-1").status_code == 201
    again = api.order("dup-1")
    assert again.status_code == 422
    assert again.json() == {"": ["Cannot insert order with existing ReferenceId"]}
    assert len(api.get("/order", ReferenceIds="dup-1").json()) == 1


def test_order_needs_the_channel_header_and_valid_fields(api: Api) -> None:
    missing = api.post("/order", {"reference_id": "x"}, channel=None)
    assert missing.status_code == 400 and "shipbob_channel_id" in missing.json()
    read_only = api.post("/order", {"reference_id": "x"}, channel="210000")
    assert read_only.status_code == 403
    invalid = api.post("/order", {"reference_id": "x", "type": "Retail", "products": []})
    assert invalid.status_code == 400 and {"type", "shipping_method", "recipient.name"} <= set(invalid.json())


def test_shipment_walks_shipbobs_statuses_and_moves_stock(api: Api) -> None:
    sku = "MH01-XS-Orange"
    before = api.levels(sku)
    order = api.order("walk-1", sku, 2).json()
    shipment = order["shipments"][0]
    fc = shipment["location"]["id"]
    assert api.levels(sku)[fc]["committed_quantity"] == before[fc]["committed_quantity"] + 2
    assert api.levels(sku)[fc]["fulfillable_quantity"] == before[fc]["fulfillable_quantity"] - 2
    seen = [(shipment["status"], None)]
    for _ in range(len(SHIPMENT_STEPS) - 1):
        assert api.control("advance") == {"advanced": 1}
        current = api.get(f"/shipment/{shipment['id']}").json()
        seen.append((current["status"], current["status_details"][0]["name"]))
    assert seen == [(step.status, step.detail.name if step.detail else None) for step in SHIPMENT_STEPS]
    assert api.control("advance") == {"advanced": 0}
    final = api.get(f"/order/{order['id']}").json()
    assert final["status"] == "Fulfilled"
    done = final["shipments"][0]
    assert done["tracking"]["tracking_number"] and done["delivery_date"] and done["actual_fulfillment_date"]
    after = api.levels(sku)[fc]
    assert after["on_hand_quantity"] == before[fc]["on_hand_quantity"] - 2
    assert after["committed_quantity"] == before[fc]["committed_quantity"]
    tracking = api.get("/shipments-tracking", ShipmentIds=str(shipment["id"])).json()[0]
    assert tracking["status"] == "Delivered"
    assert [h["status"] for h in tracking["history"]] == ["PreTransit", "InTransit", "InTransit", "Delivered"]


def test_shipments_advance_on_their_own_scaled_by_time_scale() -> None:
    # 56 vendor hours from order to delivery; at 10^6x that is a fraction of a second.
    with running(ShipbobSandbox(seed=12, time_scale=1_000_000)) as sandbox:
        api = Api(sandbox)
        order = api.order("auto-1").json()
        deadline = time.monotonic() + 10
        while api.get(f"/order/{order['id']}").json()["shipments"][0]["status_details"][0:1] != [
                {"id": 203, "name": "Delivered", "description": "Shipment Delivered", "inventory_id": None,
                 "exception_fulfillment_center_id": None}]:
            assert time.monotonic() < deadline, "shipment did not reach Delivered"
            time.sleep(0.05)


def test_out_of_stock_waits_in_exception_until_a_receipt(api: Api) -> None:
    sku = "MH01-XS-Black"  # no stock anywhere in the catalog
    assert sum(catalog_stock(sku).values()) == 0
    order = api.order("oos-1", sku).json()
    shipment = order["shipments"][0]
    assert order["status"] == "Exception"
    assert shipment["status"] == "Exception" and shipment["status_details"][0]["id"] == 303
    receipt = api.control("inventory", {"sku": sku, "fc_id": 3, "delta": 5})
    assert receipt["on_hand"] == 5 and receipt["released_shipments"] == 1
    again = api.get(f"/order/{order['id']}").json()
    assert again["status"] == "Processing" and again["shipments"][0]["location"]["id"] == 3
    assert api.levels(sku)[3]["committed_quantity"] == 1
    assert api.sandbox.credentials()  # inventory receipts send no webhook: 2026-01 has no such topic


def test_cancel_releases_stock_but_not_after_the_label(api: Api) -> None:
    sku = "MH01-S-Gray"
    before = api.levels(sku)
    order = api.order("cancel-1", sku).json()
    cancelled = api.http.post(f"{V}/order/{order['id']}:cancel").json()
    assert cancelled["status"] == "Success" and cancelled["order"]["status"] == "Cancelled"
    assert api.levels(sku) == before
    labeled = api.order("cancel-2", sku).json()
    for _ in range(3):
        api.control("advance")
    refused = api.http.post(f"{V}/order/{labeled['id']}:cancel").json()
    assert refused["status"] == "Failure" and refused["canceled_shipment_results"][0]["is_success"] is False


def test_orders_page_with_page_and_limit_and_filter_by_update_time(api: Api) -> None:
    for i in range(5):
        assert api.order(f"page-{i}").status_code == 201
    first = api.get("/order", Limit=2, Page=1, SortOrder="Oldest")
    assert [o["reference_id"] for o in first.json()] == ["page-0", "page-1"]
    assert first.headers["total-count"] == "5" and first.headers["total-pages"] == "3"
    assert "Page=2" in first.headers["next-page"]
    assert [o["reference_id"] for o in api.get("/order", Limit=2, Page=3, SortOrder="Oldest").json()] == ["page-4"]
    assert api.get("/order", LastUpdateStartDate="2999-01-01T00:00:00Z").json() == []


# --------------------------------------------------------------------------- returns

def test_return_is_received_and_restocked(api: Api) -> None:
    sku = "MH01-S-Orange"
    order = api.order("ret-1", sku).json()
    for _ in range(4):
        api.control("advance")
    shipment = api.get(f"/order/{order['id']}/shipment").json()[0]
    fc = shipment["location"]["id"]
    on_hand = api.levels(sku)[fc]["on_hand_quantity"]
    inventory_id = shipment["products"][0]["inventory_items"][0]["id"]
    body = {"reference_id": "rma-1", "fulfillment_center": {"id": fc}, "original_shipment_id": shipment["id"],
            "inventory": [{"id": inventory_id, "quantity": 1, "requested_action": "Restock"}]}
    created = api.post("/return", body)
    assert created.status_code == 201 and created.json()["status"] == "AwaitingArrival"
    assert api.post("/return", body).status_code == 422  # same reference_id
    for _ in range(3):
        api.control("advance")
    done = api.get(f"/return/{created.json()['id']}").json()
    assert done["status"] == "Completed" and done["completed_date"]
    assert [h["status"] for h in done["status_history"]] == ["AwaitingArrival", "Arrived", "Processing", "Completed"]
    assert api.levels(sku)[fc]["on_hand_quantity"] == on_hand + 1
    listed = api.get("/return", Status="Completed").json()
    assert [r["id"] for r in listed["items"]] == [done["id"]] and listed["next"] is None


# --------------------------------------------------------------------------- webhooks

class Hooks:
    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        self._lock = threading.Lock()
        self.server = LiveServer(Starlette(routes=[Route("/hook", self.hook, methods=["POST"])]))

    async def hook(self, request: Request) -> Response:
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return Response(status_code=503)
            self.got.append(({k.lower(): v for k, v in request.headers.items()}, await request.body()))
        return Response(status_code=200)

    def wait(self, count: int, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.got) < count:
            assert time.monotonic() < deadline, f"{len(self.got)} of {count} deliveries"
            time.sleep(0.02)


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    receiver = Hooks()
    with receiver.server:
        yield receiver


def standard_webhooks_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """Computed here from the Standard Webhooks rules, not with our connector's code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_subscribed_topics_are_delivered_signed(hooks: Hooks) -> None:
    with running(ShipbobSandbox(seed=13, time_scale=10_000)) as sandbox:
        api = Api(sandbox)
        own_secret = "whsec_" + base64.b64encode(bytes(range(24))).decode()
        sub = api.http.post(f"{V}/webhook", json={"url": hooks.server.url + "/hook?shop=a.myshopify.com",
                                                  "topics": ["order.shipped", "order.shipment.delivered"],
                                                  "secret": own_secret})
        assert sub.status_code == 200 and sub.json()["secret"] == own_secret
        hooks.fail_first = 1  # the first attempt fails; ShipBob retries 5 s later (0.5 ms here)
        order = api.order("hook-1").json()
        for _ in range(len(SHIPMENT_STEPS) - 1):
            api.control("advance")
        hooks.wait(2)
        stats = api.http.get("/_sandbox/stats").json()
    topics = sorted(headers["x-webhook-topic"] for headers, _ in hooks.got)  # a retry may land late
    assert topics == ["order.shipment.delivered", "order.shipped"]
    for headers, body in hooks.got:
        assert headers["webhook-signature"] == standard_webhooks_signature(own_secret, headers, body)
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        payload = json.loads(body)
        assert payload["topic"] == headers["x-webhook-topic"] and payload["order_id"] == order["id"]
    assert stats["webhooks_sent"] == 2 and stats["webhooks_failed"] == 1


def test_subscription_requests_are_checked_like_shipbob(api: Api) -> None:
    def create(**body: Any) -> httpx.Response:
        return api.http.post(f"{V}/webhook", json={"url": "https://example.com/hook", "topics": ["order.shipped"],
                                                   **body})

    assert create(topics=["inventory.updated"]).status_code == 422  # not a ShipBob topic
    assert create(url="http://example.com/hook").status_code == 422  # HTTPS only
    assert create(secret="whsec_short").status_code == 422
    made = create()
    assert made.status_code == 200 and made.json()["secret"] == api.sandbox.credentials()["webhook_secret"]
    listed = api.get("/webhook").json()["items"]
    assert [(s["id"], s["enabled"]) for s in listed] == [(made.json()["id"], True)]
    assert api.http.delete(f"{V}/webhook/{made.json()['id']}").status_code == 204
    assert api.get("/webhook").json()["items"] == []


# --------------------------------------------------------------------------- rate limit, faults

def test_the_151st_request_in_a_minute_gets_429_with_x_retry_after() -> None:
    clock = FakeClock()
    with running(ShipbobSandbox(seed=14, clock=clock.now)) as sandbox:
        api = Api(sandbox)
        for i in range(150):
            response = api.get("/fulfillment-center")
            assert response.status_code == 200, i
            assert response.headers["x-remaining-calls"] == str(149 - i)
            clock.t += 0.1  # 150 requests over 15 s
        throttled = api.get("/fulfillment-center")
        assert throttled.status_code == 429
        assert throttled.headers["x-retry-after"] == "45"  # the first request leaves the window at 60 s
        assert throttled.headers["x-remaining-calls"] == "0"
        assert throttled.json() == {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 45 seconds."}
        clock.t += 45
        assert api.get("/fulfillment-center").status_code == 200
        assert api.http.get("/_sandbox/stats").json()["throttled"] == 1


def test_injected_429_carries_x_retry_after(api: Api) -> None:
    api.http.post("/_sandbox/faults", json={"fail_next": 1, "statuses": [429], "retry_after_s": 3})
    throttled = api.get("/fulfillment-center")
    assert throttled.status_code == 429 and throttled.headers["x-retry-after"] == "3"
    assert throttled.json()["statusCode"] == 429
    assert api.get("/fulfillment-center").status_code == 200


def test_state_and_reset(api: Api) -> None:
    api.order("state-1")
    state = api.http.get("/_sandbox/state").json()
    assert [o["reference_id"] for o in state["orders"]] == ["state-1"]
    assert state["products"] == len(catalog.products())
    api.control("reset")
    assert api.http.get("/_sandbox/state").json()["orders"] == []
    assert api.get("/fulfillment-center").status_code == 200  # same token after reset
