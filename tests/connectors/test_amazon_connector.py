"""Amazon SP-API connector against its sandbox: conformance, contract, limits, auth, feeds.

Contract checks: openapi-core cannot read Swagger 2.0, so requests and responses are
checked against Amazon's models (shared/vendor-specs/amazon-sp-api) by `SwaggerContract`
below: the operation is found by method + path template; query and path parameters are
checked against their Swagger declarations (undeclared names, required, type, enum,
csv arrays with min/maxItems, integer bounds, date-time); JSON bodies and responses are
validated with jsonschema (Draft 4, the dialect Swagger 2.0 schemas use) after resolving
$refs into the model's own "definitions" with a referencing.Registry. Schemas are made
strict on the way (additionalProperties: false wherever a model lists properties and
says nothing else) so a misspelt field fails too. The feed document the connector
uploads and the report it downloads are checked against the JSON_LISTINGS_FEED schemas.

Every test shares one fake clock between the sandbox and the connector's limiters and
token cache, so real rate limits and token lifetimes are exercised without waiting.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

from storeops.connectors.amazon import (
    FEED_BREAK_EVEN,
    USAGE_PLANS,
    AmazonClient,
    OperationLimiters,
)
from storeops.core.errors import ConfigError, InvalidInput, VendorError
from storeops.engine.errors import Action, FailureType, classify
from storeops.engine.retry import RetryPolicy
from storeops.sandbox.amazon import AmazonSandbox
from storeops.sandbox.common import VendorSandbox

from conformance import ConnectorConformance
from sandbox_runtime import running

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "vendor-specs" / "amazon-sp-api"
MODELS = ("listingsItems_2021-08-01.json", "fbaInventory.json", "feeds_2021-06-30.json")
pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason="shared/vendor-specs/amazon-sp-api is not available")
PRODUCTS = 20  # the first 20 catalog products: 300 SKUs, six pages of FBA summaries, a fast seed


# --- test plumbing -----------------------------------------------------------------------------
class FakeClock:
    """Shared by sandbox (rate limits, token expiry, feed progress) and connector."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(seconds, 0.0)

    def advance_to(self, moment: float) -> None:
        with self._lock:
            self.now = max(self.now, moment)


class Recorder(httpx.HTTPTransport):
    """A real transport that keeps every exchange for the contract checks."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.read()
        with self._lock:
            self.exchanges.append((request, response))
        return response


def client_for(sandbox: AmazonSandbox, clock: FakeClock, *, limiters: OperationLimiters | None = None,
               transport: httpx.BaseTransport | None = None, refresh_token: str | None = None,
               **kwargs: Any) -> AmazonClient:
    c = sandbox.credentials()
    return AmazonClient(c["seller_id"], c["marketplace_id"], c["client_id"], c["client_secret"],
                        refresh_token or c["refresh_token"], sandbox.base_url, sandbox.describe()["lwa_token_url"],
                        limiters=limiters or OperationLimiters(c["seller_id"], clock=clock, sleep=clock.sleep),
                        clock=clock, transport=transport, **kwargs)


def stats(sandbox: VendorSandbox) -> dict[str, Any]:
    return httpx.get(f"{sandbox.base_url}/_sandbox/stats", timeout=5).json()  # type: ignore[no-any-return]


def set_faults(sandbox: VendorSandbox, **faults: Any) -> None:
    httpx.post(f"{sandbox.base_url}/_sandbox/faults", json=faults, timeout=5).raise_for_status()


def advance(sandbox: VendorSandbox, seconds: float | None = None) -> None:
    body = {} if seconds is None else {"seconds": seconds}
    httpx.post(f"{sandbox.base_url}/_sandbox/advance", json=body, timeout=5).raise_for_status()


# --- the Swagger 2.0 contract --------------------------------------------------------------------
def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class SwaggerContract:
    def __init__(self) -> None:
        self.registry: Registry = Registry()
        self.operations: list[tuple[str, re.Pattern[str], str, tuple[str, ...], dict[str, Any]]] = []
        for name in MODELS:
            doc = json.loads((SPECS / name).read_text())
            uri = f"urn:sp-api:{name}"
            self.registry = self.registry.with_resource(uri, Resource.from_contents(
                _strict(doc), default_specification=DRAFT4))
            for template, item in doc["paths"].items():
                regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")
                for method, op in item.items():
                    self.operations.append((method.upper(), regex, uri, ("paths", template, method), op))

    def operation(self, method: str,
                  raw_path: str) -> tuple[str, tuple[str, ...], dict[str, Any], dict[str, str]] | None:
        for op_method, regex, uri, pointer, op in self.operations:
            match = regex.match(raw_path)
            if op_method == method and match:
                return uri, pointer, op, match.groupdict()
        return None

    def _validate(self, uri: str, location: tuple[str, ...], instance: Any) -> list[str]:
        validator = jsonschema.Draft4Validator({"$ref": f"{uri}#/{_pointer(*location)}"}, registry=self.registry,
                                               format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]

    def check(self, request: httpx.Request, response: httpx.Response) -> tuple[str, list[str]]:
        """(operationId, problems) for one SP-API exchange."""
        raw_path = request.url.raw_path.decode().split("?", 1)[0]
        found = self.operation(request.method, raw_path)
        if found is None:
            return "?", [f"{request.method} {raw_path} is not an operation of the models"]
        uri, pointer, op, path_params = found
        problems = self._check_request(uri, pointer, op, request, path_params)
        problems += self._check_response(uri, pointer, op, response)
        return op["operationId"], problems

    def _check_request(self, uri: str, pointer: tuple[str, ...], op: dict[str, Any], request: httpx.Request,
                       path_params: dict[str, str]) -> list[str]:
        problems = []
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        params = op.get("parameters", [])
        declared = {p["name"] for p in params if p["in"] == "query"}
        problems += [f"undeclared query parameter {name!r}" for name in query if name not in declared]
        if "x-amz-access-token" not in request.headers:
            problems.append("no x-amz-access-token header")
        for index, param in enumerate(params):
            name, where = param["name"], param["in"]
            if where == "query":
                if name not in query:
                    problems += [f"missing required query parameter {name!r}"] if param.get("required") else []
                    continue
                if len(query[name]) != 1:
                    problems.append(f"{name!r} repeated; Swagger csv arrays are one comma-separated value")
                problems += [f"{name}: {p}" for p in _check_value(param, query[name][0])]
            elif where == "path":
                problems += [f"{name}: {p}" for p in _check_value(param, unquote(path_params[name]))]
            elif where == "body":
                if not request.headers.get("content-type", "").startswith("application/json"):
                    problems.append("body is not sent as application/json")
                body = json.loads(request.content)
                problems += [f"request body: {p}" for p in self._validate(
                    uri, (*pointer, "parameters", str(index), "schema"), body)]
        return problems

    def _check_response(self, uri: str, pointer: tuple[str, ...], op: dict[str, Any],
                        response: httpx.Response) -> list[str]:
        spec = op["responses"].get(str(response.status_code))
        if spec is None:
            return [f"status {response.status_code} is not declared for {op['operationId']}"]
        problems = [f"response header {h} missing" for h in spec.get("headers", {}) if h not in response.headers]
        if "schema" in spec:
            problems += [f"response {response.status_code}: {p}" for p in self._validate(
                uri, (*pointer, "responses", str(response.status_code), "schema"),
                response.json())]
        return problems


def _check_value(param: dict[str, Any], raw: str) -> list[str]:
    kind = param.get("type")
    if kind == "array":
        values = raw.split(",")
        problems = []
        if "maxItems" in param and len(values) > param["maxItems"]:
            problems.append(f"more than {param['maxItems']} items")
        if "minItems" in param and len(values) < param["minItems"]:
            problems.append(f"fewer than {param['minItems']} items")
        return problems + [p for v in values for p in _check_value(param.get("items", {}), v)]
    if "enum" in param and raw not in param["enum"]:
        return [f"{raw!r} not in {param['enum']}"]
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", raw):
            return [f"{raw!r} is not an integer"]
        value = int(raw)
        if value < param.get("minimum", value) or value > param.get("maximum", value):
            return [f"{value} out of range"]
    if kind == "boolean" and raw not in ("true", "false"):
        return [f"{raw!r} is not a boolean"]
    if param.get("format") == "date-time" and not jsonschema.Draft4Validator.FORMAT_CHECKER.conforms(raw, "date-time"):
        return [f"{raw!r} is not an RFC 3339 date-time"]
    return []


@pytest.fixture(scope="module")
def contract() -> SwaggerContract:
    return SwaggerContract()


def feed_schema_validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SPECS / name).read_text())
    return jsonschema.Draft7Validator(schema, registry=Registry().with_resource(
        name, Resource.from_contents(schema, default_specification=DRAFT7)))


def check_exchanges(contract: SwaggerContract, recorder: Recorder) -> tuple[set[str], list[str]]:
    """Check every recorded exchange; returns (operations seen, problems)."""
    seen: set[str] = set()
    problems: list[str] = []
    feed = feed_schema_validator("listings-feed-schema-v2.json")
    message = feed_schema_validator("listings-feed-message-schema-v2.json")
    report = feed_schema_validator("listings-feed-processing-report-schema-v2.json")
    for request, response in recorder.exchanges:
        path = request.url.path
        if path == "/auth/o2/token":
            form = parse_qs(request.content.decode())
            if set(form) != {"grant_type", "refresh_token", "client_id", "client_secret"}:
                problems.append(f"LWA form fields: {sorted(form)}")
            if response.status_code == 200 and set(response.json()) < {"access_token", "expires_in", "token_type"}:
                problems.append(f"LWA answer: {response.json()}")
        elif path.startswith("/_s3/") and request.method == "PUT":
            document = json.loads(request.content)
            problems += [f"feed document: {e.message}" for e in feed.iter_errors(document)]
            problems += [f"feed message: {e.message}" for m in document["messages"] for e in message.iter_errors(m)]
            seen.add("upload")
        elif path.startswith("/_s3/") and request.method == "GET":
            body = json.loads(gzip.decompress(response.content))
            problems += [f"processing report: {e.message}" for e in report.iter_errors(body)]
            seen.add("download")
        else:
            operation, found = contract.check(request, response)
            seen.add(operation)
            problems += [f"{operation} ({response.status_code}): {p}" for p in found]
    return seen, problems


# --- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[AmazonSandbox]:
    sb = AmazonSandbox(seed=7, clock=clock, products_limit=PRODUCTS)
    with running(sb):
        yield sb


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(sandbox: AmazonSandbox, clock: FakeClock, recorder: Recorder) -> Iterator[AmazonClient]:
    amazon = client_for(sandbox, clock, transport=recorder)
    yield amazon
    amazon.close()


def buyable_skus(sandbox: AmazonSandbox, count: int) -> list[str]:
    return [sku for sku, item in sandbox.store.items.items() if not item.issues][:count]


# --- conformance ---------------------------------------------------------------------------------
class TestAmazonConformance(ConnectorConformance):
    vendor = "amazon"

    def make_sandbox(self) -> VendorSandbox:
        self.clock = FakeClock()
        return AmazonSandbox(seed=3, clock=self.clock, products_limit=PRODUCTS)

    def make_connector(self, sandbox: VendorSandbox, *, valid: bool = True) -> Any:
        assert isinstance(sandbox, AmazonSandbox)
        return client_for(sandbox, self.clock, refresh_token=None if valid else "Atzr|revoked-by-the-seller")

    def read_all(self, connector: Any) -> list[Any]:
        return connector.inventory_summaries()  # type: ignore[no-any-return]

    def expected_all(self, sandbox: VendorSandbox) -> int:
        assert isinstance(sandbox, AmazonSandbox)
        return len(sandbox.fba)  # 300 summaries: 6 pages of 50

    def test_429_waits_as_told_then_succeeds(self, sandbox: VendorSandbox) -> None:
        """Amazon's 429 carries no Retry-After (the models declare only x-amzn-RequestId on
        it), so nothing "tells" a wait. The connector fills VendorError.retry_after with the
        time one request of quota takes to refill (1 / the operation's rate: 0.2 s for
        searchListingsItems at 5/s) and the engine waits exactly that, not its blind backoff."""
        self.set_faults(sandbox, fail_next=1, statuses=[429], retry_after_s=2)
        raw = httpx.get(f"{sandbox.base_url}/listings/2021-08-01/items/x", timeout=5)
        assert raw.status_code == 429 and "retry-after" not in raw.headers
        assert raw.json()["errors"][0]["code"] == "QuotaExceeded"

        connector = self.make_connector(sandbox)
        self.set_faults(sandbox, fail_next=1, statuses=[429], retry_after_s=2)
        waits: list[float] = []
        marker = object()

        def call() -> object:
            connector.check()
            return marker

        assert RetryPolicy(max_attempts=3).call(call, sleep=waits.append) is marker
        assert waits == [pytest.approx(1 / USAGE_PLANS["searchListingsItems"].rate_per_s)]


# --- contract --------------------------------------------------------------------------------------
def test_every_exchange_validates_against_the_models(sandbox: AmazonSandbox, client: AmazonClient,
                                                     recorder: Recorder, contract: SwaggerContract) -> None:
    skus = buyable_skus(sandbox, FEED_BREAK_EVEN + 1)
    client.check()
    assert client.get_listing(skus[0]) is not None
    assert client.get_listing("NO-SUCH-SKU") is None  # 404 ErrorList
    new_attributes = {**sandbox.store.items[skus[0]].attributes}
    assert client.validate_listing("NEW-SKU-1", "SWEATSHIRT", new_attributes) == []
    assert client.put_listing("NEW-SKU-1", "SWEATSHIRT", new_attributes).status == "ACCEPTED"
    assert client.patch_listing("NEW-SKU-1", [{"op": "delete", "path": "/attributes/list_price"}]).accepted
    assert client.delete_listing("NEW-SKU-1").status == "ACCEPTED"
    assert client.listings_changed_since(sandbox.now_dt() - timedelta(days=2))
    assert client.inventory_summaries(sandbox.now_dt() - timedelta(days=3))
    assert client.set_quantities({sku: 5 for sku in skus[:2]}).path == "patch"
    update = client.set_quantities({sku: 4 for sku in skus})
    assert update.path == "feed" and update.feed_id
    assert client.feed_report(update.feed_id) is None  # still IN_QUEUE
    advance(sandbox)
    assert client.feed_report(update.feed_id)["summary"]["messagesAccepted"] == len(skus)  # type: ignore[index]
    # Error responses must match the models too: 400 (a store this seller does not sell
    # in), 503 (injected), 404 above.
    c = sandbox.credentials()
    canada = AmazonClient(c["seller_id"], "A2EUQ1WTGCTBG2", c["client_id"], c["client_secret"], c["refresh_token"],
                          sandbox.base_url, sandbox.describe()["lwa_token_url"], limiters=client.limiters,
                          clock=client.tokens.clock, transport=recorder)
    with pytest.raises(VendorError) as caught:
        canada.get_listing(skus[0])
    assert caught.value.status == 400
    set_faults(sandbox, fail_next=1, statuses=[503])
    with pytest.raises(VendorError):
        client.get_listing(skus[0])

    seen, problems = check_exchanges(contract, recorder)
    assert problems == []
    assert seen >= {"getListingsItem", "putListingsItem", "patchListingsItem", "deleteListingsItem",
                    "searchListingsItems", "getInventorySummaries", "createFeedDocument", "createFeed", "getFeed",
                    "getFeedDocument", "upload", "download"}


def test_validation_preview_returns_issues_and_saves_nothing(sandbox: AmazonSandbox, client: AmazonClient) -> None:
    sku = buyable_skus(sandbox, 1)[0]
    before = copy.deepcopy(sandbox.store.items[sku].attributes)
    broken = {**before, "item_name": [{"value": "T" * 201, "marketplace_id": "ATVPDKIKX0DER"}],
              "bullet_point": [{"value": f"point {i}"} for i in range(6)]}
    issues = client.validate_listing(sku, sandbox.store.items[sku].product_type, broken)
    assert {(i["code"], i["attributeNames"][0]) for i in issues} == {("90000900", "item_name"),
                                                                      ("90000900", "bullet_point")}
    assert all(i["severity"] == "ERROR" for i in issues)
    good = {**before, "item_name": [{"value": "A better title", "marketplace_id": "ATVPDKIKX0DER"}]}
    assert client.validate_listing(sku, sandbox.store.items[sku].product_type, good) == []
    assert client.validate_listing("NEVER-CREATED", "SHIRT", good) == []
    priced = {**before, "purchasable_offer": [{"currency": "USD", "marketplace_id": "ATVPDKIKX0DER", "our_price": [
        {"schedule": [{"value_with_tax": Decimal("19.99")}]}]}]}  # money stays Decimal up to the wire
    assert client.validate_listing(sku, sandbox.store.items[sku].product_type, priced) == []
    assert sandbox.store.items[sku].attributes == before
    assert "NEVER-CREATED" not in sandbox.store.items


def test_set_quantities_patches_few_skus_and_feeds_many(sandbox: AmazonSandbox, client: AmazonClient,
                                                        clock: FakeClock) -> None:
    few = buyable_skus(sandbox, FEED_BREAK_EVEN)
    before = client.calls
    update = client.set_quantities({sku: 11 for sku in few})
    assert update.path == "patch" and all(s.accepted for s in update.submissions.values())
    assert client.calls - before <= FEED_BREAK_EVEN + 1  # the patches (+ one token exchange)
    assert all(sandbox.store.items[sku].attributes["fulfillment_availability"][0]["quantity"] == 11 for sku in few)

    many = buyable_skus(sandbox, 40)
    update = client.set_quantities({sku: i for i, sku in enumerate(many)})
    assert update.path == "feed"
    feed_id = update.feed_id
    assert feed_id is not None
    assert client.feed_status(feed_id)["processingStatus"] == "IN_QUEUE"
    clock.sleep(31)
    assert client.feed_status(feed_id)["processingStatus"] == "IN_PROGRESS"
    clock.sleep(30)
    assert client.feed_status(feed_id)["processingStatus"] == "DONE"
    report = client.feed_report(feed_id)
    assert report is not None and report["summary"]["messagesAccepted"] == 40 and report["issues"] == []
    assert [sandbox.store.items[sku].attributes["fulfillment_availability"][0]["quantity"] for sku in many] \
        == list(range(40))


def test_bad_quantities_are_refused_before_any_call(client: AmazonClient) -> None:
    for quantity in (-1, 1.5, True, "3"):
        with pytest.raises(InvalidInput):
            client.set_quantities({"MH01-XS-Black": quantity})  # type: ignore[dict-item]
    assert client.calls == 0


def test_inventory_changed_since_reads_only_changes(sandbox: AmazonSandbox, client: AmazonClient) -> None:
    since = sandbox.now_dt() - timedelta(days=5)
    expected = {sku for sku, r in sandbox.fba.items() if r.updated > since}
    assert {s["sellerSku"] for s in client.inventory_summaries(since)} == expected
    marker = sandbox.now_dt()
    sku = next(iter(sandbox.fba))
    sandbox.set_fba_quantity(sku, 99)
    changed = client.inventory_summaries(marker - timedelta(seconds=1))
    assert [(s["sellerSku"], s["inventoryDetails"]["fulfillableQuantity"]) for s in changed] == [(sku, 99)]
    with pytest.raises(InvalidInput):
        client.inventory_summaries(datetime(2026, 1, 1))  # naive datetimes are refused


# --- auth ------------------------------------------------------------------------------------------
def test_token_is_refreshed_before_it_expires(sandbox: AmazonSandbox, client: AmazonClient, clock: FakeClock,
                                              recorder: Recorder) -> None:
    sku = buyable_skus(sandbox, 1)[0]
    client.get_listing(sku)
    clock.sleep(3600 - 30)  # inside the refresh margin: the cached token is not used again
    client.get_listing(sku)
    assert sandbox.lwa.exchanges == 2
    assert [r.status_code for _, r in recorder.exchanges if r.status_code >= 400] == []


def test_expired_token_gets_403_then_the_engine_refreshes(sandbox: AmazonSandbox, client: AmazonClient,
                                                          recorder: Recorder, contract: SwaggerContract) -> None:
    sku = buyable_skus(sandbox, 1)[0]
    client.get_listing(sku)
    advance(sandbox, 3601)  # Amazon's clock moves on; ours still trusts the cached token
    with pytest.raises(VendorError) as caught:
        client.get_listing(sku)
    assert caught.value.status == 403
    assert "expired" in json.loads(caught.value.body or "{}")["errors"][0]["details"]
    resolution = classify(caught.value)  # the Amazon rows are registered by the connector
    assert (resolution.action, resolution.failure_type) == (Action.REFRESH_AUTH, FailureType.CONFIG)
    assert client.get_listing(sku) is not None  # the 403 dropped the cached token: a fresh one now
    assert sandbox.lwa.exchanges == 2

    advance(sandbox, 3601)  # again, now through the engine's refresh_auth hook
    listing = RetryPolicy().call(lambda: client.get_listing(sku), refresh_auth=client.refresh_auth,
                                                    sleep=lambda _: None)
    assert listing is not None and listing["sku"] == sku
    assert sandbox.lwa.exchanges == 3
    assert check_exchanges(contract, recorder)[1] == []  # the 403s match the model too


def test_revoked_refresh_token_is_a_config_error(sandbox: AmazonSandbox, clock: FakeClock) -> None:
    amazon = client_for(sandbox, clock, refresh_token="Atzr|revoked")
    with pytest.raises(ConfigError, match="invalid_grant"):
        amazon.get_listing("MH01-XS-Black")
    c = sandbox.credentials()
    wrong_secret = AmazonClient(c["seller_id"], c["marketplace_id"], c["client_id"], "wrong", c["refresh_token"],
                                sandbox.base_url, sandbox.describe()["lwa_token_url"], clock=clock)
    with pytest.raises(ConfigError, match="invalid_client"):
        wrong_secret.check()


# --- rate limits -----------------------------------------------------------------------------------
def test_connector_driven_at_ten_times_the_rate_is_never_throttled(sandbox: AmazonSandbox, client: AmazonClient,
                                                                   clock: FakeClock) -> None:
    plan = USAGE_PLANS["getListingsItem"]
    demand_per_s = 10 * plan.rate_per_s
    skus = list(sandbox.store.items)[:120]
    start = clock()
    for i, sku in enumerate(skus):
        clock.advance_to(start + i / demand_per_s)  # callers ask at 50 requests/s
        assert client.get_listing(sku, ["summaries"]) is not None
    assert stats(sandbox)["throttled"] == 0
    # ...and the limiter really held it to the usage plan, not below some much lower rate.
    elapsed = clock() - start
    assert (len(skus) - plan.burst) / plan.rate_per_s <= elapsed <= (len(skus) - plan.burst) / (0.85 * plan.rate_per_s)


def test_two_clients_of_one_seller_share_the_limit(sandbox: AmazonSandbox, clock: FakeClock) -> None:
    shared = OperationLimiters(sandbox.credentials()["seller_id"], clock=clock, sleep=clock.sleep)
    clients = [client_for(sandbox, clock, limiters=shared) for _ in range(2)]
    skus = buyable_skus(sandbox, 60)
    errors: list[BaseException] = []

    def work(amazon: AmazonClient, chunk: list[str]) -> None:
        try:
            for sku in chunk:
                amazon.patch_listing(sku, [{"op": "replace", "path": "/attributes/fulfillment_availability",
                                            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}]}])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c, skus[i::2])) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert stats(sandbox)["throttled"] == 0


def test_the_contract_checker_catches_drift(contract: SwaggerContract) -> None:
    """The checks above are only worth something if they fail on a wrong exchange."""
    path = "/listings/2021-08-01/items/A1B2C3/SKU-1"
    request = httpx.Request("GET", f"http://sandbox{path}?marketplaceIds=ATVPDKIKX0DER&includedData=summaries,"
                            "prices&pageSize=2", headers={"x-amz-access-token": "Atza|x"})
    response = httpx.Response(200, json={"sku": "SKU-1", "fulfillmentAvailability": [
        {"fulfillmentChannelCode": "DEFAULT", "quantity": -1, "qty": 3}]},
        headers={"x-amzn-RequestId": "r", "x-amzn-RateLimit-Limit": "5.0"})
    operation, problems = contract.check(request, response)
    assert operation == "getListingsItem"
    assert any("undeclared query parameter 'pageSize'" in p for p in problems)
    assert any("'prices' not in" in p for p in problems)
    assert any("-1 is less than the minimum" in p for p in problems)
    assert any("'qty' was unexpected" in p for p in problems)
    no_header = httpx.Response(429, json={"errors": [{"code": "QuotaExceeded", "message": "m"}]})
    assert "response header x-amzn-RequestId missing" in contract.check(request, no_header)[1]
