"""The ShipBob connector against the ShipBob sandbox, with ShipBob's own OpenAPI file as referee.

- conformance: the shared suite (auth, 429, 5xx, paging) in a few lines;
- contract: every request the connector sends and every response the sandbox returns is
  checked against shared/vendor-specs/shipbob/openapi-2026-01.json with openapi-core;
- idempotency, signed webhooks on loopback, and the 150-per-minute sliding window.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storeops.connectors.shipbob.client import API_VERSION, SUBSCRIPTION_TOPICS, ShipbobClient
from storeops.connectors.shipbob.limiter import SlidingWindowLimiter, shared_limiter
from storeops.connectors.shipbob.models import Address, OrderLine, Recipient, ReturnItem
from storeops.connectors.shipbob.webhooks import ShipbobWebhookVerifier
from storeops.core.errors import ConfigError, VendorError
from storeops.sandbox import catalog
from storeops.sandbox.common import VendorSandbox
from storeops.sandbox.shipbob import ShipbobSandbox

from conformance import ConnectorConformance
from conftest import LiveServer
from sandbox_runtime import running

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SPEC_PATH = SHARED / "vendor-specs" / "shipbob" / "openapi-2026-01.json"
SHOP = "test-shop.myshopify.com"
RECIPIENT = Recipient("Ann Example", Address("100 Main St", "Springfield", "US", state="IL", zip_code="62701"),
                      email="ann@example.com")


# --------------------------------------------------------------------------- helpers

class FakeClock:
    """Shared by the sandbox's rate limiter and ours: minutes pass without waiting."""

    def __init__(self) -> None:
        self.t = 10_000.0
        self.slept = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds
            self.slept += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


def make_client(sandbox: VendorSandbox, *, token: str | None = None, clock: FakeClock | None = None,
                transport: httpx.BaseTransport | None = None, webhook_secret: str | None = None) -> ShipbobClient:
    clock = clock or FakeClock()
    return ShipbobClient(token or sandbox.credentials()["token"], sandbox.base_url, webhook_secret=webhook_secret,
                         limiter=SlidingWindowLimiter(clock=clock.now, sleep=clock.sleep), transport=transport)


def control(sandbox: VendorSandbox, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.post(f"{sandbox.base_url}/_sandbox/{path}", json=body or {}, timeout=5)
    response.raise_for_status()
    return response.json()


def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


# --------------------------------------------------------------------------- conformance

class TestShipbobConformance(ConnectorConformance):
    vendor = "shipbob"

    def make_sandbox(self) -> VendorSandbox:
        return ShipbobSandbox(seed=3)

    def make_connector(self, sandbox: VendorSandbox, *, valid: bool = True) -> Any:
        # A fake clock for our limiter: the 429 test's x-retry-after wait is honoured by
        # the limiter (it blocks the next call) without sleeping for real.
        return make_client(sandbox, token=None if valid else "pat_wrong")

    def cheap_call(self, connector: Any) -> Any:
        return connector.check()

    def read_all(self, connector: Any) -> list[Any]:
        return connector.list_products(page_size=100)  # type: ignore[no-any-return]

    def expected_all(self, sandbox: VendorSandbox) -> int:
        return len(catalog.products())  # 251 products: three pages of 100


def test_429_blocks_the_shared_limiter_for_x_retry_after() -> None:
    with running(ShipbobSandbox(seed=3)) as sandbox:
        clock = FakeClock()
        client = make_client(sandbox, clock=clock)
        httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"fail_next": 1, "statuses": [429],
                                                                   "retry_after_s": 7}).raise_for_status()
        with pytest.raises(VendorError) as caught:
            client.check()
        assert caught.value.status == 429 and caught.value.retry_after == 7
        client.check()
        assert clock.slept == pytest.approx(7.0)


def test_wrong_token_fails_check_as_config_error() -> None:
    with running(ShipbobSandbox(seed=3)) as sandbox, pytest.raises(ConfigError):
        make_client(sandbox, token="pat_wrong").check()


# --------------------------------------------------------------------------- contract

def _strip_ref_siblings(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return {"$ref": node["$ref"]}
        return {k: _strip_ref_siblings(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_strip_ref_siblings(v) for v in node]
    return node


def normalize_spec(raw: dict[str, Any]) -> dict[str, Any]:
    """ShipBob's spec as OpenAPI 3.0 means it, so that a strict validator can use it.

    1. Reference Objects take no siblings in OpenAPI 3.0 ("any properties added SHALL be
       ignored"); the file puts `additionalProperties: false` (552 times) and descriptions
       next to `$ref`. openapi-core applies them, so we drop them.
    2. `allOf` is the generator's inheritance: each part says additionalProperties: false,
       so under JSON Schema no object could satisfy a base and an extension at once
       (AddProductToOrderByReferenceIdModel = AddProductToOrderModel + reference_id ...).
       We merge each allOf into one object schema with all the parts' properties, still
       closed to unknown fields.
    3. `additionalProperties: false` on a schema with no `properties` (oneOf wrappers,
       strings, free-form objects) would forbid every field; the generator writes it on
       every schema, so we keep it only where properties are listed.
    4. The known upstream defect: Orders.AddProductToOrderByProductIdModel requires
       "product_id" but defines only "id" (the field ShipBob documents); we drop the
       undefined name from `required` (shared/vendor-specs/README.md, section 3).
    """
    spec = _strip_ref_siblings(copy.deepcopy(raw))
    schemas: dict[str, Any] = spec["components"]["schemas"]
    flattened: set[str] = set()

    def member(node: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            flatten_named(name)
            return schemas[name]  # type: ignore[no-any-return]
        return flatten(node)  # type: ignore[no-any-return]

    def flatten(node: Any) -> Any:
        if isinstance(node, dict):
            for value in node.values():
                flatten(value)
            parts = [member(m) for m in node.get("allOf", [])]
            if parts and all("properties" in p or p.get("type") == "object" for p in parts):
                properties: dict[str, Any] = {}
                required: set[str] = set(node.get("required", []))
                for part in parts:
                    properties.update(part.get("properties", {}))
                    required.update(part.get("required", []))
                properties.update(node.get("properties", {}))
                node.update(type="object", properties=properties)
                node.setdefault("additionalProperties", False)
                if required:
                    node["required"] = sorted(required)
                del node["allOf"]
        elif isinstance(node, list):
            for value in node:
                flatten(value)
        return node

    def flatten_named(name: str) -> None:
        if name not in flattened:
            flattened.add(name)
            flatten(schemas[name])

    for name in list(schemas):
        flatten_named(name)
    flatten(spec["paths"])

    def open_propertyless(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("additionalProperties") is False and "properties" not in node:
                del node["additionalProperties"]
            for value in node.values():
                open_propertyless(value)
        elif isinstance(node, list):
            for value in node:
                open_propertyless(value)

    open_propertyless(spec)
    by_id = schemas["Orders.AddProductToOrderByProductIdModel"]
    by_id["required"] = [r for r in by_id["required"] if r != "product_id"]
    return spec


@cache
def shipbob_spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"vendor spec not found: {SPEC_PATH}")
    return normalize_spec(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


@cache
def shipbob_openapi() -> Any:
    from openapi_core import Config, OpenAPI

    # The normalised document is checked once by test_normalized_spec_is_valid; skipping
    # the check here saves it on every load.
    return OpenAPI.from_dict(shipbob_spec(), config=Config(spec_validator_cls=None))


class RecordingTransport(httpx.BaseTransport):
    """A real HTTP transport that keeps every exchange for the contract check."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        return response

    def close(self) -> None:
        self.inner.close()


def validate_exchange(request: httpx.Request, response: httpx.Response) -> str:
    """Validate one exchange; returns "METHOD /path-template status"."""
    from openapi_core.templating.responses.exceptions import ResponseNotFound
    from openapi_core.testing import MockRequest, MockResponse

    api = shipbob_openapi()
    # Every operation's security is PAT (http bearer) or OAuth2; openapi-core cannot check
    # an oauth2 alternative and then lets any request pass, so the PAT scheme is checked here.
    if not re.fullmatch(r"Bearer \S+", request.headers.get("authorization", "")):
        raise AssertionError(f"{request.method} {request.url.path}: no PAT bearer token (security: PAT)")
    # The spec's servers are ShipBob's; the sandbox's host stands in for them.
    mock_request = MockRequest(
        "https://api.shipbob.com", request.method, request.url.path,
        args=list(request.url.params.multi_items()),  # type: ignore[arg-type]
        headers=dict(request.headers), data=request.content or None,
        content_type=request.headers.get("content-type", "application/json").split(";")[0],
    )
    with warnings.catch_warnings():
        # openapi-core: "Unsupported scheme type" for the OAuth2 alternative, checked above.
        warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
        api.validate_request(mock_request)
    mock_response = MockResponse(response.content, status_code=response.status_code,
                                 headers=dict(response.headers),
                                 content_type=response.headers.get("content-type", "application/json").split(";")[0])
    try:
        api.validate_response(mock_request, mock_response)
    except ResponseNotFound:
        return f"{request.method} {request.url.path} {response.status_code} (status not in the spec)"
    return f"{request.method} {request.url.path} {response.status_code}"


def test_the_contract_check_catches_what_is_off_the_spec() -> None:
    """The referee is not vacuous: an unknown field, a wrong type or a missing token fails."""
    url = "http://127.0.0.1:9/2026-01/fulfillment-center"
    auth = {"Authorization": "Bearer pat_x"}
    good = [{"id": 1, "name": "Cicero (IL)", "city": "Cicero"}]
    assert validate_exchange(httpx.Request("GET", url, headers=auth), httpx.Response(200, json=good))
    for body in ([{"id": 1, "warehouse_code": "CIC"}], [{"id": "one"}], {"id": 1}):
        with pytest.raises(Exception, match="(?i)invalid|valid"):
            validate_exchange(httpx.Request("GET", url, headers=auth), httpx.Response(200, json=body))
    with pytest.raises(AssertionError, match="PAT bearer"):
        validate_exchange(httpx.Request("GET", url), httpx.Response(200, json=good))
    bad_order = {"reference_id": "r", "type": "DTC", "shipping_method": "Standard",
                 "recipient": RECIPIENT.as_json(), "products": [{"sku": "A", "quantity": 1}]}
    with pytest.raises(Exception, match="(?i)invalid|valid"):
        validate_exchange(httpx.Request("POST", "http://127.0.0.1:9/2026-01/order", json=bad_order,
                                        headers={**auth, "shipbob_channel_id": "1"}), httpx.Response(201, json={}))


def test_normalized_spec_is_valid() -> None:
    from openapi_spec_validator import validate

    validate(shipbob_spec())


def post_product(client: ShipbobClient, body: dict[str, Any]) -> httpx.Response:
    """POST /2026-01/product through the connector's HTTP client (the connector has no
    product writer; the sandbox's answer still goes through the contract check)."""
    return client.http.post(f"/{API_VERSION}/product", json=body)


def test_every_request_and_response_follows_the_spec() -> None:
    transport = RecordingTransport()
    with running(ShipbobSandbox(seed=5)) as sandbox:
        client = make_client(sandbox, transport=transport)
        client.check()
        assert len(client.list_products()) == len(catalog.products())
        assert client.list_inventory(location_id=2)
        assert client.list_subscriptions() == []
        client.ensure_subscriptions(f"http://127.0.0.1:9/hooks/shipbob?shop={SHOP}")
        order = client.create_order("contract-1", recipient=RECIPIENT, order_number="#1001",
                                    lines=[OrderLine("MH01-XS-Orange", 1, "Chaz Kangeroo Hoodie", Decimal("52.00"))],
                                    purchase_date=datetime.now(UTC), total_price=Decimal("52.00"))
        assert client.create_order("contract-1", recipient=RECIPIENT,
                                   lines=[OrderLine("MH01-XS-Orange", 1, "Hoodie")])["id"] == order["id"]
        for _ in range(4):
            control(sandbox, "advance")
        shipment = client.list_shipments(order["id"])[0]
        assert client.get_shipment(shipment["id"])["status"] == "Completed"
        assert client.get_tracking([shipment["id"]])[0]["carrier_tracking_number"]
        assert client.get_order(order["id"])["status"] == "Fulfilled"
        assert [o["id"] for o in client.list_orders(datetime.now(UTC) - timedelta(hours=1))] == [order["id"]]
        inventory_id = shipment["products"][0]["inventory_items"][0]["id"]
        ret = client.create_return("rma-1", fulfillment_center_id=shipment["location"]["id"],
                                   items=[ReturnItem(inventory_id, 1, "Restock")],
                                   original_shipment_id=shipment["id"])
        assert client.create_return("rma-1", fulfillment_center_id=1, items=[ReturnItem(inventory_id, 1)])["id"] \
            == ret["id"]
        assert client.get_return(ret["id"])["status"] == "AwaitingArrival"
        assert [r["id"] for r in client.list_returns(statuses=["AwaitingArrival"])] == [ret["id"]]
        second = client.create_order("contract-2", recipient=RECIPIENT, lines=[OrderLine("MH01-S-Gray", 2, "Hoodie")])
        assert client.cancel_order(second["id"])["status"] == "Success"
        created = post_product(client, {
            "name": "Gift Card Sleeve", "type_id": 1,
            "variants": [{"sku": "GC-SLEEVE", "name": "Gift Card Sleeve", "weight": 1.5,
                          "barcodes": [{"value": "0123456789012"}]}]})
        assert created.status_code == 201
        for sub in client.list_subscriptions():
            client.delete_subscription(sub["id"])
        client.http.get(f"/{API_VERSION}/product/{created.json()['id']}")
        client.http.get(f"/{API_VERSION}/inventory-level", params={"PageSize": 5})
        client.http.get(f"/{API_VERSION}/order/{order['id']}/shipment/{shipment['id']}")
        make_client(sandbox, token="pat_wrong", transport=transport).http.get(f"/{API_VERSION}/fulfillment-center")
        make_client(sandbox, token="pat_wrong", transport=transport).http.get(f"/{API_VERSION}/inventory-level")

    checked = [validate_exchange(request, response) for request, response in transport.exchanges]
    operations = {" ".join(line.split()[:2]) for line in checked}
    assert not [line for line in checked if "not in the spec" in line]
    expected = {
        "GET /2026-01/fulfillment-center", "GET /2026-01/channel", "GET /2026-01/product", "POST /2026-01/product",
        "GET /2026-01/inventory-level", "GET /2026-01/inventory-level/locations", "GET /2026-01/webhook",
        "POST /2026-01/webhook", "POST /2026-01/order", "GET /2026-01/order", "POST /2026-01/return",
        "GET /2026-01/return", "GET /2026-01/shipments-tracking",
    }
    assert expected <= operations
    statuses = {line.split()[-1] for line in checked}
    assert {"200", "201", "204", "401", "422"} <= statuses


def test_webhook_payloads_follow_the_spec_resources() -> None:
    """Webhook bodies are the REST resources (ShipmentViewModel, PublicReturnDto) plus
    topic and event_time; check the resource part with the spec's own schema."""
    from openapi_schema_validator import OAS30Validator

    spec = shipbob_spec()

    def validate(payload: dict[str, Any], schema: str) -> None:
        body = {k: v for k, v in payload.items() if k not in ("topic", "event_time")}
        OAS30Validator({"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}).validate(body)

    with webhook_receiver() as receiver, running(ShipbobSandbox(seed=6, time_scale=1.0)) as sandbox:
        client = make_client(sandbox, webhook_secret=sandbox.credentials()["webhook_secret"])
        client.ensure_subscriptions(receiver.url + f"?shop={SHOP}")
        order = client.create_order("payload-1", recipient=RECIPIENT, lines=[OrderLine("MH01-XS-Orange", 1, "Hoodie")])
        for _ in range(7):
            control(sandbox, "advance")
        shipment = client.list_shipments(order["id"])[0]
        inventory_id = shipment["products"][0]["inventory_items"][0]["id"]
        client.create_return("payload-rma", fulfillment_center_id=shipment["location"]["id"],
                             items=[ReturnItem(inventory_id, 1, "Restock")], original_shipment_id=shipment["id"])
        for _ in range(3):
            control(sandbox, "advance")
        wait_for(lambda: {"order.shipped", "order.shipment.delivered", "return.completed"} <= receiver.topics())
    for topic, _, body in receiver.deliveries:
        validate(json.loads(body), "Returns.PublicReturnDto" if topic.startswith("return.") else
                 "Orders.ShipmentViewModel")


# --------------------------------------------------------------------------- idempotency

def test_duplicate_reference_id_is_refused_by_shipbob_but_create_order_is_idempotent() -> None:
    with running(ShipbobSandbox(seed=7)) as sandbox:
        client = make_client(sandbox)
        first = client.create_order("shop-1001", recipient=RECIPIENT, lines=[OrderLine("MH01-S-Gray", 1, "Hoodie")])
        raw = client.http.post(f"/{API_VERSION}/order", headers={"shipbob_channel_id": str(client.channel_id)},
                               json={"reference_id": "shop-1001", "type": "DTC", "shipping_method": "Standard",
                                     "recipient": RECIPIENT.as_json(),
                                     "products": [{"reference_id": "MH01-S-Gray", "name": "Hoodie", "quantity": 1}]})
        assert raw.status_code == 422
        assert raw.json() == {"": ["Cannot insert order with existing ReferenceId"]}
        again = client.create_order("shop-1001", recipient=RECIPIENT, lines=[OrderLine("MH01-S-Gray", 1, "Hoodie")])
        assert again["id"] == first["id"]
        assert len(client.list_orders()) == 1


def test_list_orders_reads_every_page_changed_since() -> None:
    with running(ShipbobSandbox(seed=7)) as sandbox:
        client = make_client(sandbox)
        before = datetime.now(UTC) - timedelta(seconds=1)
        made = [client.create_order(f"page-{i}", recipient=RECIPIENT, lines=[OrderLine("MH01-S-Gray", 1, "Hoodie")])
                for i in range(5)]
        assert [o["id"] for o in client.list_orders(before, page_size=2)] == [o["id"] for o in made]
        assert client.list_orders(datetime.now(UTC) + timedelta(minutes=5)) == []


# --------------------------------------------------------------------------- webhooks

class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[tuple[str, dict[str, str], bytes]] = []
        self.queries: list[dict[str, str]] = []
        self.server = LiveServer(Starlette(routes=[Route("/hooks/shipbob", self.hook, methods=["POST"])]))
        self.url = f"{self.server.url}/hooks/shipbob"

    async def hook(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.deliveries.append((headers.get("x-webhook-topic", ""), headers, await request.body()))
        self.queries.append(dict(request.query_params))
        return Response(status_code=200)

    def topics(self) -> set[str]:
        return {topic for topic, _, _ in self.deliveries}


class webhook_receiver:  # noqa: N801 - used as a context manager
    def __enter__(self) -> Receiver:
        self.receiver = Receiver()
        self.receiver.server.__enter__()
        return self.receiver

    def __exit__(self, *exc: object) -> None:
        self.receiver.server.__exit__(*exc)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def test_shipment_ships_with_tracking_and_the_signed_webhook_verifies(receiver: Receiver) -> None:
    with running(ShipbobSandbox(seed=8)) as sandbox:
        secret = sandbox.credentials()["webhook_secret"]
        client = make_client(sandbox, webhook_secret=secret)
        callback = receiver.url + f"?shop={SHOP}"
        assert client.ensure_subscriptions(callback) == list(SUBSCRIPTION_TOPICS)
        assert client.ensure_subscriptions(callback) == list(SUBSCRIPTION_TOPICS)  # idempotent
        assert len(client.list_subscriptions()) == 1
        order = client.create_order("ship-1", recipient=RECIPIENT, lines=[OrderLine("MH01-XS-Orange", 2, "Hoodie")])
        for _ in range(3):  # Picked, Packed, Labeled
            control(sandbox, "advance")
        wait_for(lambda: "order.shipped" in receiver.topics())

    topic, headers, body = next(d for d in receiver.deliveries if d[0] == "order.shipped")
    verifier = ShipbobWebhookVerifier()
    assert verifier.shop_hint(headers, receiver.queries[0]) == SHOP
    event = verifier.verify(headers, body, secret, now=time.time())
    assert event.topic == "order.shipped" and event.event_id == headers["webhook-id"]
    payload = json.loads(body)
    assert payload["order_id"] == order["id"] and payload["reference_id"] == "ship-1"
    assert payload["status"] == "LabeledCreated"
    assert payload["tracking"]["tracking_number"] and payload["tracking"]["carrier"]
    with pytest.raises(Exception, match="signature"):
        verifier.verify(headers, body + b" ", secret, now=time.time())


# --------------------------------------------------------------------------- rate limit

def test_connector_driven_at_ten_times_the_limit_is_never_throttled() -> None:
    """1500 calls a minute offered (10x ShipBob's 150): the shared sliding window paces
    them so the sandbox, on the same fake clock, never answers 429."""
    clock = FakeClock()
    with running(ShipbobSandbox(seed=9, clock=clock.now)) as sandbox:
        limiter = SlidingWindowLimiter(clock=clock.now, sleep=clock.sleep)
        token = sandbox.credentials()["token"]
        clients = [ShipbobClient(token, sandbox.base_url, limiter=limiter) for _ in range(2)]
        start = clock.now()
        calls = 450
        for i in range(calls):
            clients[i % 2].list_fulfillment_centers()
            clock.advance(60.0 / 1500)  # the next call is offered 40 ms later
        stats = httpx.get(f"{sandbox.base_url}/_sandbox/stats").json()
    assert stats["throttled"] == 0
    assert stats["requests"]["GET /2026-01/fulfillment-center"] == calls
    # 450 calls at 150 per (60 s + margin) need two full windows of waiting.
    assert clock.now() - start >= 2 * 60.0
    assert clock.slept > 100.0


def test_clients_of_one_token_share_one_limiter() -> None:
    a = ShipbobClient("pat_shared_example", "http://127.0.0.1:9")
    b = ShipbobClient("pat_shared_example", "http://127.0.0.1:9")
    try:
        assert a.limiter is b.limiter is shared_limiter("pat_shared_example")
        assert shared_limiter("pat_other_example") is not a.limiter
    finally:
        a.close()
        b.close()


def test_sliding_window_never_allows_151_in_any_minute() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(margin_s=0.0, clock=clock.now, sleep=clock.sleep)
    starts = []
    for _ in range(600):
        limiter.acquire()
        starts.append(clock.now())
        clock.advance(0.01)
    for i in range(len(starts) - 150):
        assert starts[i + 150] - starts[i] >= 60.0
    limiter.observe(available=0)
    assert limiter.remaining == 0
