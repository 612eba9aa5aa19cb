"""REST API v1 over real HTTP: admin auth, shops and credentials, inbox, workflows, OpenAPI."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.engine.inbox import NewEvent, insert_events
from storeops.engine.models import FAILED, INVALID, PROCESSED

from conftest import ADMIN_TOKEN, SHOP_DOMAIN, SHOP_SECRET, LiveServer

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# Every /api/v1 operation the API is expected to offer. The OpenAPI test below checks this
# list against the served document, so a new route cannot slip past the auth test.
V1_ROUTES = {
    ("get", "/api/v1/automations"),
    ("put", "/api/v1/automations/{automation}"),
    ("get", "/api/v1/catalog/audit"),
    ("get", "/api/v1/catalog/consistency"),
    ("post", "/api/v1/catalog/consistency"),
    ("post", "/api/v1/catalog/import"),
    ("get", "/api/v1/catalog/products"),
    ("get", "/api/v1/catalog/products/{handle}"),
    ("patch", "/api/v1/catalog/products/{handle}"),
    ("get", "/api/v1/catalog/products/{handle}/preview/{channel}"),
    ("post", "/api/v1/catalog/publish"),
    ("get", "/api/v1/exceptions"),
    ("get", "/api/v1/exceptions/{exception_id}"),
    ("post", "/api/v1/exceptions/{exception_id}/{verb}"),
    ("get", "/api/v1/inbox"),
    ("post", "/api/v1/inbox/requeue"),
    ("get", "/api/v1/inventory"),
    ("get", "/api/v1/inventory/alerts"),
    ("put", "/api/v1/inventory/mode"),
    ("put", "/api/v1/inventory/policies/{channel}"),
    ("put", "/api/v1/inventory/thresholds/{sku}"),
    ("get", "/api/v1/order-rules/substitution"),
    ("put", "/api/v1/order-rules/substitution"),
    ("get", "/api/v1/order-rules/routing"),
    ("put", "/api/v1/order-rules/routing"),
    ("get", "/api/v1/order-rules/payment"),
    ("get", "/api/v1/outbox"),
    ("post", "/api/v1/outbox/retry"),
    ("put", "/api/v1/order-rules/payment"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/{order_id}"),
    ("get", "/api/v1/return-policy"),
    ("put", "/api/v1/return-policy"),
    ("get", "/api/v1/returns"),
    ("post", "/api/v1/returns"),
    ("get", "/api/v1/returns/{return_id}"),
    ("post", "/api/v1/returns/{return_id}/approve"),
    ("post", "/api/v1/returns/{return_id}/reject"),
    ("get", "/api/v1/sandboxes"),
    ("get", "/api/v1/shops"),
    ("post", "/api/v1/shops"),
    ("put", "/api/v1/shops/{shop}/credentials/{vendor}/{name}"),
    ("get", "/api/v1/shops/{shop}/data-requests"),
    ("get", "/api/v1/support/evaluation"),
    ("get", "/api/v1/support/kpis"),
    ("put", "/api/v1/support/mode"),
    ("get", "/api/v1/support/settings"),
    ("put", "/api/v1/support/settings"),
    ("get", "/api/v1/support/tickets"),
    ("get", "/api/v1/support/tickets/{ticket_id}"),
    ("get", "/api/v1/workflows"),
    ("post", "/api/v1/workflows/{workflow_id}/fork"),
    ("post", "/api/v1/workflows/{workflow_id}/resume"),
}


class Recorder:
    """Every response body the API sent during a test, to prove secrets never leave."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append(f"{response.status_code} {dict(response.headers)} {response.text}")

    def assert_never_sent(self, *values: str) -> None:
        assert self.bodies, "no responses were recorded"
        for value in values:
            leaks = [body for body in self.bodies if value in body]
            assert not leaks, f"{value!r} appeared in an API response: {leaks[0][:300]}"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def api(live_app: LiveServer, recorder: Recorder) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_app.url, headers=AUTH, timeout=10,
                      event_hooks={"response": [recorder]}) as client:
        yield client


def credential_rows(db: Database) -> list[tuple[str, str, str, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT shop_id, vendor, name, ciphertext FROM shop_credentials ORDER BY shop_id, vendor, name"
        )).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def shop_rows(db: Database) -> list[tuple[str, str, str]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, domain, name FROM shops ORDER BY id"))]  # type: ignore[misc]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


# --- auth --------------------------------------------------------------------------


REFUSED_HEADERS = {
    "none": {},
    "wrong": {"Authorization": "Bearer wrong-token"},
    "prefix-of-real": {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    "basic-scheme": {"Authorization": f"Basic {ADMIN_TOKEN}"},
    "empty": {"Authorization": "Bearer"},
}


def test_every_v1_route_needs_the_admin_token(live_app: LiveServer, db: Database, shop_id: str) -> None:
    """Every route x every bad Authorization header against one server (one case per test
    made ~400 databases and servers: most of this file's time)."""
    # A well-formed body, so only the missing token can be the reason for refusing.
    bodies: dict[str, object] = {"/api/v1/shops": {"domain": "intruder.myshopify.com"},
                                 "/api/v1/inbox/requeue": {"ids": [1]}}
    wrong: list[str] = []
    with httpx.Client(base_url=live_app.url, timeout=10) as client:
        for method, path in sorted(V1_ROUTES):
            body = bodies.get(path, {"value": "intruder-secret"}) if method in ("post", "put") else None
            url = concrete(path.replace("{shop}", shop_id).replace("{vendor}", "shopify")
                           .replace("{name}", "access_token"))
            for case, headers in REFUSED_HEADERS.items():
                response = client.request(method, url, headers=headers, json=body)
                if (response.status_code != 401 or response.headers.get("www-authenticate") != "Bearer"
                        or "admin token required" not in response.json().get("detail", "")):
                    wrong.append(f"{method.upper()} {path} [{case}]: {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)
    assert len(V1_ROUTES) > 40  # every route, not an empty set
    # ...and nothing was written by the refused calls.
    assert [d for _, d, _ in shop_rows(db)] == [SHOP_DOMAIN]
    assert [(v, n) for _, v, n, _ in credential_rows(db)] == [("shopify", "webhook_secret")]


def test_the_right_token_is_accepted(api: httpx.Client) -> None:
    assert api.get("/api/v1/shops").status_code == 200


# --- shops -------------------------------------------------------------------------


def test_create_and_list_shops(api: httpx.Client, db: Database, recorder: Recorder) -> None:
    assert api.get("/api/v1/shops").json() == []
    created = api.post("/api/v1/shops", json={
        "domain": "  HTTPS://Acme-Goods.myshopify.com/ ", "name": "Acme Goods",
        "shopify_secret": "shpss_acme_webhook_secret", "shopify_token": "shpat_acme_access_token",
    })
    assert created.status_code == 201, created.text
    shop = created.json()
    assert shop["domain"] == "acme-goods.myshopify.com"  # normalized
    assert shop["name"] == "Acme Goods"
    assert shop["id"].startswith("shop")
    assert shop["credentials"] == ["shopify.access_token", "shopify.webhook_secret"]

    second = api.post("/api/v1/shops", json={"domain": "beta.myshopify.com"})
    assert second.status_code == 201
    assert second.json()["name"] == "beta"  # defaults to the subdomain
    assert second.json()["credentials"] == []

    listed = api.get("/api/v1/shops").json()
    assert [s["domain"] for s in listed] == ["acme-goods.myshopify.com", "beta.myshopify.com"]
    assert listed[0] == shop
    recorder.assert_never_sent("shpss_acme_webhook_secret", "shpat_acme_access_token")


@pytest.mark.parametrize("domain", [
    SHOP_DOMAIN, SHOP_DOMAIN.upper(), f"https://{SHOP_DOMAIN}/", f"  {SHOP_DOMAIN}  ",
])
def test_duplicate_domain_is_refused_and_changes_nothing(api: httpx.Client, db: Database, box: SecretBox,
                                                         shop_id: str, domain: str) -> None:
    shops_before, creds_before = shop_rows(db), credential_rows(db)
    response = api.post("/api/v1/shops", json={
        "domain": domain, "name": "Impostor", "shopify_secret": "a-different-secret",
        "shopify_token": "a-new-token",
    })
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail == {"error": f"shop {SHOP_DOMAIN} is already registered", "field": "domain"}
    assert shop_rows(db) == shops_before
    assert credential_rows(db) == creds_before  # the existing secret was not overwritten
    [(_, _, _, ciphertext)] = creds_before
    assert box.decrypt(ciphertext).reveal() == SHOP_SECRET


def test_concurrent_registrations_of_one_domain_create_one_shop(live_app: LiveServer, db: Database) -> None:
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live_app.url, headers=AUTH, timeout=30) as client:
            return await asyncio.gather(*(
                client.post("/api/v1/shops", json={"domain": "race.myshopify.com", "shopify_secret": f"s-{i}"})
                for i in range(12)
            ))

    replies = asyncio.run(burst())
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [201] + [422] * 11, [r.text for r in replies if r.status_code not in (201, 422)]
    assert all(r.json()["detail"]["error"] == "shop race.myshopify.com is already registered"
               for r in replies if r.status_code == 422)
    assert [d for _, d, _ in shop_rows(db)] == ["race.myshopify.com"]
    assert len(credential_rows(db)) == 1


@pytest.mark.parametrize("domain", [
    "", "   ", "not a domain", "localhost", "shop..myshopify.com", "-shop.myshopify.com",
    "shop.myshopify.com/admin", "shop_1.myshopify.com", "sh\u00f6p.myshopify.com", "a" * 252 + ".com",
    "shop.myshopify.com\nx",
])
def test_malformed_domain_is_422_with_the_reason(api: httpx.Client, db: Database, domain: str) -> None:
    response = api.post("/api/v1/shops", json={"domain": domain, "shopify_secret": "s3cret-value"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["field"] == "domain"
    assert "is not a shop domain like example.myshopify.com" in detail["error"]
    assert shop_rows(db) == [] and credential_rows(db) == []


@pytest.mark.parametrize("body", [
    {}, {"name": "No domain"}, {"domain": None}, {"domain": 42}, {"domain": ["a.myshopify.com"]},
], ids=["empty", "no-domain", "null", "number", "list"])
def test_missing_or_mistyped_fields_are_422(api: httpx.Client, db: Database, body: dict[str, object]) -> None:
    response = api.post("/api/v1/shops", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == "domain" for e in errors), errors
    assert shop_rows(db) == []


def test_body_that_is_not_json_is_422(api: httpx.Client, db: Database) -> None:
    response = api.post("/api/v1/shops", content=b"domain=a.myshopify.com",
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert shop_rows(db) == []


def test_overlong_shop_name_is_422_not_a_crash(api: httpx.Client, db: Database) -> None:
    response = api.post("/api/v1/shops", json={"domain": "long.myshopify.com", "name": "n" * 256})
    assert response.status_code == 422, response.text
    assert shop_rows(db) == []


# --- credentials -------------------------------------------------------------------


def test_put_credential_stores_it_encrypted(api: httpx.Client, db: Database, box: SecretBox, shop_id: str,
                                            recorder: Recorder, settings: object) -> None:
    secret = "klaviyo-pk_live_8f3b2c1d9e7a6b5c4d3e2f1a"
    by_id = api.put(f"/api/v1/shops/{shop_id}/credentials/klaviyo/api_key", json={"value": secret})
    assert by_id.status_code == 204, by_id.text
    assert by_id.content == b""
    # by domain too, and a second PUT replaces the value (one row per shop/vendor/name)
    rotated = secret + "-rotated"
    by_domain = api.put(f"/api/v1/shops/{SHOP_DOMAIN}/credentials/klaviyo/api_key", json={"value": rotated})
    assert by_domain.status_code == 204

    [shop] = api.get("/api/v1/shops").json()
    assert shop["credentials"] == ["klaviyo.api_key", "shopify.webhook_secret"]

    rows = {(v, n): c for s, v, n, c in credential_rows(db) if s == shop_id}
    assert set(rows) == {("klaviyo", "api_key"), ("shopify", "webhook_secret")}
    for key, plaintext in {("klaviyo", "api_key"): rotated, ("shopify", "webhook_secret"): SHOP_SECRET}.items():
        ciphertext = rows[key]
        assert plaintext not in ciphertext and secret not in ciphertext
        assert box.decrypt(ciphertext).reveal() == plaintext
    recorder.assert_never_sent(secret, rotated, SHOP_SECRET)

    if db.is_sqlite:
        # Nowhere in the database files, not even in a page the WAL still holds.
        files = [Path(db.engine.url.database or "")]
        files += [Path(f"{files[0]}-wal")]
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert raw, "found no database bytes to inspect"
        for plaintext in (secret, rotated, SHOP_SECRET):
            assert plaintext.encode() not in raw
    else:
        with db.engine.connect() as conn:
            dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM shop_credentials")) for v in row)
            dump += " ".join(str(v) for row in conn.execute(text("SELECT * FROM shops")) for v in row)
        for plaintext in (secret, rotated, SHOP_SECRET):
            assert plaintext not in dump


def test_credential_with_unknown_vendor_is_422(api: httpx.Client, db: Database, shop_id: str) -> None:
    before = credential_rows(db)
    response = api.put(f"/api/v1/shops/{shop_id}/credentials/stripe/api_key", json={"value": "sk_live_x"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["field"] == "vendor"
    assert "unknown vendor 'stripe'" in detail["error"] and "shopify" in detail["error"]
    assert credential_rows(db) == before


def test_credential_for_unknown_shop_is_404(api: httpx.Client, db: Database, shop_id: str) -> None:
    before = credential_rows(db)
    response = api.put("/api/v1/shops/nobody.myshopify.com/credentials/shopify/access_token",
                       json={"value": "shpat_x"})
    assert response.status_code == 404, response.text
    assert "nobody.myshopify.com" in response.json()["detail"]
    assert credential_rows(db) == before


@pytest.mark.parametrize("body", [{}, {"value": ""}, {"value": None}, {"secret": "x"}],
                         ids=["empty", "blank", "null", "wrong-field"])
def test_credential_without_a_value_is_422(api: httpx.Client, db: Database, shop_id: str,
                                           body: dict[str, object]) -> None:
    before = credential_rows(db)
    response = api.put(f"/api/v1/shops/{shop_id}/credentials/shopify/access_token", json=body)
    assert response.status_code == 422, response.text
    assert credential_rows(db) == before


@pytest.mark.parametrize("name", ["n" * 41, "Access Token", "a.b"])
def test_credential_name_must_be_a_short_identifier(api: httpx.Client, db: Database, shop_id: str,
                                                    name: str) -> None:
    before = credential_rows(db)
    response = api.put(f"/api/v1/shops/{shop_id}/credentials/shopify/{name}", json={"value": "v"})
    assert response.status_code == 422, response.text
    assert credential_rows(db) == before


# --- inbox -------------------------------------------------------------------------


def _event(shop: str, event_id: str, topic: str = "orders/create", vendor: str = "shopify") -> NewEvent:
    return NewEvent(shop_id=shop, vendor=vendor, event_id=event_id, topic=topic,
                    headers={"x-shopify-topic": topic}, body=b'{"id": 1}')


def _set_status(db: Database, status: str, event_ids: list[str], error: str | None = None) -> None:
    with db.engine.begin() as conn:
        for event_id in event_ids:
            conn.execute(text("UPDATE inbox_events SET status = :s, error = :e, attempts = 3 WHERE event_id = :i"),
                         {"s": status, "e": error, "i": event_id})


def test_inbox_lists_events_with_counts(api: httpx.Client, db: Database, box: SecretBox, shop_id: str) -> None:
    assert api.get("/api/v1/inbox").json() == {"counts": {}, "events": []}
    other = api.post("/api/v1/shops", json={"domain": "other.myshopify.com"}).json()["id"]
    assert insert_events(db, [_event(shop_id, f"ev-{i}") for i in range(5)]) == [True] * 5
    insert_events(db, [_event(other, "ev-o1", "products/update"), _event(shop_id, "gb-1", "ticket.created", "gorgias")])
    _set_status(db, PROCESSED, ["ev-0", "ev-1"])
    _set_status(db, FAILED, ["ev-2"], error="system: boom")

    body = api.get("/api/v1/inbox").json()
    assert body["counts"] == {"pending": 4, "processed": 2, "failed": 1}
    events = body["events"]
    assert [e["event_id"] for e in events] == ["gb-1", "ev-o1", "ev-4", "ev-3", "ev-2", "ev-1", "ev-0"]  # newest first
    failed = next(e for e in events if e["event_id"] == "ev-2")
    assert failed["status"] == "failed" and failed["error"] == "system: boom" and failed["attempts"] == 3
    assert failed["shop_id"] == shop_id and failed["vendor"] == "shopify" and failed["topic"] == "orders/create"
    assert failed["received_at"].endswith("+00:00")  # timezone-aware on every backend
    assert "body" not in failed and "headers" not in failed

    by_shop = api.get("/api/v1/inbox", params={"shop": "other.myshopify.com"}).json()
    assert [e["event_id"] for e in by_shop["events"]] == ["ev-o1"]
    assert by_shop["counts"] == {"pending": 1}
    assert [e["event_id"] for e in api.get("/api/v1/inbox", params={"vendor": "gorgias"}).json()["events"]] == ["gb-1"]
    assert [e["event_id"] for e in api.get("/api/v1/inbox", params={"status": "failed"}).json()["events"]] == ["ev-2"]
    assert len(api.get("/api/v1/inbox", params={"limit": 2}).json()["events"]) == 2
    assert api.get("/api/v1/inbox", params={"limit": 0}).status_code == 422
    assert api.get("/api/v1/inbox", params={"limit": 1001}).status_code == 422


def test_inbox_for_unknown_shop_is_404(api: httpx.Client, shop_id: str) -> None:
    response = api.get("/api/v1/inbox", params={"shop": "nobody.myshopify.com"})
    assert response.status_code == 404, response.text
    assert "nobody.myshopify.com" in response.json()["detail"]


def test_requeue_puts_failed_and_invalid_events_back(api: httpx.Client, db: Database, shop_id: str) -> None:
    insert_events(db, [_event(shop_id, f"ev-{i}") for i in range(4)])
    _set_status(db, FAILED, ["ev-0"], error="system: boom")
    _set_status(db, INVALID, ["ev-1"], error="body is not JSON")
    _set_status(db, PROCESSED, ["ev-2"])
    ids = {e["event_id"]: e["id"] for e in api.get("/api/v1/inbox").json()["events"]}

    response = api.post("/api/v1/inbox/requeue", json={"ids": [ids["ev-0"], ids["ev-1"], ids["ev-2"], 999_999]})
    assert response.status_code == 200, response.text
    assert response.json() == {"requeued": 2}  # processed and unknown ids are left alone
    after = {e["event_id"]: e for e in api.get("/api/v1/inbox").json()["events"]}
    assert {k: (v["status"], v["attempts"], v["error"]) for k, v in after.items()} == {
        "ev-0": ("pending", 0, None), "ev-1": ("pending", 0, None),
        "ev-2": ("processed", 3, None), "ev-3": ("pending", 0, None),
    }
    assert api.post("/api/v1/inbox/requeue", json={"ids": [ids["ev-0"]]}).json() == {"requeued": 0}


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": ["one"]}, {"ids": [1] * 10_001}],
                         ids=["missing", "empty", "not-int", "too-many"])
def test_requeue_validates_its_body(api: httpx.Client, body: dict[str, object]) -> None:
    assert api.post("/api/v1/inbox/requeue", json=body).status_code == 422


# --- workflows and OpenAPI ---------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/workflows"), ("post", "/api/v1/workflows/wf-1/resume"), ("post", "/api/v1/workflows/wf-1/fork"),
])
def test_workflows_are_503_without_an_engine(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 503, response.text
    assert "no workflow engine runs in this process" in response.json()["detail"]


def test_openapi_lists_the_v1_routes(live_app: LiveServer) -> None:
    response = httpx.get(f"{live_app.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "storeops"
    served = {(method, path) for path, ops in document["paths"].items() if path.startswith("/api/v1")
              for method in ops}
    assert served == V1_ROUTES
    # The dashboard and the webhook intake are not part of the API document.
    assert not any(p.startswith(("/login", "/webhooks")) or p == "/" for p in document["paths"])
    shop_in = document["components"]["schemas"]["ShopIn"]
    assert shop_in["required"] == ["domain"]
