"""The Klaviyo connector against the Klaviyo sandbox, refereed by Klaviyo's API description.

- ConnectorConformance: auth -> config error, 429 -> waits Retry-After, 5xx -> transient,
  pagination reads every catalog item (251 seeded, 100 per page).
- Contract: every request the connector sends, and every response it gets, validates
  against vendor-specs/klaviyo/openapi-stable.json with openapi-core.
- Rate limits: the connector's tier table is the spec's; driven at 10x an endpoint's steady
  limit (sandbox and limiter share a fake clock) it sees zero 429s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from storeops.connectors.klaviyo.client import POST_PURCHASE_HOLD, KlaviyoClient
from storeops.connectors.klaviyo.limits import ENDPOINT_TIERS, KlaviyoRateLimits, Tier
from storeops.connectors.klaviyo.models import CatalogItemInput, EventInput, ProfileInput
from storeops.core.errors import ConfigError, VendorError
from storeops.sandbox.common import VendorSandbox
from storeops.sandbox.klaviyo import KlaviyoSandbox

from conformance import ConnectorConformance
from sandbox_runtime import running

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "vendor-specs" / "klaviyo" / "openapi-stable.json"
SPEC_HOST = "https://a.klaviyo.com"


class FakeClock:
    """One clock for the sandbox's windows and the connector's limiter; sleeping advances it."""

    def __init__(self, start: float = 50_000.0) -> None:
        self.now = start
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


class Recorder(httpx.BaseTransport):
    """A real HTTP transport that keeps every exchange for contract checks."""

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


def make_client(sandbox: KlaviyoSandbox, clock: FakeClock, *, transport: httpx.BaseTransport | None = None,
                limits: KlaviyoRateLimits | None = None, api_key: str | None = None) -> KlaviyoClient:
    return KlaviyoClient(api_key or sandbox.api_key, base_url=sandbox.base_url, transport=transport,
                         limits=limits or KlaviyoRateLimits(clock=clock, sleep=clock.sleep))


@pytest.fixture(scope="module")
def spec_doc() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"vendor spec not found: {SPEC_PATH}")
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def openapi(spec_doc: dict[str, Any]) -> OpenAPI:
    # Spec validation is off: openapi-spec-validator reports 5 upstream errors (a font-family
    # default under a oneOf, see vendor-specs/README.md) that do not touch what we validate.
    return OpenAPI.from_dict(spec_doc, config=Config(spec_validator_cls=None))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[KlaviyoSandbox]:
    with running(KlaviyoSandbox(seed=3, clock=clock)) as sb:
        yield sb


# --- conformance ------------------------------------------------------------------------------------
class TestKlaviyoConformance(ConnectorConformance):
    vendor = "klaviyo"

    def make_sandbox(self) -> VendorSandbox:
        return KlaviyoSandbox(seed=1, clock=FakeClock())

    def make_connector(self, sandbox: VendorSandbox, *, valid: bool = True) -> KlaviyoClient:
        assert isinstance(sandbox, KlaviyoSandbox) and isinstance(sandbox.clock, FakeClock)
        key = sandbox.api_key if valid else "pk_not_the_key"
        return make_client(sandbox, sandbox.clock, api_key=key)

    def read_all(self, connector: KlaviyoClient) -> list[Any]:
        return connector.list_catalog_items()

    def expected_all(self, sandbox: VendorSandbox) -> int:
        assert isinstance(sandbox, KlaviyoSandbox)
        assert len(sandbox.store.catalog_items) > 100  # more than one page
        return len(sandbox.store.catalog_items)


def test_check_turns_a_refused_key_into_a_config_error(sandbox: KlaviyoSandbox, clock: FakeClock) -> None:
    with pytest.raises(ConfigError):
        make_client(sandbox, clock, api_key="pk_wrong").check()


# --- contract -----------------------------------------------------------------------------------------
RATE = re.compile(r"Burst: `(\d+)/s`<br>Steady: `(\d+)/m`")


def test_connector_tiers_are_the_specs(spec_doc: dict[str, Any]) -> None:
    for (method, template), tier in ENDPOINT_TIERS.items():
        description = spec_doc["paths"][template][method.lower()]["description"]
        burst, steady = RATE.findall(description)[0]  # the first pair is the default tier
        assert Tier(int(burst), int(steady)) == tier, f"{method} {template}"


def _validate(openapi: OpenAPI, request: httpx.Request, response: httpx.Response) -> None:
    raw_path = request.url.raw_path.decode("ascii").split("?")[0]  # keeps %2F inside an id
    mock_request = MockRequest(SPEC_HOST, request.method, raw_path,
                               args=dict(request.url.params), headers=dict(request.headers),
                               data=request.content or None, content_type=request.headers.get("content-type", ""))
    openapi.validate_request(mock_request)
    mock_response = MockResponse(response.content, status_code=response.status_code,
                                 headers=dict(response.headers),
                                 content_type=response.headers.get("content-type", "application/vnd.api+json"))
    openapi.validate_response(mock_request, mock_response)


def test_every_request_and_response_validates_against_the_spec(sandbox: KlaviyoSandbox, clock: FakeClock,
                                                                openapi: OpenAPI) -> None:
    recorder = Recorder()
    client = make_client(sandbox, clock, transport=recorder)
    since = datetime.now(UTC) - timedelta(minutes=5)
    buyer = ProfileInput(email="ada@example.com", first_name="Ada", external_id="cust-1",
                         properties={"storeops_customer_id": "cust-1"})
    client.check()
    client.track_event("Placed Order", buyer, {"OrderId": "1001", "Items": ["Hoodie"]}, unique_id="order-1001:placed",
                       value=Decimal("52.00"), value_currency="USD", time=datetime(2026, 5, 1, 12, tzinfo=UTC))
    client.track_events_bulk([EventInput("Fulfilled Order", buyer, "order-1001:fulfilled", {"OrderId": "1001"},
                                         value=Decimal("52.00"), value_currency="USD")])
    profile = client.upsert_profile(buyer)
    assert client.find_profile("ada@example.com") == client.find_profile("ADA@example.com")
    client.update_profile(profile.id, {"last_name": "Lovelace"})
    vip = next(x for x in client.list_lists() if x.name == "VIP Customers")
    client.add_to_list(vip.id, [profile.id])
    assert profile.id in {p.id for p in client.list_members(vip.id)}
    client.remove_from_list(vip.id, [profile.id])
    assert {s.name for s in client.list_segments()} == {"Engaged (90 days)", "Repeat Buyers"}
    assert {p.id for p in client.list_profiles(updated_since=since)} >= {profile.id}
    assert {e.metric_name for e in client.list_events(since=datetime(2026, 1, 1, tzinfo=UTC))} >= {
        "Placed Order", "Fulfilled Order"}
    assert {m.name for m in client.list_metrics()} == {"Placed Order", "Fulfilled Order"}
    hoodie = CatalogItemInput(external_id="1", title="Chaz Kangeroo Hoodie", description="Warm.",
                              url="https://demo.storeops.example/products/mh01", price=Decimal("49.50"))
    assert client.upsert_catalog_item(hoodie).price == Decimal("49.50")  # PATCH of a seeded item
    new = CatalogItemInput(external_id="new/1", title="New", description="n", url="https://x.example/n")
    assert client.upsert_catalog_item(new).id == "$custom:::$default:::new/1"  # PATCH 404, then POST
    assert client.upsert_catalog_item(new).external_id == "new/1"  # now a PATCH finds it ("/" sent as %2F)
    assert len(client.create_catalog_items_bulk([CatalogItemInput(f"b{i}", "B", "b", "https://x.example/b")
                                                 for i in range(3)])) == 1
    client.hold_post_purchase_flows(buyer, "open return")
    client.release_post_purchase_flows(buyer)
    client.suppress_email_marketing(["ada@example.com"])
    assert len(client.list_catalog_items()) == 251 + 4
    client.close()
    recorder.close()

    statuses = {response.status_code for _, response in recorder.exchanges}
    assert statuses == {200, 201, 202, 204, 404}
    for request, response in recorder.exchanges:
        _validate(openapi, request, response)
    assert len(recorder.exchanges) >= 25


# --- behaviour ------------------------------------------------------------------------------------------
def test_retried_events_are_recorded_once(sandbox: KlaviyoSandbox, clock: FakeClock) -> None:
    client = make_client(sandbox, clock)
    buyer = ProfileInput(email="retry@example.com")
    before = len(sandbox.store.events)
    for _ in range(3):  # e.g. the engine retrying after a lost response
        client.track_event("Placed Order", buyer, {"OrderId": "9"}, unique_id="order-9:placed", value=Decimal("10"))
    client.track_events_bulk([EventInput("Placed Order", buyer, "order-9:placed")] * 2)
    assert len(sandbox.store.events) == before + 1
    tracked = [e for e in client.list_events(since=datetime.now(UTC) - timedelta(minutes=1))
               if e.unique_id == "order-9:placed"]
    assert len(tracked) == 1 and tracked[0].properties["$value"] == Decimal("10")


def test_bulk_tracking_sends_one_job_per_1000_events(sandbox: KlaviyoSandbox, clock: FakeClock) -> None:
    client = make_client(sandbox, clock)
    events = [EventInput("Viewed Product", ProfileInput(email=f"v{i % 40}@example.com"), f"view-{i}",
                         {"ProductId": str(i)}) for i in range(2300)]
    before = len(sandbox.store.events)
    assert client.track_events_bulk(events) == 3
    assert len(sandbox.store.events) == before + 2300
    assert sandbox.stats.requests["POST /api/event-bulk-create-jobs"] == 3


def test_changed_since_readers(sandbox: KlaviyoSandbox, clock: FakeClock) -> None:
    client = make_client(sandbox, clock)
    seeded = client.list_profiles()
    assert len(seeded) == len(sandbox.store.profiles) > 20  # 100 per page, sorted by updated
    mark = datetime.now(UTC) - timedelta(seconds=1)
    changed = client.upsert_profile(ProfileInput(email=seeded[3].email, properties={"touched": True}))
    assert [p.id for p in client.list_profiles(updated_since=mark)] == [changed.id]
    client.track_event("Fulfilled Order", ProfileInput(email="late@example.com"), {}, unique_id="f-1")
    assert [e.metric_name for e in client.list_events(since=mark)] == ["Fulfilled Order"]


def test_post_purchase_hold_and_suppression(sandbox: KlaviyoSandbox, clock: FakeClock) -> None:
    client = make_client(sandbox, clock)
    customer = ProfileInput(email="hold@example.com", external_id="c-77")
    held = client.hold_post_purchase_flows(customer, "return in progress")
    assert held.properties[POST_PURCHASE_HOLD] is True
    released = client.release_post_purchase_flows(customer)
    assert POST_PURCHASE_HOLD not in released.properties
    client.suppress_email_marketing(["hold@example.com"])
    found = client.find_profile("hold@example.com")
    assert found is not None and found.email_suppressed is True


def test_429_blocks_only_that_endpoint_for_retry_after(sandbox: KlaviyoSandbox, clock: FakeClock) -> None:
    client = make_client(sandbox, clock)
    httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"fail_next": 1, "statuses": [429], "retry_after_s": 3})
    with pytest.raises(VendorError) as caught:
        client.list_metrics()
    assert caught.value.status == 429 and caught.value.retry_after == 3
    start = clock.now
    client.list_segments()  # another endpoint: no wait
    assert clock.now == start
    client.list_metrics()  # the throttled one waits as told before it asks again
    assert clock.now - start >= 3


def test_driven_at_10x_the_limit_it_is_never_throttled(sandbox: KlaviyoSandbox, clock: FakeClock) -> None:
    """POST /api/event-bulk-create-jobs allows 10/s and 150/m. Two workers sharing one key's
    limiter are offered 300 jobs at 25/s (10x the steady rate): zero 429s, and it takes
    the minute-plus the limit demands."""
    limits = KlaviyoRateLimits(clock=clock, sleep=clock.sleep)
    workers = [make_client(sandbox, clock, limits=limits) for _ in range(2)]
    clock.now = 120_000.0  # a window edge, for the timing bound below
    start = clock.now
    for n in range(300):
        offered_at = start + n / 25
        if clock.now < offered_at:
            clock.sleep(offered_at - clock.now)
        event = EventInput("Viewed Product", ProfileInput(email=f"load{n % 7}@example.com"), f"load-{n}")
        workers[n % 2].track_events_bulk([event])
    assert sandbox.stats.throttled == 0
    assert sandbox.stats.requests["POST /api/event-bulk-create-jobs"] == 300
    assert clock.now - start >= 60  # 150 in the first minute at most, the rest after it
    # The same offered load without the limiter is refused: the limit is real.
    raw = httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Klaviyo-API-Key {sandbox.api_key}",
                                                           "revision": "2026-07-15"})
    statuses = [raw.post("/api/event-bulk-create-jobs", content=b"{}").status_code for _ in range(12)]
    raw.close()
    assert 429 in statuses and sandbox.stats.throttled > 0
