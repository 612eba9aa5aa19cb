"""Webhook verifiers: each vendor's signing scheme, freshness and event identity."""

# The secrets below are throwaway test keys.
# ruff: noqa: S105

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from storeops.connectors import webhooks as registry
from storeops.connectors.gorgias import webhooks as gorgias
from storeops.connectors.klaviyo import webhooks as klaviyo
from storeops.connectors.shipbob import webhooks as shipbob
from storeops.connectors.shopify import webhooks as shopify
from storeops.core.errors import NotFound, WebhookSignatureInvalid, WebhookStale

NOW = datetime(2026, 7, 20, 12, 0, 0, tzinfo=UTC)
NOW_TS = NOW.timestamp()
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SHOPIFY_EXAMPLE = SHARED / "vendor-specs/shopify/webhooks-2026-07/topic-metadata/orders/create.json"


def lower(headers: Mapping[str, str]) -> dict[str, str]:
    """What intake does before calling a verifier: lower-case every header name."""
    return {k.lower(): v for k, v in headers.items()}


def flip(body: bytes, index: int = 0) -> bytes:
    return body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]


# --------------------------------------------------------------------------- Shopify

SHOPIFY_SECRET = "shpss_0123456789abcdef"
SHOPIFY_BODY = b'{"id":820982911946154508,"email":"jon@example.com"}'


def shopify_headers(body: bytes = SHOPIFY_BODY, secret: str = SHOPIFY_SECRET, **extra: str) -> dict[str, str]:
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": shopify.sign(body, secret),
        "X-Shopify-Shop-Domain": "Example.myshopify.com",
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Triggered-At": (NOW - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
    }
    headers.update(extra)
    return lower(headers)


def test_shopify_valid_delivery() -> None:
    v = shopify.ShopifyWebhookVerifier()
    headers = shopify_headers()
    event = v.verify(headers, SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS)
    assert event.event_id == "98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert event.topic == "orders/create"
    assert event.shop_hint == "example.myshopify.com"
    assert event.triggered_at == headers["x-shopify-triggered-at"]
    assert v.shop_hint(headers, {}) == "example.myshopify.com"


def test_shopify_shop_hint_falls_back_to_query() -> None:
    v = shopify.ShopifyWebhookVerifier()
    assert v.shop_hint({}, {"shop": "other.myshopify.com"}) == "other.myshopify.com"
    assert v.shop_hint({}, {}) is None


def test_shopify_flipped_body_byte_is_invalid() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        shopify.ShopifyWebhookVerifier().verify(
            shopify_headers(), flip(SHOPIFY_BODY, 5), SHOPIFY_SECRET, now=NOW_TS
        )


def test_shopify_wrong_secret_is_invalid() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        shopify.ShopifyWebhookVerifier().verify(shopify_headers(), SHOPIFY_BODY, "not-the-secret", now=NOW_TS)


def test_shopify_missing_or_garbage_hmac_is_invalid() -> None:
    v = shopify.ShopifyWebhookVerifier()
    headers = shopify_headers()
    del headers["x-shopify-hmac-sha256"]
    with pytest.raises(WebhookSignatureInvalid):
        v.verify(headers, SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS)
    headers["x-shopify-hmac-sha256"] = "ünïcode-not-base64"
    with pytest.raises(WebhookSignatureInvalid):
        v.verify(headers, SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS)


def test_shopify_hex_digest_is_not_accepted() -> None:
    # Shopify sends base64, never hex; a hex value of the right HMAC must still fail.
    headers = shopify_headers()
    headers["x-shopify-hmac-sha256"] = hmac.new(
        SHOPIFY_SECRET.encode(), SHOPIFY_BODY, hashlib.sha256
    ).hexdigest()
    with pytest.raises(WebhookSignatureInvalid):
        shopify.ShopifyWebhookVerifier().verify(headers, SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS)


def test_shopify_empty_secret_fails_closed() -> None:
    headers = shopify_headers(secret="")
    with pytest.raises(WebhookSignatureInvalid):
        shopify.ShopifyWebhookVerifier().verify(headers, SHOPIFY_BODY, "", now=NOW_TS)


def test_shopify_stale_triggered_at() -> None:
    v = shopify.ShopifyWebhookVerifier(max_age_s=3600)
    old = (NOW - timedelta(hours=2)).isoformat()
    with pytest.raises(WebhookStale):
        v.verify(shopify_headers(**{"X-Shopify-Triggered-At": old}), SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS)


def test_shopify_default_window_keeps_retries_of_a_day_old_event() -> None:
    # Shopify retries keep the original X-Shopify-Triggered-At; a day-old retry is still good.
    v = shopify.ShopifyWebhookVerifier()
    day_old = (NOW - timedelta(days=1)).isoformat()
    v.verify(shopify_headers(**{"X-Shopify-Triggered-At": day_old}), SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS)
    eight_days = (NOW - timedelta(days=8)).isoformat()
    with pytest.raises(WebhookStale):
        v.verify(
            shopify_headers(**{"X-Shopify-Triggered-At": eight_days}),
            SHOPIFY_BODY,
            SHOPIFY_SECRET,
            now=NOW_TS,
        )


def test_shopify_nanosecond_timestamp_and_unparseable_timestamp() -> None:
    v = shopify.ShopifyWebhookVerifier(max_age_s=60)
    # Shopify's real format carries nanoseconds.
    ns = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + ".877041743Z"
    with pytest.raises(WebhookStale):
        v.verify(shopify_headers(**{"X-Shopify-Triggered-At": ns}), SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS)
    # Not ISO-8601: no staleness check, the signed delivery is accepted.
    event = v.verify(
        shopify_headers(**{"X-Shopify-Triggered-At": "yesterday"}), SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS
    )
    assert event.triggered_at == "yesterday"


def test_shopify_event_id_fallbacks_and_unknown_topic() -> None:
    v = shopify.ShopifyWebhookVerifier()
    headers = shopify_headers()
    del headers["x-shopify-event-id"]
    assert v.verify(headers, SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS).event_id == (
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    )
    del headers["x-shopify-webhook-id"]
    del headers["x-shopify-topic"]
    event = v.verify(headers, SHOPIFY_BODY, SHOPIFY_SECRET, now=NOW_TS)
    assert event.event_id == "sha256:" + hashlib.sha256(SHOPIFY_BODY).hexdigest()
    assert event.topic == "unknown"


def test_shopify_signature_matches_vendor_formula_on_real_example() -> None:
    if not SHOPIFY_EXAMPLE.is_file():
        pytest.skip(f"vendor example not available at {SHOPIFY_EXAMPLE}")
    raw_body = json.dumps(json.loads(SHOPIFY_EXAMPLE.read_text())["response"]).encode()
    secret = "hush"
    # webhook-delivery.yaml hmac.python_equivalent, verbatim.
    vendor = base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()
    assert shopify.sign(raw_body, secret) == vendor
    headers = shopify_headers(body=raw_body, secret=secret)
    headers["x-shopify-hmac-sha256"] = vendor
    assert (
        shopify.ShopifyWebhookVerifier().verify(headers, raw_body, secret, now=NOW_TS).topic
        == "orders/create"
    )


# --------------------------------------------------------------------------- ShipBob

SHIPBOB_SECRET = "whsec_" + base64.b64encode(b"shipbob-test-key-0123456789abcdef").decode()
SHIPBOB_BODY = b'{"order_id":12345,"status":"Fulfilled"}'
SHIPBOB_ID = "msg_2b8d9c1e"


def shipbob_headers(
    body: bytes = SHIPBOB_BODY, secret: str = SHIPBOB_SECRET, ts: int | None = None, **extra: str
) -> dict[str, str]:
    stamp = int(NOW_TS) if ts is None else ts
    headers = {
        "webhook-id": SHIPBOB_ID,
        "webhook-timestamp": str(stamp),
        "webhook-signature": shipbob.sign(SHIPBOB_ID, stamp, body, secret),
        "x-webhook-topic": "order.shipped",
    }
    headers.update(extra)
    return lower(headers)


def test_shipbob_valid_delivery() -> None:
    v = shipbob.ShipbobWebhookVerifier()
    event = v.verify(shipbob_headers(), SHIPBOB_BODY, SHIPBOB_SECRET, now=NOW_TS)
    assert event.event_id == SHIPBOB_ID
    assert event.topic == "order.shipped"
    assert event.triggered_at == str(int(NOW_TS))
    assert v.shop_hint(shipbob_headers(), {"shop": "Example.myshopify.com"}) == "example.myshopify.com"
    assert v.shop_hint(shipbob_headers(), {}) is None


def test_shipbob_signature_is_standard_webhooks() -> None:
    key = base64.b64decode(SHIPBOB_SECRET.removeprefix("whsec_"))
    content = f"{SHIPBOB_ID}.{int(NOW_TS)}.".encode() + SHIPBOB_BODY
    expected = "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    assert shipbob.sign(SHIPBOB_ID, int(NOW_TS), SHIPBOB_BODY, SHIPBOB_SECRET) == expected


def test_shipbob_secret_without_prefix_and_several_signatures() -> None:
    v = shipbob.ShipbobWebhookVerifier()
    bare = SHIPBOB_SECRET.removeprefix("whsec_")
    headers = shipbob_headers()
    old_key = "whsec_" + base64.b64encode(b"the-previous-key").decode()
    stale_sig = shipbob.sign(SHIPBOB_ID, int(NOW_TS), SHIPBOB_BODY, old_key)
    # During rotation ShipBob may send several; any v1 match passes, other versions are ignored.
    headers["webhook-signature"] = f"v1a,AAAA {stale_sig} {headers['webhook-signature']}"
    assert v.verify(headers, SHIPBOB_BODY, bare, now=NOW_TS).event_id == SHIPBOB_ID


def test_shipbob_flipped_body_byte_is_invalid() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        shipbob.ShipbobWebhookVerifier().verify(
            shipbob_headers(), flip(SHIPBOB_BODY, 3), SHIPBOB_SECRET, now=NOW_TS
        )


def test_shipbob_wrong_secret_is_invalid() -> None:
    other = "whsec_" + base64.b64encode(b"someone-else").decode()
    with pytest.raises(WebhookSignatureInvalid):
        shipbob.ShipbobWebhookVerifier().verify(shipbob_headers(), SHIPBOB_BODY, other, now=NOW_TS)


def test_shipbob_signature_bound_to_id_and_timestamp() -> None:
    v = shipbob.ShipbobWebhookVerifier()
    headers = shipbob_headers()
    headers["webhook-id"] = "msg_other"
    with pytest.raises(WebhookSignatureInvalid):
        v.verify(headers, SHIPBOB_BODY, SHIPBOB_SECRET, now=NOW_TS)
    headers = shipbob_headers()
    headers["webhook-timestamp"] = str(int(NOW_TS) + 1)
    with pytest.raises(WebhookSignatureInvalid):
        v.verify(headers, SHIPBOB_BODY, SHIPBOB_SECRET, now=NOW_TS)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_shipbob_missing_header_is_invalid(missing: str) -> None:
    headers = shipbob_headers()
    del headers[missing]
    with pytest.raises(WebhookSignatureInvalid):
        shipbob.ShipbobWebhookVerifier().verify(headers, SHIPBOB_BODY, SHIPBOB_SECRET, now=NOW_TS)


def test_shipbob_undecodable_secret_fails_closed() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        shipbob.ShipbobWebhookVerifier().verify(
            shipbob_headers(), SHIPBOB_BODY, "whsec_not*base64", now=NOW_TS
        )


@pytest.mark.parametrize("offset", [-301, 301])
def test_shipbob_stale_either_way(offset: int) -> None:
    headers = shipbob_headers(ts=int(NOW_TS) + offset)
    with pytest.raises(WebhookStale):
        shipbob.ShipbobWebhookVerifier().verify(headers, SHIPBOB_BODY, SHIPBOB_SECRET, now=NOW_TS)


def test_shipbob_within_tolerance_and_custom_tolerance() -> None:
    headers = shipbob_headers(ts=int(NOW_TS) - 299)
    shipbob.ShipbobWebhookVerifier().verify(headers, SHIPBOB_BODY, SHIPBOB_SECRET, now=NOW_TS)
    with pytest.raises(WebhookStale):
        shipbob.ShipbobWebhookVerifier(tolerance_s=60).verify(
            headers, SHIPBOB_BODY, SHIPBOB_SECRET, now=NOW_TS
        )


def test_shipbob_unknown_topic() -> None:
    headers = shipbob_headers()
    del headers["x-webhook-topic"]
    event = shipbob.ShipbobWebhookVerifier().verify(headers, SHIPBOB_BODY, SHIPBOB_SECRET, now=NOW_TS)
    assert event.topic == "unknown"


# --------------------------------------------------------------------------- Gorgias

GORGIAS_SECRET = "gorgias-shared-secret-42"
GORGIAS_BODY = b'{"ticket_id":7,"event":"ticket-created"}'


def gorgias_headers(secret: str = GORGIAS_SECRET) -> dict[str, str]:
    return lower(
        {
            **gorgias.sign(secret, event_id="7-1001", topic="ticket-created"),
            "Content-Type": "application/json",
        }
    )


def test_gorgias_valid_delivery() -> None:
    v = gorgias.GorgiasWebhookVerifier()
    event = v.verify(gorgias_headers(), GORGIAS_BODY, GORGIAS_SECRET, now=NOW_TS)
    assert event.event_id == "7-1001"
    assert event.topic == "ticket-created"
    assert event.triggered_at is None
    assert v.shop_hint(gorgias_headers(), {"shop": "example.myshopify.com"}) == "example.myshopify.com"
    assert v.shop_hint(gorgias_headers(), {}) is None


def test_gorgias_wrong_secret_is_invalid() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        gorgias.GorgiasWebhookVerifier().verify(
            gorgias_headers("guess"), GORGIAS_BODY, GORGIAS_SECRET, now=NOW_TS
        )


def test_gorgias_missing_secret_header_is_invalid() -> None:
    headers = gorgias_headers()
    del headers["x-storeops-webhook-secret"]
    with pytest.raises(WebhookSignatureInvalid):
        gorgias.GorgiasWebhookVerifier().verify(headers, GORGIAS_BODY, GORGIAS_SECRET, now=NOW_TS)


def test_gorgias_empty_secret_fails_closed() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        gorgias.GorgiasWebhookVerifier().verify(gorgias_headers(""), GORGIAS_BODY, "", now=NOW_TS)


def test_gorgias_body_is_not_signed_so_a_flipped_byte_still_passes() -> None:
    # Gorgias has no HMAC: the secret header authenticates the caller, not the body.
    # Without an event-id header the body hash is the id, so a changed body is a new event.
    v = gorgias.GorgiasWebhookVerifier()
    headers = gorgias_headers()
    del headers["x-storeops-event-id"]
    a = v.verify(headers, GORGIAS_BODY, GORGIAS_SECRET, now=NOW_TS)
    b = v.verify(headers, flip(GORGIAS_BODY, 2), GORGIAS_SECRET, now=NOW_TS)
    assert a.event_id == "sha256:" + hashlib.sha256(GORGIAS_BODY).hexdigest()
    assert a.event_id != b.event_id


def test_gorgias_has_no_staleness_check_and_unknown_topic() -> None:
    headers = gorgias_headers()
    del headers["x-storeops-topic"]
    event = gorgias.GorgiasWebhookVerifier().verify(headers, GORGIAS_BODY, GORGIAS_SECRET, now=NOW_TS + 10**8)
    assert event.topic == "unknown"


# --------------------------------------------------------------------------- Klaviyo

KLAVIYO_SECRET = "klaviyo-secret-key-0123456789"
KLAVIYO_WEBHOOK_ID = "01KP4928STE8FKCWB6WDHZ4ZB7"


def klaviyo_body(*items: tuple[str, str], webhook_id: str = KLAVIYO_WEBHOOK_ID) -> bytes:
    doc = {
        "data": [
            {"topic": topic, "external_id": ext, "payload": {"data": {"id": ext}}} for ext, topic in items
        ],
        "meta": {
            "klaviyo_account_id": "WBhXHN",
            "klaviyo_webhook_id": webhook_id,
            "timestamp": NOW.isoformat(),
        },
    }
    return json.dumps(doc).encode()


KLAVIYO_BODY = klaviyo_body(("73WCCK7JKtE", "event:klaviyo.opened_email"))


def klaviyo_headers(
    body: bytes = KLAVIYO_BODY, secret: str = KLAVIYO_SECRET, timestamp: str | None = None
) -> dict[str, str]:
    stamp = format_datetime(NOW, usegmt=True) if timestamp is None else timestamp
    return lower(
        {
            "Klaviyo-Webhook-Id": KLAVIYO_WEBHOOK_ID,
            "Klaviyo-Signature": klaviyo.sign(body, stamp, secret),
            "Klaviyo-Timestamp": stamp,
        }
    )


def test_klaviyo_valid_delivery() -> None:
    v = klaviyo.KlaviyoWebhookVerifier()
    headers = klaviyo_headers()
    event = v.verify(headers, KLAVIYO_BODY, KLAVIYO_SECRET, now=NOW_TS)
    assert event.event_id == f"{KLAVIYO_WEBHOOK_ID}:73WCCK7JKtE"
    assert event.topic == "event:klaviyo.opened_email"
    assert event.triggered_at == headers["klaviyo-timestamp"]
    assert v.shop_hint(headers, {"shop": "example.myshopify.com"}) == "example.myshopify.com"
    assert v.shop_hint(headers, {}) is None


def test_klaviyo_signature_is_hex_hmac_of_body_then_timestamp() -> None:
    stamp = "Mon, 20 Jul 2026 12:00:00 GMT"
    expected = hmac.new(KLAVIYO_SECRET.encode(), KLAVIYO_BODY + stamp.encode(), hashlib.sha256).hexdigest()
    assert klaviyo.sign(KLAVIYO_BODY, stamp, KLAVIYO_SECRET) == expected


def test_klaviyo_flipped_body_byte_is_invalid() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        klaviyo.KlaviyoWebhookVerifier().verify(
            klaviyo_headers(), flip(KLAVIYO_BODY, 4), KLAVIYO_SECRET, now=NOW_TS
        )


def test_klaviyo_wrong_secret_is_invalid() -> None:
    with pytest.raises(WebhookSignatureInvalid):
        klaviyo.KlaviyoWebhookVerifier().verify(
            klaviyo_headers(), KLAVIYO_BODY, "another-secret-key!", now=NOW_TS
        )


def test_klaviyo_timestamp_is_signed() -> None:
    headers = klaviyo_headers()
    headers["klaviyo-timestamp"] = format_datetime(NOW + timedelta(seconds=1), usegmt=True)
    with pytest.raises(WebhookSignatureInvalid):
        klaviyo.KlaviyoWebhookVerifier().verify(headers, KLAVIYO_BODY, KLAVIYO_SECRET, now=NOW_TS)


@pytest.mark.parametrize("missing", ["klaviyo-signature", "klaviyo-timestamp", "klaviyo-webhook-id"])
def test_klaviyo_missing_header_is_invalid(missing: str) -> None:
    headers = klaviyo_headers()
    del headers[missing]
    with pytest.raises(WebhookSignatureInvalid):
        klaviyo.KlaviyoWebhookVerifier().verify(headers, KLAVIYO_BODY, KLAVIYO_SECRET, now=NOW_TS)


@pytest.mark.parametrize(
    "stamp",
    [
        format_datetime(NOW - timedelta(seconds=60), usegmt=True),
        (NOW - timedelta(seconds=60)).isoformat(),
        str(int(NOW_TS) - 60),
    ],
    ids=["imf-fixdate", "iso-8601", "unix"],
)
def test_klaviyo_accepts_each_timestamp_format(stamp: str) -> None:
    headers = klaviyo_headers(timestamp=stamp)
    klaviyo.KlaviyoWebhookVerifier().verify(headers, KLAVIYO_BODY, KLAVIYO_SECRET, now=NOW_TS)


@pytest.mark.parametrize("offset", [timedelta(seconds=-301), timedelta(seconds=301)])
def test_klaviyo_stale_either_way(offset: timedelta) -> None:
    headers = klaviyo_headers(timestamp=format_datetime(NOW + offset, usegmt=True))
    with pytest.raises(WebhookStale):
        klaviyo.KlaviyoWebhookVerifier().verify(headers, KLAVIYO_BODY, KLAVIYO_SECRET, now=NOW_TS)


@pytest.mark.parametrize("stamp", ["sometime", "nan", "inf"])
def test_klaviyo_unreadable_signed_timestamp_is_stale(stamp: str) -> None:
    headers = klaviyo_headers(timestamp=stamp)
    with pytest.raises(WebhookStale):
        klaviyo.KlaviyoWebhookVerifier().verify(headers, KLAVIYO_BODY, KLAVIYO_SECRET, now=NOW_TS)


def test_klaviyo_body_webhook_id_must_match_header() -> None:
    body = klaviyo_body(("e1", "event:klaviyo.opened_email"), webhook_id="01SOMEONEELSE")
    with pytest.raises(WebhookSignatureInvalid):
        klaviyo.KlaviyoWebhookVerifier().verify(klaviyo_headers(body=body), body, KLAVIYO_SECRET, now=NOW_TS)


def test_klaviyo_batch_identity_is_stable_across_retries() -> None:
    v = klaviyo.KlaviyoWebhookVerifier()
    first = klaviyo_body(("e1", "event:klaviyo.opened_email"), ("e2", "event:klaviyo.clicked_email"))
    retry = klaviyo_body(("e2", "event:klaviyo.clicked_email"), ("e1", "event:klaviyo.opened_email"))
    a = v.verify(klaviyo_headers(body=first), first, KLAVIYO_SECRET, now=NOW_TS)
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    b = v.verify(klaviyo_headers(body=retry, timestamp=later), retry, KLAVIYO_SECRET, now=NOW_TS + 90)
    assert a.event_id == b.event_id
    assert a.event_id.startswith(f"{KLAVIYO_WEBHOOK_ID}:batch:")
    assert a.topic == "batch"


def test_klaviyo_non_json_body_falls_back_to_body_hash() -> None:
    body = b"not json"
    event = klaviyo.KlaviyoWebhookVerifier().verify(
        klaviyo_headers(body=body), body, KLAVIYO_SECRET, now=NOW_TS
    )
    assert event.event_id == f"{KLAVIYO_WEBHOOK_ID}:sha256:{hashlib.sha256(body).hexdigest()}"
    assert event.topic == "unknown"


# --------------------------------------------------------------------------- all vendors


def test_header_names_are_looked_up_lower_case() -> None:
    # Vendors send mixed case; intake lower-cases names and the verifiers read only those.
    cases = [
        (
            shopify.ShopifyWebhookVerifier(),
            {
                "X-Shopify-Hmac-Sha256": shopify.sign(SHOPIFY_BODY, SHOPIFY_SECRET),
                "X-Shopify-Topic": "orders/paid",
            },
            SHOPIFY_BODY,
            SHOPIFY_SECRET,
        ),
        (
            shipbob.ShipbobWebhookVerifier(),
            {
                "Webhook-Id": SHIPBOB_ID,
                "Webhook-Timestamp": str(int(NOW_TS)),
                "Webhook-Signature": shipbob.sign(SHIPBOB_ID, int(NOW_TS), SHIPBOB_BODY, SHIPBOB_SECRET),
                "X-Webhook-Topic": "order.shipped",
            },
            SHIPBOB_BODY,
            SHIPBOB_SECRET,
        ),
        (
            gorgias.GorgiasWebhookVerifier(),
            {"X-Storeops-Webhook-Secret": GORGIAS_SECRET, "X-Storeops-Topic": "ticket-updated"},
            GORGIAS_BODY,
            GORGIAS_SECRET,
        ),
        (
            klaviyo.KlaviyoWebhookVerifier(),
            {
                "Klaviyo-Webhook-Id": KLAVIYO_WEBHOOK_ID,
                "Klaviyo-Timestamp": str(int(NOW_TS)),
                "Klaviyo-Signature": klaviyo.sign(KLAVIYO_BODY, str(int(NOW_TS)), KLAVIYO_SECRET),
            },
            KLAVIYO_BODY,
            KLAVIYO_SECRET,
        ),
    ]
    for verifier, vendor_headers, body, secret in cases:
        assert verifier.verify(lower(vendor_headers), body, secret, now=NOW_TS).topic != "unknown"
        # The verifier does no case folding of its own: un-lowered names are not found.
        with pytest.raises(WebhookSignatureInvalid):
            verifier.verify(dict(vendor_headers), body, secret, now=NOW_TS)


def test_registry() -> None:
    assert set(registry.VERIFIERS) == {"shopify", "shipbob", "gorgias", "klaviyo"}
    for vendor, verifier in registry.VERIFIERS.items():
        assert verifier.vendor == vendor
        assert registry.verifier_for(vendor) is verifier
    with pytest.raises(NotFound) as err:
        registry.verifier_for("amazon")
    assert (err.value.kind, err.value.key) == ("vendor", "amazon")
