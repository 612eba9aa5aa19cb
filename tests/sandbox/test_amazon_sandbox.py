"""The Amazon SP-API sandbox on its own: raw HTTP, checked against Amazon's models.

Bodies are validated with jsonschema against the models' definitions (Draft 4, the
dialect of Swagger 2.0 schemas, $refs resolved inside each model, strict: no properties
the model does not list) and against the JSON_LISTINGS_FEED schemas (Draft 7). A shared
fake clock drives rate limits, token expiry and feed progress without waiting.
"""

from __future__ import annotations

import copy
import gzip
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

from storeops.sandbox import catalog
from storeops.sandbox.amazon import AmazonSandbox
from storeops.sandbox.amazon.feeds import check_header, check_message

from sandbox_runtime import running

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "vendor-specs" / "amazon-sp-api"
pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason="shared/vendor-specs/amazon-sp-api is not available")
LISTINGS, INVENTORY, FEEDS = "listingsItems_2021-08-01.json", "fbaInventory.json", "feeds_2021-06-30.json"
MP = "ATVPDKIKX0DER"
ITEM = "/listings/2021-08-01/items/{seller}/{sku}"
SUMMARIES = "/fba/inventory/v1/summaries"


class FakeClock:
    def __init__(self, start: float = 5_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    return [_strict(v) for v in node] if isinstance(node, list) else node


class Models:
    """Validate a body against one definition of one Swagger model, or a feed schema."""

    def __init__(self) -> None:
        self.registry: Registry = Registry()
        for name in (LISTINGS, INVENTORY, FEEDS):
            doc = _strict(json.loads((SPECS / name).read_text()))
            self.registry = self.registry.with_resource(f"urn:{name}",
                                                        Resource.from_contents(doc, default_specification=DRAFT4))

    def errors(self, model: str, definition: str, body: Any) -> list[str]:
        validator = jsonschema.Draft4Validator({"$ref": f"urn:{model}#/definitions/{definition}"},
                                               registry=self.registry,
                                               format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
        return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


def feed_schema(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SPECS / name).read_text())
    return jsonschema.Draft7Validator(schema, registry=Registry().with_resource(
        name, Resource.from_contents(schema, default_specification=DRAFT7)))


@pytest.fixture(scope="module")
def models() -> Models:
    return Models()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[AmazonSandbox]:
    sb = AmazonSandbox(seed=11, clock=clock, products_limit=12)
    with running(sb):
        yield sb


@pytest.fixture
def http(sandbox: AmazonSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        yield client


def token(http: httpx.Client, sandbox: AmazonSandbox) -> str:
    c = sandbox.credentials()
    response = http.post("/auth/o2/token", data={"grant_type": "refresh_token", "refresh_token": c["refresh_token"],
                                                 "client_id": c["client_id"], "client_secret": c["client_secret"]})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def api(http: httpx.Client, sandbox: AmazonSandbox) -> httpx.Client:
    """The same client, with a live access token."""
    http.headers["x-amz-access-token"] = token(http, sandbox)
    return http


def item_path(sandbox: AmazonSandbox, sku: str) -> str:
    return ITEM.format(seller=sandbox.credentials()["seller_id"], sku=sku)


def clean_sku(sandbox: AmazonSandbox) -> str:
    return next(sku for sku, item in sandbox.store.items.items()
                if not item.issues and item.product_type == "SWEATSHIRT")


# --- seed and identity -----------------------------------------------------------------------
def test_seeds_a_listing_and_fba_record_for_every_catalog_sku() -> None:
    sandbox = AmazonSandbox(seed=1)
    skus = {v["sku"] for p in catalog.products() for v in p["variants"]}
    assert set(sandbox.store.items) == skus == set(sandbox.fba)
    assert sum(not item.issues for item in sandbox.store.items.values()) > 0.95 * len(skus)
    shirt_without_size = next(i for i in sandbox.store.items.values() if i.product_type == "SHIRT" and i.issues)
    assert {(i["code"], i["attributeNames"][0]) for i in shirt_without_size.issues} == {("90220", "color"),
                                                                                        ("90220", "size")}
    creds = sandbox.credentials()
    assert set(creds) == {"client_id", "client_secret", "refresh_token", "seller_id", "marketplace_id"}
    assert creds["marketplace_id"] == MP and creds["client_id"].startswith("amzn1.application-oa2-client.")
    assert AmazonSandbox(seed=1, products_limit=1).credentials() == creds  # stable per seed
    sandbox.base_url = "http://127.0.0.1:1"
    assert sandbox.describe()["lwa_token_url"] == "http://127.0.0.1:1/auth/o2/token"


# --- Login with Amazon and the access token -----------------------------------------------------
def test_lwa_exchange_and_its_errors(http: httpx.Client, sandbox: AmazonSandbox) -> None:
    c = sandbox.credentials()
    good = {"grant_type": "refresh_token", "refresh_token": c["refresh_token"], "client_id": c["client_id"],
            "client_secret": c["client_secret"]}
    ok = http.post("/auth/o2/token", data=good).json()
    assert ok["token_type"] == "bearer" and ok["expires_in"] == 3600 and ok["access_token"].startswith("Atza|")
    cases = [({**good, "client_secret": "nope"}, 401, "invalid_client"),
             ({**good, "refresh_token": "Atzr|nope"}, 400, "invalid_grant"),
             ({**good, "grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
             ({k: v for k, v in good.items() if k != "client_id"}, 400, "invalid_request")]
    for form, status, error in cases:
        response = http.post("/auth/o2/token", data=form)
        assert (response.status_code, set(response.json()), response.json()["error"]) == (
            status, {"error", "error_description"}, error)


def test_sp_api_refuses_missing_unknown_and_expired_tokens(http: httpx.Client, sandbox: AmazonSandbox,
                                                           models: Models) -> None:
    path = item_path(sandbox, clean_sku(sandbox))
    params = {"marketplaceIds": MP}
    live = token(http, sandbox)
    assert http.get(path, params=params, headers={"x-amz-access-token": live}).status_code == 200
    details = []
    for header in ({}, {"x-amz-access-token": "Atza|forged"}):
        response = http.get(path, params=params, headers=header)
        assert response.status_code == 403 and models.errors(LISTINGS, "ErrorList", response.json()) == []
        details.append(response.json()["errors"][0]["details"])
    http.post("/_sandbox/advance", json={"seconds": 3600})
    expired = http.get(path, params=params, headers={"x-amz-access-token": live})
    assert expired.status_code == 403
    assert expired.json()["errors"][0] == {"code": "Unauthorized", "message": "Access to requested resource is denied.",
                                           "details": "The access token you provided has expired."}
    assert details == ["", "The access token you provided is revoked, malformed or invalid."]
    other_seller = http.get(ITEM.format(seller="A000OTHERSELLER", sku="x"), params=params,
                            headers={"x-amz-access-token": token(http, sandbox)})
    assert other_seller.status_code == 403


# --- rate limits ---------------------------------------------------------------------------------
def test_eleven_requests_in_a_burst_get_quota_exceeded(api: httpx.Client, sandbox: AmazonSandbox, clock: FakeClock,
                                                       models: Models) -> None:
    path, params = item_path(sandbox, clean_sku(sandbox)), {"marketplaceIds": MP}
    responses = [api.get(path, params=params) for _ in range(11)]  # the clock stands still
    assert [r.status_code for r in responses] == [200] * 10 + [429]
    throttled = responses[-1]
    assert throttled.json() == {"errors": [{"code": "QuotaExceeded", "details": "",
                                            "message": "You exceeded your quota for the requested resource."}]}
    assert models.errors(LISTINGS, "ErrorList", throttled.json()) == []
    assert "retry-after" not in throttled.headers and "x-amzn-ratelimit-limit" not in throttled.headers
    assert throttled.headers["x-amzn-requestid"]
    assert responses[0].headers["x-amzn-ratelimit-limit"] == "5.0"
    # Other operations have their own buckets; this one refills at 5/s.
    assert api.get(SUMMARIES, params=summary_params()).status_code == 200
    clock.sleep(0.2)
    assert [api.get(path, params=params).status_code for _ in range(2)] == [200, 429]
    assert sandbox.stats.throttled == 2


def test_each_operation_has_the_usage_plan_of_its_model(api: httpx.Client, sandbox: AmazonSandbox) -> None:
    body = {"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                                                   "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}]}]}
    path = item_path(sandbox, clean_sku(sandbox))
    patches = [api.patch(path, params={"marketplaceIds": MP}, json=body).status_code for _ in range(6)]
    assert patches == [200] * 5 + [429]  # patchListingsItem: 5/s, burst 5
    summaries = [api.get(SUMMARIES, params=summary_params()).status_code for _ in range(3)]
    assert summaries == [200, 200, 429]  # getInventorySummaries: 2/s, burst 2


# --- listings --------------------------------------------------------------------------------------
def test_get_listing_renders_each_data_set_per_the_model(api: httpx.Client, sandbox: AmazonSandbox,
                                                         models: Models) -> None:
    sku = clean_sku(sandbox)
    everything = "summaries,attributes,issues,offers,fulfillmentAvailability,procurement,relationships,productTypes"
    item = api.get(item_path(sandbox, sku), params={"marketplaceIds": MP, "includedData": everything}).json()
    assert models.errors(LISTINGS, "Item", item) == []
    assert set(item) == {"sku", *everything.split(",")}
    assert item["summaries"][0]["productType"] == "SWEATSHIRT" and item["issues"] == []
    price = sandbox.store.items[sku].attributes["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"]
    assert item["offers"][0]["price"] == {"currencyCode": "USD", "amount": f"{price:.2f}"}
    default = api.get(item_path(sandbox, sku), params={"marketplaceIds": MP}).json()
    assert set(default) == {"sku", "summaries"}
    missing = api.get(item_path(sandbox, "NO-SUCH-SKU"), params={"marketplaceIds": MP})
    assert missing.status_code == 404 and models.errors(LISTINGS, "ErrorList", missing.json()) == []
    bad = api.get(item_path(sandbox, sku), params={"marketplaceIds": MP, "includedData": "prices"})
    assert bad.status_code == 400 and bad.headers["x-amzn-ratelimit-limit"] == "5.0"
    assert api.get(item_path(sandbox, sku)).status_code == 400  # marketplaceIds is required


@pytest.mark.parametrize(("attribute", "value", "message"), [
    ("item_name", [{"value": "x" * 201}], "has 201 characters; the maximum is 200"),
    ("bullet_point", [{"value": f"point {i}"} for i in range(6)], "has 6 values; the maximum is 5"),
    ("bullet_point", [{"value": "y" * 501}], "has 501 characters; the maximum is 500"),
    ("fulfillment_availability", [{"fulfillment_channel_code": "DEFAULT", "quantity": -1}], "greater than or equal"),
    ("fulfillment_availability", [{"fulfillment_channel_code": "DEFAULT", "quantity": 2.5}], "must be an integer"),
    ("purchasable_offer", [{"currency": "USD", "our_price": []}], "does not have enough values"),
    ("condition_type", [{"value": "brand_new"}], "is not a valid value"),
    ("brand", "Luma", "non-empty array of objects"),
])
def test_validation_preview_reports_the_issue_and_saves_nothing(api: httpx.Client, sandbox: AmazonSandbox,
                                                                models: Models, attribute: str, value: Any,
                                                                message: str) -> None:
    sku = clean_sku(sandbox)
    before = copy.deepcopy(sandbox.store.items[sku].attributes)
    attributes = {**before, attribute: value}
    response = api.put(item_path(sandbox, sku), params={"marketplaceIds": MP, "mode": "VALIDATION_PREVIEW",
                                                        "includedData": "identifiers,issues"},
                       json={"productType": "SWEATSHIRT", "requirements": "LISTING", "attributes": attributes})
    body = response.json()
    assert models.errors(LISTINGS, "ListingsItemSubmissionResponse", body) == []
    assert body["status"] == "INVALID" and body["identifiers"] == []
    assert [(i["code"], i["severity"], i["attributeNames"]) for i in body["issues"]] == [
        ("90000900", "ERROR", [attribute])]
    assert message in body["issues"][0]["message"]
    assert sandbox.store.items[sku].attributes == before


def test_put_creates_validates_and_previews(api: httpx.Client, sandbox: AmazonSandbox) -> None:
    template = sandbox.store.items[clean_sku(sandbox)].attributes
    new = item_path(sandbox, "NEW-HOODIE-1")
    params = {"marketplaceIds": MP}
    missing = {k: v for k, v in template.items() if k not in ("brand", "size")}
    invalid = api.put(new, params=params, json={"productType": "SWEATSHIRT", "attributes": missing}).json()
    assert invalid["status"] == "INVALID"
    assert sorted(i["attributeNames"][0] for i in invalid["issues"]) == ["brand", "size"]
    assert invalid["issues"][0]["message"] == "'brand' is required but not supplied."
    preview = api.put(new, params={**params, "mode": "VALIDATION_PREVIEW"},
                      json={"productType": "SWEATSHIRT", "attributes": template}).json()
    assert preview["status"] == "VALID" and "NEW-HOODIE-1" not in sandbox.store.items
    created = api.put(new, params=params, json={"productType": "SWEATSHIRT", "attributes": template}).json()
    assert created["status"] == "ACCEPTED" and "NEW-HOODIE-1" in sandbox.store.items
    assert api.put(new, params={**params, "includedData": "identifiers"},
                   json={"productType": "SWEATSHIRT", "attributes": template}).status_code == 400
    offer_only = {k: template[k] for k in ("condition_type", "purchasable_offer", "fulfillment_availability")}
    assert api.put(new, params=params, json={"productType": "SWEATSHIRT", "requirements": "LISTING_OFFER_ONLY",
                                             "attributes": offer_only}).json()["status"] == "ACCEPTED"
    assert api.delete(new, params=params).json()["status"] == "ACCEPTED"
    assert "NEW-HOODIE-1" not in sandbox.store.items


def test_patch_operations(api: httpx.Client, sandbox: AmazonSandbox, clock: FakeClock) -> None:
    sku = clean_sku(sandbox)
    path, params = item_path(sandbox, sku), {"marketplaceIds": MP}

    def patch(*patches: dict[str, Any], product_type: str = "SWEATSHIRT") -> dict[str, Any]:
        clock.sleep(0.2)  # patchListingsItem refills one request per 0.2 s
        return api.patch(path, params=params, json={"productType": product_type, "patches": list(patches)}).json()

    assert patch({"op": "merge", "path": "/attributes/fulfillment_availability",
                  "value": [{"fulfillment_channel_code": "AMAZON_NA"}]})["status"] == "ACCEPTED"
    assert [e["fulfillment_channel_code"] for e in sandbox.store.items[sku].attributes["fulfillment_availability"]] \
        == ["DEFAULT", "AMAZON_NA"]
    assert patch({"op": "delete", "path": "/attributes/fulfillment_availability",
                  "value": [{"fulfillment_channel_code": "AMAZON_NA"}]})["status"] == "ACCEPTED"
    assert patch({"op": "add", "path": "/attributes/material", "value": [{"value": "Wool"}]})["status"] == "ACCEPTED"
    assert patch({"op": "delete", "path": "/attributes/material"})["status"] == "ACCEPTED"
    assert "material" not in sandbox.store.items[sku].attributes
    nested = patch({"op": "replace", "path": "/attributes/item_name/0/value", "value": [{"value": "x"}]})
    assert nested["status"] == "INVALID" and "top-level" in nested["issues"][0]["message"]
    dropping_required = patch({"op": "delete", "path": "/attributes/brand"})
    assert dropping_required["status"] == "INVALID" and dropping_required["issues"][0]["code"] == "90220"
    clock.sleep(1)
    unknown = api.patch(item_path(sandbox, "NO-SUCH"), params=params, json={"productType": "PRODUCT", "patches": [
        {"op": "delete", "path": "/attributes/brand"}]}).json()
    assert unknown["status"] == "INVALID" and unknown["issues"][0]["code"] == "LISTING_NOT_FOUND"
    assert api.patch(path, params=params, json={"productType": "PRODUCT", "patches": []}).status_code == 400
    # An existing listing's old gaps (say, a requirement added after it was listed) do not
    # block an offer-only update; set one up directly, the API would not accept it.
    gappy = next(s for s, i in sandbox.store.items.items() if s != sku)
    sandbox.store.items[gappy].attributes.pop("size")
    quantity = {"op": "replace", "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}
    response = api.patch(item_path(sandbox, gappy), params=params, json={"productType": "PRODUCT",
                                                                          "patches": [quantity]}).json()
    assert response["status"] == "ACCEPTED"


def test_search_pages_and_filters(api: httpx.Client, sandbox: AmazonSandbox, clock: FakeClock,
                                  models: Models) -> None:
    path = f"/listings/2021-08-01/items/{sandbox.credentials()['seller_id']}"
    params: dict[str, Any] = {"marketplaceIds": MP, "pageSize": 20, "sortBy": "sku", "sortOrder": "ASC"}
    seen: list[str] = []
    while True:
        clock.sleep(0.2)  # searchListingsItems: 5/s
        body = api.get(path, params=params).json()
        assert models.errors(LISTINGS, "ItemSearchResults", body) == []
        seen += [item["sku"] for item in body["items"]]
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            break
        params["pageToken"] = token
    assert seen == sorted(sandbox.store.items)
    since = sandbox.now_dt() - timedelta(days=10)
    clock.sleep(0.2)
    recent = api.get(path, params={"marketplaceIds": MP, "pageSize": 20,
                                   "lastUpdatedAfter": since.isoformat()}).json()
    assert recent["numberOfResults"] == sum(1 for i in sandbox.store.items.values() if i.updated > since)


# --- FBA inventory -----------------------------------------------------------------------------------
def summary_params(**extra: Any) -> dict[str, Any]:
    return {"granularityType": "Marketplace", "granularityId": MP, "marketplaceIds": MP, **extra}


def test_inventory_summaries_page_and_filter(api: httpx.Client, sandbox: AmazonSandbox, clock: FakeClock,
                                             models: Models) -> None:
    params = summary_params(details="true")
    seen: list[str] = []
    while True:
        clock.sleep(0.5)  # stay inside the 2/s plan
        body = api.get(SUMMARIES, params=params).json()
        assert models.errors(INVENTORY, "GetInventorySummariesResponse", body) == []
        seen += [s["sellerSku"] for s in body["payload"]["inventorySummaries"]]
        assert all("inventoryDetails" in s for s in body["payload"]["inventorySummaries"])
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            break
        params["nextToken"] = token
    assert seen == sorted(sandbox.fba) and len(seen) > 50

    clock.sleep(1)
    first = api.get(SUMMARIES, params=summary_params()).json()
    assert "inventoryDetails" not in first["payload"]["inventorySummaries"][0]
    next_token = first["pagination"]["nextToken"]
    clock.sleep(31)  # nextToken lives 30 s
    expired = api.get(SUMMARIES, params=summary_params(nextToken=next_token))
    assert expired.status_code == 400 and models.errors(INVENTORY, "GetInventorySummariesResponse",
                                                        expired.json()) == []
    since = sandbox.now_dt() - timedelta(days=7)
    changed = api.get(SUMMARIES, params=summary_params(startDateTime=since.isoformat(), sellerSkus="ignored")).json()
    assert {s["sellerSku"] for s in changed["payload"]["inventorySummaries"]} == {
        sku for sku, r in sandbox.fba.items() if r.updated > since}
    clock.sleep(1)
    too_old = (sandbox.now_dt() - timedelta(days=600)).isoformat()
    assert api.get(SUMMARIES, params=summary_params(startDateTime=too_old)).status_code == 400
    clock.sleep(1)
    two = sorted(sandbox.fba)[:2]
    picked = api.get(SUMMARIES, params=summary_params(sellerSkus=",".join(two))).json()
    assert [s["sellerSku"] for s in picked["payload"]["inventorySummaries"]] == two
    clock.sleep(1)
    assert api.get(SUMMARIES, params=summary_params(granularityType="Store")).status_code == 400


# --- feeds -------------------------------------------------------------------------------------------
def submit_feed(api: httpx.Client, content: bytes, models: Models,
                content_type: str = "application/json; charset=UTF-8") -> str:
    created = api.post("/feeds/2021-06-30/documents", json={"contentType": content_type})
    assert created.status_code == 201 and models.errors(FEEDS, "CreateFeedDocumentResponse", created.json()) == []
    upload = httpx.put(created.json()["url"], content=content, headers={"content-type": content_type})
    assert upload.status_code == 200, upload.text
    feed = api.post("/feeds/2021-06-30/feeds", json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [MP],
                                                      "inputFeedDocumentId": created.json()["feedDocumentId"]})
    assert feed.status_code == 202 and models.errors(FEEDS, "CreateFeedResponse", feed.json()) == []
    return str(feed.json()["feedId"])


def report_of(api: httpx.Client, feed: dict[str, Any], models: Models) -> dict[str, Any]:
    document = api.get(f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}").json()
    assert models.errors(FEEDS, "FeedDocument", document) == [] and document["compressionAlgorithm"] == "GZIP"
    report = json.loads(gzip.decompress(httpx.get(document["url"]).content))
    assert list(feed_schema("listings-feed-processing-report-schema-v2.json").iter_errors(report)) == []
    return report  # type: ignore[no-any-return]


def test_the_example_feed_moves_through_its_states_and_applies(api: httpx.Client, sandbox: AmazonSandbox,
                                                               clock: FakeClock, models: Models) -> None:
    example = json.loads((SPECS / "listings-feed-schema-v2.example.json").read_text())
    skus = [s for s, i in sandbox.store.items.items() if not i.issues][:5]
    example["header"]["sellerId"] = sandbox.credentials()["seller_id"]
    for message, sku in zip(example["messages"], skus, strict=True):
        message["sku"] = sku
        if message.get("productType") == "LUGGAGE":
            message["productType"] = sandbox.store.items[sku].product_type
    example["messages"][2]["attributes"] = {**sandbox.store.items[skus[2]].attributes,
                                            **example["messages"][2]["attributes"]}
    assert list(feed_schema("listings-feed-schema-v2.json").iter_errors(example)) == []
    feed_id = submit_feed(api, json.dumps(example).encode(), models)

    def status() -> dict[str, Any]:
        body = api.get(f"/feeds/2021-06-30/feeds/{feed_id}").json()
        assert models.errors(FEEDS, "Feed", body) == []
        return body  # type: ignore[no-any-return]

    assert status()["processingStatus"] == "IN_QUEUE"
    clock.sleep(30)
    assert status()["processingStatus"] == "IN_PROGRESS"
    clock.sleep(30)
    feed = status()
    assert feed["processingStatus"] == "DONE" and feed["processingEndTime"] > feed["processingStartTime"]
    report = report_of(api, feed, models)
    assert report["summary"]["messagesProcessed"] == 5 and report["summary"]["messagesInvalid"] == 0
    assert skus[0] not in sandbox.store.items  # DELETE
    assert sandbox.store.items[skus[1]].attributes["fulfillment_availability"] == [  # PARTIAL_UPDATE
        {"fulfillment_channel_code": "DEFAULT", "quantity": 10}]
    assert sandbox.store.items[skus[2]].attributes["item_name"][0]["value"] == "My Title"  # UPDATE
    assert {item["sku"] for item in report["items"]} == set(skus[1:])
    assert all(models.errors(LISTINGS, "Item", item) == [] for item in report["items"])


def test_invalid_messages_are_reported_and_a_broken_document_is_fatal(api: httpx.Client, sandbox: AmazonSandbox,
                                                                      models: Models) -> None:
    sku = clean_sku(sandbox)
    seller = sandbox.credentials()["seller_id"]
    doc = {"header": {"sellerId": seller, "version": "2.0"}, "messages": [
        {"messageId": 1, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
         "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                      "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -5}]}]},
        {"messageId": 2, "sku": sku, "operationType": "DELETE", "productType": "SWEATSHIRT"},
        {"messageId": 3, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
         "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                      "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 8}]}]}]}
    feed_id = submit_feed(api, json.dumps(doc).encode(), models)
    api.post("/_sandbox/advance")
    report = report_of(api, api.get(f"/feeds/2021-06-30/feeds/{feed_id}").json(), models)
    assert report["summary"] | {} == {"errors": 2, "warnings": 0, "messagesProcessed": 3, "messagesAccepted": 1,
                                      "messagesInvalid": 2}
    assert [(i["messageId"], i.get("attributeName")) for i in report["issues"]] == [
        (1, "fulfillment_availability"), (2, None)]
    assert sandbox.store.items[sku].attributes["fulfillment_availability"][0]["quantity"] == 8

    fatal_id = submit_feed(api, b"not json at all", models)
    api.post("/_sandbox/advance")
    fatal = api.get(f"/feeds/2021-06-30/feeds/{fatal_id}").json()
    assert fatal["processingStatus"] == "FATAL"
    assert report_of(api, fatal, models)["summary"]["messagesProcessed"] == 0


@pytest.mark.parametrize("message", [
    {"messageId": 1, "sku": "A", "operationType": "DELETE"},
    {"messageId": 1, "sku": "A", "operationType": "UPDATE", "productType": "SHIRT", "attributes": {"a": []}},
    {"messageId": 1, "sku": "A", "operationType": "PARTIAL_UPDATE", "productType": "SHIRT", "attributes": {"a": []}},
    {"messageId": 1, "sku": "A", "operationType": "PATCH", "productType": "SHIRT",
     "patches": [{"op": "merge", "path": "/attributes/a", "value": [{}]}]},
    {"messageId": 0, "sku": "A", "operationType": "DELETE"},
    {"messageId": "1", "sku": "A", "operationType": "DELETE"},
    {"messageId": 1, "sku": "", "operationType": "DELETE"},
    {"messageId": 1, "sku": "A", "operationType": "UPSERT"},
    {"messageId": 1, "sku": "A", "operationType": "DELETE", "productType": "SHIRT"},
    {"messageId": 1, "sku": "A", "operationType": "UPDATE", "productType": "SHIRT"},
    {"messageId": 1, "sku": "A", "operationType": "UPDATE", "productType": "SHIRT", "attributes": {}},
    {"messageId": 1, "sku": "A", "operationType": "UPDATE", "productType": "SHIRT", "attributes": {"a": []},
     "patches": [{"op": "add", "path": "/attributes/a"}]},
    {"messageId": 1, "sku": "A", "operationType": "PARTIAL_UPDATE", "productType": "SHIRT", "attributes": {"a": []},
     "requirements": "LISTING"},
    {"messageId": 1, "sku": "A", "operationType": "PATCH", "productType": "SHIRT", "patches": []},
    {"messageId": 1, "sku": "A", "operationType": "PATCH", "productType": "SHIRT",
     "patches": [{"op": "move", "path": "/attributes/a"}]},
    {"messageId": 1, "sku": "A", "operationType": "PATCH", "productType": "SHIRT",
     "patches": [{"op": "add", "path": "/attributes/a", "value": {"not": "an array"}}]},
    {"messageId": 1, "sku": "A", "operationType": "PATCH", "productType": "SHIRT", "attributes": {"a": []},
     "patches": [{"op": "add", "path": "/attributes/a", "value": []}]},
    {"messageId": 1, "sku": "A", "operationType": "UPDATE", "productType": "", "attributes": {"a": []}},
    {"messageId": 1, "sku": "A", "operationType": "UPDATE", "productType": "SHIRT", "attributes": {"a": []},
     "requirements": "EVERYTHING"},
])
def test_message_checks_agree_with_the_published_schema(message: dict[str, Any]) -> None:
    schema_valid = feed_schema("listings-feed-message-schema-v2.json").is_valid(message)
    assert (check_message(message) == []) is schema_valid, check_message(message)
    document = {"header": {"sellerId": "A1", "version": "2.0"}, "messages": [message]}
    whole_valid = feed_schema("listings-feed-schema-v2.json").is_valid(document)
    assert (check_header(document) is None and check_message(message) == []) is whole_valid


@pytest.mark.parametrize("document", [
    {"messages": [{"messageId": 1, "sku": "A", "operationType": "DELETE"}]},
    {"header": {"sellerId": "A1", "version": "1.0"}, "messages": [{"messageId": 1, "sku": "A",
                                                                   "operationType": "DELETE"}]},
    {"header": {"sellerId": "A1", "version": "2.0"}, "messages": []},
    {"header": {"version": "2.0"}, "messages": [{"messageId": 1, "sku": "A", "operationType": "DELETE"}]},
    {"header": {"sellerId": "A1", "version": "2.0", "report": {"includedData": ["issues"]}},
     "messages": [{"messageId": 1, "sku": "A", "operationType": "DELETE"}]},
    {"header": {"sellerId": "A1", "version": "2.0", "report": {"includedData": ["issues"], "apiVersion": "2021-08-01"}},
     "messages": [{"messageId": 1, "sku": "A", "operationType": "DELETE"}]},
])
def test_document_checks_agree_with_the_published_schema(document: dict[str, Any]) -> None:
    valid = feed_schema("listings-feed-schema-v2.json").is_valid(document)
    assert (check_header(document) is None) is valid


def test_documents_live_behind_signed_urls(api: httpx.Client, sandbox: AmazonSandbox, clock: FakeClock) -> None:
    created = api.post("/feeds/2021-06-30/documents", json={"contentType": "application/json; charset=UTF-8"}).json()
    assert "x-amz-access-token" not in created["url"] and "X-Amz-Signature=" in created["url"]
    wrong_type = httpx.put(created["url"], content=b"{}", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in wrong_type.text
    tampered = httpx.put(created["url"].replace("X-Amz-Signature=", "X-Amz-Signature=0"), content=b"{}",
                         headers={"content-type": "application/json; charset=UTF-8"})
    assert tampered.status_code == 403
    clock.sleep(301)
    late = httpx.put(created["url"], content=b"{}", headers={"content-type": "application/json; charset=UTF-8"})
    assert late.status_code == 403 and "expired" in late.text
    unknown = api.post("/feeds/2021-06-30/feeds", json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [MP],
                                                         "inputFeedDocumentId": "amzn1.tortuga.4.na.nope"})
    assert unknown.status_code == 400
    other_type = api.post("/feeds/2021-06-30/feeds", json={"feedType": "POST_PRODUCT_DATA", "marketplaceIds": [MP],
                                                            "inputFeedDocumentId": created["feedDocumentId"]})
    assert other_type.status_code == 400


def test_a_queued_feed_can_be_cancelled_once(api: httpx.Client, sandbox: AmazonSandbox, models: Models) -> None:
    doc = {"header": {"sellerId": sandbox.credentials()["seller_id"], "version": "2.0"},
           "messages": [{"messageId": 1, "sku": clean_sku(sandbox), "operationType": "DELETE"}]}
    feed_id = submit_feed(api, json.dumps(doc).encode(), models)
    assert api.delete(f"/feeds/2021-06-30/feeds/{feed_id}").status_code == 200
    api.post("/_sandbox/advance")
    assert api.get(f"/feeds/2021-06-30/feeds/{feed_id}").json()["processingStatus"] == "CANCELLED"
    assert api.delete(f"/feeds/2021-06-30/feeds/{feed_id}").status_code == 400
    assert clean_sku(sandbox) in sandbox.store.items


def test_feeds_progress_with_scaled_real_time() -> None:
    sandbox = AmazonSandbox(seed=2, time_scale=2000, products_limit=2)
    with running(sandbox), httpx.Client(base_url=sandbox.base_url, timeout=10) as http:
        http.headers["x-amz-access-token"] = token(http, sandbox)
        doc = {"header": {"sellerId": sandbox.credentials()["seller_id"], "version": "2.0"},
               "messages": [{"messageId": 1, "sku": next(iter(sandbox.store.items)), "operationType": "DELETE"}]}
        created = http.post("/feeds/2021-06-30/documents", json={"contentType": "application/json"}).json()
        httpx.put(created["url"], content=json.dumps(doc).encode(), headers={"content-type": "application/json"})
        feed_id = http.post("/feeds/2021-06-30/feeds", json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [MP],
                                                             "inputFeedDocumentId": created["feedDocumentId"]}
                            ).json()["feedId"]
        time.sleep(0.1)  # 60 sandbox seconds at time_scale 2000 take 30 ms
        assert http.get(f"/feeds/2021-06-30/feeds/{feed_id}").json()["processingStatus"] == "DONE"


# --- control routes ------------------------------------------------------------------------------------
def test_faults_hit_sp_api_only_and_reset_restores_the_seed(http: httpx.Client, sandbox: AmazonSandbox,
                                                            models: Models) -> None:
    sku = clean_sku(sandbox)
    http.post("/_sandbox/faults", json={"fail_next": 2, "statuses": [500]}).raise_for_status()
    http.headers["x-amz-access-token"] = token(http, sandbox)  # LWA is not faulted
    failed = http.get(item_path(sandbox, sku), params={"marketplaceIds": MP})
    assert failed.status_code == 500 and failed.json()["errors"][0]["code"] == "InternalFailure"
    assert models.errors(LISTINGS, "ErrorList", failed.json()) == [] and "retry-after" not in failed.headers
    assert http.get(item_path(sandbox, sku), params={"marketplaceIds": MP}).status_code == 500
    assert http.delete(item_path(sandbox, sku), params={"marketplaceIds": MP}).json()["status"] == "ACCEPTED"
    assert http.get("/_sandbox/state").json()["listings"].get(sku) is None
    http.post("/_sandbox/reset").raise_for_status()
    state = http.get("/_sandbox/state").json()
    assert sku in state["listings"] and state["lwa_exchanges"] == 0
    stats = http.get("/_sandbox/stats").json()
    assert stats["requests_total"] == 0
