"""POST /webhooks/{vendor} over real HTTP: verify, store durably, dedupe, reject."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from storeops.db.session import Database
from storeops.engine.models import PENDING, InboxEvent

from conftest import LiveServer
from helpers import shopify_delivery


def inbox_rows(db: Database) -> list[InboxEvent]:
    with db.system_session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def post(server: LiveServer, body: bytes, headers: dict[str, str], vendor: str = "shopify") -> httpx.Response:
    return httpx.post(f"{server.url}/webhooks/{vendor}", content=body, headers=headers, timeout=10)


def test_signed_webhook_is_stored_raw_before_200(live_app: LiveServer, db: Database, shop_id: str) -> None:
    body, headers = shopify_delivery({"id": 1, "email": "a@example.com"}, event_id="ev-1")
    response = post(live_app, body, headers)
    assert response.status_code == 200
    assert response.json() == {"status": "stored", "event_id": "ev-1"}
    [row] = inbox_rows(db)
    assert (row.shop_id, row.vendor, row.event_id, row.topic) == (shop_id, "shopify", "ev-1", "orders/create")
    assert row.body == body  # byte for byte, as signed
    assert row.headers["x-shopify-event-id"] == "ev-1"
    assert row.status == PENDING


def test_duplicate_event_is_acknowledged_and_not_stored_twice(live_app: LiveServer, db: Database,
                                                              shop_id: str) -> None:
    body, headers = shopify_delivery({"id": 2}, event_id="ev-dup")
    assert post(live_app, body, headers).json()["status"] == "stored"
    # Shopify redelivers the same event with a new webhook id: still the same event.
    headers["X-Shopify-Webhook-Id"] = "another-delivery"
    second = post(live_app, body, headers)
    assert second.status_code == 200 and second.json()["status"] == "duplicate"
    assert [r.event_id for r in inbox_rows(db)] == ["ev-dup"]


def test_concurrent_duplicates_store_one(live_app: LiveServer, db: Database, shop_id: str) -> None:
    body, headers = shopify_delivery({"id": 3}, event_id="ev-race")

    import asyncio

    async def burst() -> list[str]:
        async with httpx.AsyncClient(timeout=10) as client:
            replies = await asyncio.gather(
                *(client.post(f"{live_app.url}/webhooks/shopify", content=body, headers=headers) for _ in range(20))
            )
        return [r.json()["status"] for r in replies]

    statuses = asyncio.run(burst())
    assert statuses.count("stored") == 1 and statuses.count("duplicate") == 19
    assert len(inbox_rows(db)) == 1


@pytest.mark.parametrize(
    "tamper",
    ["flip_body", "wrong_secret", "no_signature", "unknown_shop", "no_shop_header"],
)
def test_forged_webhooks_get_401_and_store_nothing(live_app: LiveServer, db: Database, shop_id: str,
                                                   tamper: str) -> None:
    body, headers = shopify_delivery({"id": 4, "email": "x@example.com"})
    if tamper == "flip_body":
        body = body.replace(b"x@example.com", b"y@example.com")
    elif tamper == "wrong_secret":
        body, headers = shopify_delivery({"id": 4}, secret="not-the-secret")
    elif tamper == "no_signature":
        del headers["X-Shopify-Hmac-Sha256"]
    elif tamper == "unknown_shop":
        body, headers = shopify_delivery({"id": 4}, domain="someone-else.myshopify.com")
    elif tamper == "no_shop_header":
        del headers["X-Shopify-Shop-Domain"]
    response = post(live_app, body, headers)
    assert response.status_code == 401
    assert inbox_rows(db) == []


def test_compliance_topic_with_bad_hmac_is_401(live_app: LiveServer, db: Database, shop_id: str) -> None:
    body, headers = shopify_delivery({"shop_id": 1, "customer": {"id": 9}}, topic="customers/redact",
                                     secret="forger")
    assert post(live_app, body, headers).status_code == 401
    assert inbox_rows(db) == []


def test_stale_webhook_is_401(live_app: LiveServer, db: Database, shop_id: str) -> None:
    body, headers = shopify_delivery({"id": 5})
    headers["X-Shopify-Triggered-At"] = "2020-01-01T00:00:00Z"
    assert post(live_app, body, headers).status_code == 401
    assert inbox_rows(db) == []


def test_body_over_the_limit_gets_413(live_app: LiveServer, db: Database, shop_id: str) -> None:
    huge = {"id": 6, "note": "x" * (1_048_576 + 10)}
    body, headers = shopify_delivery(huge)
    assert post(live_app, body, headers).status_code == 413
    # A lying Content-Length does not get past the cap either: stream without one.
    def chunks() -> object:
        for _ in range(20):
            yield b"x" * 100_000

    response = httpx.post(f"{live_app.url}/webhooks/shopify", content=chunks(), headers={
        k: v for k, v in headers.items() if k.lower() != "content-length"}, timeout=10)
    assert response.status_code == 413
    assert inbox_rows(db) == []


def test_malformed_json_with_valid_signature_is_stored(live_app: LiveServer, db: Database, shop_id: str) -> None:
    body, headers = shopify_delivery(None, raw=b'{"id": 7, "broken": ', event_id="ev-bad-json")
    assert post(live_app, body, headers).status_code == 200
    [row] = inbox_rows(db)
    assert row.body == b'{"id": 7, "broken": '


def test_unknown_vendor_is_404(live_app: LiveServer) -> None:
    assert httpx.post(f"{live_app.url}/webhooks/amazon", content=b"{}").status_code == 404


def test_metrics_count_outcomes(live_app: LiveServer, db: Database, shop_id: str) -> None:
    body, headers = shopify_delivery({"id": 8})
    post(live_app, body, headers)
    post(live_app, body, headers)
    bad_body, bad_headers = shopify_delivery({"id": 8}, secret="nope")
    post(live_app, bad_body, bad_headers)
    text = httpx.get(f"{live_app.url}/metrics").text
    assert 'storeops_webhooks_total{outcome="stored",vendor="shopify"}' in text
    assert 'storeops_webhooks_total{outcome="duplicate",vendor="shopify"}' in text
    assert 'storeops_webhooks_total{outcome="rejected",vendor="shopify"}' in text
    assert "storeops_inbox_pending 1.0" in text


def test_healthz(live_app: LiveServer) -> None:
    response = httpx.get(f"{live_app.url}/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_other_vendors_find_their_shop_by_query(live_app: LiveServer, db: Database, shop_id: str) -> None:
    from storeops.connectors.shipbob.webhooks import sign as shipbob_sign

    secret = "whsec_" + __import__("base64").b64encode(b"shipbob-secret-bytes").decode()
    httpx.put(
        f"{live_app.url}/api/v1/shops/{shop_id}/credentials/shipbob/webhook_secret",
        json={"value": secret}, headers={"Authorization": "Bearer test-admin-token"},
    ).raise_for_status()
    import time

    body = json.dumps({"order_id": 1}).encode()
    stamp = str(int(time.time()))
    headers = {"webhook-id": "msg_1", "webhook-timestamp": stamp, "x-webhook-topic": "order.shipped",
               "webhook-signature": shipbob_sign("msg_1", stamp, body, secret)}
    response = httpx.post(f"{live_app.url}/webhooks/shipbob", params={"shop": "test-shop.myshopify.com"},
                          content=body, headers=headers)
    assert response.status_code == 200, response.text
    with db.system_session() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.vendor == "shipbob")) == 1
