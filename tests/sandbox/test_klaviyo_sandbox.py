"""The Klaviyo sandbox against Klaviyo's own API description (vendor-specs/klaviyo/openapi-stable.json).

Raw HTTP on loopback: the request gate (auth 401, revision 400, per-endpoint burst/steady
429), unique_id de-duplication, metrics born from events, cursor pagination, and every
response the sandbox gives validated with openapi-core against the spec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from storeops.sandbox.klaviyo import KlaviyoSandbox
from storeops.sandbox.klaviyo.limits import TIERS, VARIANTS, Tier

from sandbox_runtime import running

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "vendor-specs" / "klaviyo" / "openapi-stable.json"
SPEC_HOST = "https://a.klaviyo.com"  # the spec's only server; validation rewrites the sandbox's host to it
REVISION = "2026-07-15"


class FakeClock:
    """Shared by the sandbox's rate limiter and the test: minutes pass without waiting."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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


def _mock_request(request: httpx.Request) -> MockRequest:
    return MockRequest(SPEC_HOST, request.method, request.url.path, args=dict(request.url.params),
                       headers=dict(request.headers), data=request.content or None,
                       content_type=request.headers.get("content-type", ""))


def validate_response(openapi: OpenAPI, request: httpx.Request, response: httpx.Response) -> None:
    mock = MockResponse(response.content, status_code=response.status_code, headers=dict(response.headers),
                        content_type=response.headers.get("content-type", "application/vnd.api+json"))
    openapi.validate_response(_mock_request(request), mock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[KlaviyoSandbox]:
    with running(KlaviyoSandbox(seed=7, clock=clock)) as sb:
        yield sb


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.close()


@pytest.fixture
def api(sandbox: KlaviyoSandbox, recorder: Recorder) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Klaviyo-API-Key {sandbox.api_key}", "revision": REVISION,
               "Accept": "application/vnd.api+json", "Content-Type": "application/vnd.api+json"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers, transport=recorder, timeout=10) as client:
        yield client


def event_body(email: str, metric: str, unique_id: str | None = None, **extra: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "properties": {"OrderId": "1001"},
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
        **extra,
    }
    if unique_id is not None:
        attributes["unique_id"] = unique_id
    return {"data": {"type": "event", "attributes": attributes}}


# --- the tier table is Klaviyo's ----------------------------------------------------------------
RATE = re.compile(r"Burst: `(\d+)/s`<br>Steady: `(\d+)/m`")
VARIANT = re.compile(r"Rate limits when using the `([^`=]+)=([^`]+)` parameter[^:]*:<br>Burst: `(\d+)/s`<br>"
                     r"Steady: `(\d+)/m`")


def test_rate_limit_tiers_are_the_specs(spec_doc: dict[str, Any]) -> None:
    for (method, template), tier in TIERS.items():
        operation = spec_doc["paths"][template][method.lower()]
        found = RATE.findall(operation["description"])
        assert found, f"{method} {template}: no rate limit in the description"
        assert Tier(int(found[0][0]), int(found[0][1])) == tier, f"{method} {template}"
        declared = operation["x-klaviyo-ratelimit"]
        assert (declared["burst"], declared["steady"]) == (f"{tier.burst}/s", f"{tier.steady}/m")
        variants = [(p, v, Tier(int(b), int(s))) for p, v, b, s in VARIANT.findall(operation["description"])]
        assert variants == VARIANTS.get((method, template), []), f"{method} {template} variants"


def test_every_sandbox_route_is_a_spec_operation(sandbox: KlaviyoSandbox, spec_doc: dict[str, Any]) -> None:
    served = {(m, r.path.replace(":path}", "}")) for r in sandbox.app.routes  # type: ignore[attr-defined]
              if r.path.startswith("/api/") for m in r.methods - {"HEAD"}}  # type: ignore[attr-defined]
    assert served == set(TIERS)
    for method, template in served:
        assert method.lower() in spec_doc["paths"][template], f"{method} {template} is not in the spec"


# --- the gate -------------------------------------------------------------------------------------
def test_missing_revision_is_a_klaviyo_400(api: httpx.Client, openapi: OpenAPI) -> None:
    response = api.get("/api/metrics", headers={"revision": ""})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "invalid" and error["source"] == {"parameter": "revision"}
    assert set(error) >= {"id", "status", "code", "title", "detail", "source"}
    validate_response(openapi, response.request, response)
    assert api.get("/api/metrics", headers={"revision": "2099-01-01"}).status_code == 400
    assert api.get("/api/metrics", headers={"revision": "2024-10-15.pre"}).status_code == 200


def test_wrong_or_missing_key_is_a_klaviyo_401(sandbox: KlaviyoSandbox, openapi: OpenAPI) -> None:
    for auth in ("Klaviyo-API-Key pk_wrong", "Bearer " + sandbox.api_key, None):
        headers = {"revision": REVISION, **({"Authorization": auth} if auth else {})}
        response = httpx.get(f"{sandbox.base_url}/api/accounts", headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] in ("not_authenticated", "authentication_failed")
        validate_response(openapi, response.request, response)


def test_burst_limit_is_per_endpoint_with_retry_after(api: httpx.Client, clock: FakeClock, openapi: OpenAPI,
                                                      sandbox: KlaviyoSandbox) -> None:
    # GET /api/metrics is 10/s burst, 150/m steady.
    for _ in range(10):
        ok = api.get("/api/metrics")
        assert ok.status_code == 200
    assert ok.headers["RateLimit-Limit"] == "150" and ok.headers["RateLimit-Remaining"] == "140"
    throttled = api.get("/api/metrics")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert "RateLimit-Remaining" not in throttled.headers  # Klaviyo replaces them with Retry-After
    assert throttled.json()["errors"][0]["code"] == "throttled"
    validate_response(openapi, throttled.request, throttled)
    assert api.get("/api/lists").status_code == 200  # another endpoint still answers
    clock.advance(1.0)
    assert api.get("/api/metrics").status_code == 200
    assert sandbox.stats.throttled == 1


def test_steady_limit_holds_across_bursts(api: httpx.Client, clock: FakeClock) -> None:
    clock.now = 60_000.0  # the start of a steady window, so the arithmetic below is exact
    statuses = []
    for _ in range(15):  # 15 seconds of full bursts = 150 = the steady limit
        statuses += [api.get("/api/metrics").status_code for _ in range(10)]
        clock.advance(1.0)
    assert statuses == [200] * 150
    refused = api.get("/api/metrics")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "45"  # until the minute turns
    clock.advance(45.0)
    assert api.get("/api/metrics").status_code == 200


def test_lower_tier_for_predictive_analytics_is_its_own_bucket(api: httpx.Client) -> None:
    params = {"additional-fields[profile]": "predictive_analytics"}
    assert [api.get("/api/profiles", params=params).status_code for _ in range(11)] == [200] * 10 + [429]
    assert api.get("/api/profiles").status_code == 200  # the 75/s bucket is untouched


# --- events -------------------------------------------------------------------------------------
def test_same_unique_id_is_stored_once(api: httpx.Client, sandbox: KlaviyoSandbox) -> None:
    before = len(sandbox.store.events)
    body = event_body("dup@example.com", "Placed Order", "order-77:placed", value=42.5)
    assert [api.post("/api/events", json=body).status_code for _ in range(3)] == [202, 202, 202]
    event_only = {k: v for k, v in body["data"]["attributes"].items() if k != "profile"}
    bulk = {"data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {"data": [{
        "type": "event-bulk-create",
        "attributes": {"profile": {"data": {"type": "profile", "attributes": {"email": "dup@example.com"}}},
                       "events": {"data": [{"type": "event", "attributes": event_only}] * 2}}}]}}}}
    assert api.post("/api/event-bulk-create-jobs", json=bulk).status_code == 202
    assert len(sandbox.store.events) == before + 1
    assert sandbox.store.duplicate_events == 4
    # The same unique_id under another metric is another event (Klaviyo: "same profile and metric").
    assert api.post("/api/events", json=event_body("dup@example.com", "Fulfilled Order",
                                                   "order-77:placed")).status_code == 202
    assert len(sandbox.store.events) == before + 2


def test_without_unique_id_one_event_per_profile_metric_and_second(api: httpx.Client, sandbox: KlaviyoSandbox) -> None:
    before = len(sandbox.store.events)
    at = "2026-03-01T10:00:00.250000+00:00"
    for _ in range(2):
        assert api.post("/api/events", json=event_body("t@example.com", "Viewed Product", time=at)).status_code == 202
    later = "2026-03-01T10:00:01+00:00"
    assert api.post("/api/events", json=event_body("t@example.com", "Viewed Product", time=later)).status_code == 202
    assert len(sandbox.store.events) == before + 2


def test_new_metric_names_appear_in_metrics(api: httpx.Client) -> None:
    names = {m["attributes"]["name"] for m in api.get("/api/metrics").json()["data"]}
    assert names == {"Placed Order"}
    assert api.post("/api/events", json=event_body("m@example.com", "Fulfilled Order", "f-1")).status_code == 202
    names = {m["attributes"]["name"] for m in api.get("/api/metrics").json()["data"]}
    assert names == {"Placed Order", "Fulfilled Order"}


def test_bulk_job_over_1000_events_is_refused(api: httpx.Client) -> None:
    events = [{"type": "event", "attributes": {
        "properties": {}, "unique_id": f"e{i}",
        "metric": {"data": {"type": "metric", "attributes": {"name": "Viewed Product"}}}}} for i in range(1001)]
    body = {"data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {"data": [{
        "type": "event-bulk-create",
        "attributes": {"profile": {"data": {"type": "profile", "attributes": {"email": "bulk@example.com"}}},
                       "events": {"data": events}}}]}}}}
    refused = api.post("/api/event-bulk-create-jobs", json=body)
    assert refused.status_code == 400 and "1000" in refused.json()["errors"][0]["detail"]


def test_events_page_by_cursor_and_filter_by_datetime(api: httpx.Client) -> None:
    for i in range(5):
        body = event_body(f"p{i}@example.com", "Placed Order", f"o-{i}", time=f"2026-04-0{i + 1}T12:00:00Z")
        assert api.post("/api/events", json=body).status_code == 202
    seen: list[str] = []
    params: dict[str, str] | None = {"filter": "greater-or-equal(datetime,2026-04-02T00:00:00Z)",
                                     "page[size]": "2", "sort": "datetime"}
    url = "/api/events"
    while True:
        page = api.get(url, params=params).json()
        seen += [e["attributes"]["datetime"][:10] for e in page["data"]]
        if "next" not in page["links"]:
            break
        url, params = page["links"]["next"], None  # httpx 0.28 drops a URL's query when params={}
    assert seen == ["2026-04-02", "2026-04-03", "2026-04-04", "2026-04-05"]
    bad = api.get("/api/events", params={"filter": "equals(nonsense,1)"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["source"] == {"parameter": "filter"}


# --- profiles, lists, catalog -----------------------------------------------------------------------
def test_catalog_is_seeded_from_the_shared_catalog_in_pages(api: httpx.Client) -> None:
    from storeops.sandbox.catalog import products

    ids: list[str] = []
    url: str | None = "/api/catalog-items"
    params: dict[str, str] | None = {"page[size]": "100"}
    while url:
        page = api.get(url, params=params).json()
        ids += [item["id"] for item in page["data"]]
        url, params = page["links"].get("next"), None
    assert len(ids) == len(set(ids)) == len(products())
    first = api.get(f"/api/catalog-items/{ids[0]}").json()["data"]["attributes"]
    assert first["price"] == float(min(v["price"] for v in products()[0]["variants"]))


def test_profiles_lists_and_conflicts(api: httpx.Client, sandbox: KlaviyoSandbox) -> None:
    created = api.post("/api/profiles", json={"data": {"type": "profile", "attributes": {
        "email": "new@example.com", "properties": {"tier": "gold"}}}})
    assert created.status_code == 201
    profile_id = created.json()["data"]["id"]
    again = api.post("/api/profiles", json={"data": {"type": "profile", "attributes": {"email": "NEW@example.com"}}})
    assert again.status_code == 409
    assert again.json()["errors"][0]["meta"]["duplicate_profile_id"] == profile_id
    patched = api.patch(f"/api/profiles/{profile_id}", json={"data": {"type": "profile", "id": profile_id,
                                                                      "attributes": {"properties": {"vip": True}}}})
    assert patched.json()["data"]["attributes"]["properties"] == {"tier": "gold", "vip": True}
    list_id = next(k.id for k in sandbox.store.lists.values() if k.name == "VIP Customers")
    member_body = {"data": [{"type": "profile", "id": profile_id}]}
    assert api.post(f"/api/lists/{list_id}/relationships/profiles", json=member_body).status_code == 204
    ids = [p["id"] for p in api.get(f"/api/lists/{list_id}/relationships/profiles").json()["data"]]
    assert profile_id in ids
    assert api.request("DELETE", f"/api/lists/{list_id}/relationships/profiles",
                       json=member_body).status_code == 204
    assert profile_id not in sandbox.store.lists[list_id].members
    unknown = api.post(f"/api/lists/{list_id}/relationships/profiles",
                       json={"data": [{"type": "profile", "id": "01NOPE"}]})
    assert unknown.status_code == 400
    assert api.get("/api/lists/XXXXXX/profiles").status_code == 404


def test_reset_returns_to_the_seed(api: httpx.Client, sandbox: KlaviyoSandbox) -> None:
    seeded = len(sandbox.store.events)
    api.post("/api/events", json=event_body("r@example.com", "Fulfilled Order", "r-1"))
    assert httpx.post(f"{sandbox.base_url}/_sandbox/reset").status_code == 200
    state = httpx.get(f"{sandbox.base_url}/_sandbox/state").json()
    assert len(state["events"]) == seeded and {m["name"] for m in state["metrics"]} == {"Placed Order"}


# --- every response is Klaviyo's shape ------------------------------------------------------------
def test_every_sandbox_response_validates_against_the_spec(api: httpx.Client, recorder: Recorder,
                                                           sandbox: KlaviyoSandbox, openapi: OpenAPI) -> None:
    store = sandbox.store
    profile_id = next(iter(store.profiles))
    list_id = next(iter(store.lists))
    item_id = next(iter(store.catalog_items))
    api.get("/api/accounts")
    api.post("/api/events", json=event_body("c@example.com", "Placed Order", "c-1", value=10, value_currency="USD"))
    api.get("/api/events", params={"include": "metric,profile", "page[size]": "5", "fields[event]": "datetime"})
    api.get("/api/metrics")
    api.get("/api/profiles", params={"filter": 'equals(email,"c@example.com")',
                                     "additional-fields[profile]": "subscriptions"})
    api.get("/api/profiles", params={"sort": "-updated", "page[size]": "3"})
    api.get(f"/api/profiles/{profile_id}")
    api.patch(f"/api/profiles/{profile_id}", json={"data": {"type": "profile", "id": profile_id,
                                                           "attributes": {"first_name": "Zoe"}}})
    api.post("/api/profile-import", json={"data": {"type": "profile", "attributes": {"email": "i@example.com"}}})
    api.post("/api/profile-import", json={"data": {"type": "profile", "attributes": {"email": "i@example.com",
                                                                                     "last_name": "Ng"}}})
    api.post("/api/profiles", json={"data": {"type": "profile", "attributes": {"email": "i@example.com"}}})  # 409
    api.post("/api/profile-suppression-bulk-create-jobs", json={"data": {
        "type": "profile-suppression-bulk-create-job",
        "attributes": {"profiles": {"data": [{"type": "profile", "attributes": {"email": "i@example.com"}}]}}}})
    api.get("/api/lists")
    api.get(f"/api/lists/{list_id}", params={"additional-fields[list]": "profile_count"})
    api.get(f"/api/lists/{list_id}/profiles", params={"page[size]": "2"})
    api.get(f"/api/lists/{list_id}/relationships/profiles")
    api.post(f"/api/lists/{list_id}/relationships/profiles", json={"data": [{"type": "profile", "id": profile_id}]})
    api.get("/api/segments")
    api.get("/api/catalog-items", params={"filter": "contains(title,'hoodie')", "include": "variants"})
    api.get(f"/api/catalog-items/{item_id}")
    api.patch(f"/api/catalog-items/{item_id}", json={"data": {"type": "catalog-item", "id": item_id,
                                                              "attributes": {"price": 19.99}}})
    created = api.post("/api/catalog-items", json={"data": {"type": "catalog-item", "attributes": {
        "external_id": "X-1", "title": "X", "description": "x", "url": "https://x.example/x", "price": 5}}})
    job = api.post("/api/catalog-item-bulk-create-jobs", json={"data": {
        "type": "catalog-item-bulk-create-job", "attributes": {"items": {"data": [
            {"type": "catalog-item", "attributes": {"external_id": "X-2", "title": "Y", "description": "y",
                                                    "url": "https://x.example/y"}},
            created.json()["data"] | {"attributes": {"external_id": "X-1", "title": "dup", "description": "d",
                                                     "url": "https://x.example/x"}, "id": None}]}}}})
    api.get(f"/api/catalog-item-bulk-create-jobs/{job.json()['data']['id']}")
    update = api.post("/api/catalog-item-bulk-update-jobs", json={"data": {
        "type": "catalog-item-bulk-update-job", "attributes": {"items": {"data": [
            {"type": "catalog-item", "id": item_id, "attributes": {"published": False}}]}}}})
    api.get(f"/api/catalog-item-bulk-update-jobs/{update.json()['data']['id']}")
    api.get("/api/catalog-items/$custom:::$default:::nope")  # 404
    api.get("/api/events", params={"page[size]": "0"})  # 400
    statuses = sorted({response.status_code for _, response in recorder.exchanges})
    assert statuses == [200, 201, 202, 204, 400, 404, 409]
    for request, response in recorder.exchanges:
        validate_response(openapi, request, response)
    assert job.json()["data"]["attributes"]["failed_count"] == 1  # the duplicate external_id
