"""Verify Shopify HTTPS webhook deliveries.

Scheme (shared/vendor-specs/shopify/webhook-delivery.yaml, from
https://shopify.dev/docs/apps/build/webhooks/verify-deliveries and Shopify's own
library Shopify/shopify-app-js lib/utils/hmac-validator.ts):

    X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(key=client secret as UTF-8, msg=raw body))

Base64 with padding, not hex; compared in constant time before the body is parsed.
Only HTTPS deliveries are signed (Pub/Sub and EventBridge deliveries are not).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from storeops.connectors.base import VerifiedWebhook
from storeops.core.clock import as_utc
from storeops.core.errors import WebhookSignatureInvalid, WebhookStale

# Header names as the caller hands them to us: lower-case (delivery-structure:
# "Treat header names as case-insensitive").
HMAC_HEADER = "x-shopify-hmac-sha256"
SHOP_HEADER = "x-shopify-shop-domain"
TOPIC_HEADER = "x-shopify-topic"
EVENT_ID_HEADER = "x-shopify-event-id"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TRIGGERED_AT_HEADER = "x-shopify-triggered-at"

# A retry carries the original payload and the original X-Shopify-Triggered-At, so a
# Stripe-style 5-minute window would drop real retries. Shopify used to retry for 48 hours
# (19 tries); since 2024-09-10 it retries 8 times over 4 hours
# (https://shopify.dev/changelog/updates-to-webhook-retry-mechanism, which also says to use
# X-Shopify-Triggered-At to judge staleness). Seven days covers either schedule with room
# for our own downtime, and still refuses replays of an old captured request.
DEFAULT_MAX_AGE_S = 7 * 24 * 3600.0


def sign(body: bytes, secret: str) -> str:
    """The X-Shopify-Hmac-Sha256 value Shopify would send for `body` (tests, sandboxes)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _body_id(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _parse_iso(value: str) -> datetime | None:
    """ISO-8601 to aware UTC, or None. Shopify sends e.g. 2023-03-29T18:00:27.877041743Z."""
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


class ShopifyWebhookVerifier:
    vendor: str = "shopify"

    def __init__(self, *, max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        self.max_age_s = max_age_s

    def shop_hint(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        shop = (headers.get(SHOP_HEADER) or query.get("shop") or "").strip().lower()
        return shop or None

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> VerifiedWebhook:
        if not secret:
            # An empty key is a key everyone knows; fail closed rather than "verify".
            raise WebhookSignatureInvalid("shopify: no webhook secret configured")
        received = headers.get(HMAC_HEADER)
        if not received:
            raise WebhookSignatureInvalid(f"shopify: missing {HMAC_HEADER} header")
        expected = sign(body, secret)
        # Compare bytes: compare_digest refuses non-ASCII str, and a forged header may hold any.
        if not hmac.compare_digest(expected.encode("ascii"), received.strip().encode("utf-8", "replace")):
            raise WebhookSignatureInvalid("shopify: HMAC does not match the body")

        triggered_at = headers.get(TRIGGERED_AT_HEADER)
        if triggered_at:
            fired = _parse_iso(triggered_at)
            # Only the past is checked: a clock slightly behind Shopify's must not reject.
            if fired is not None and now - fired.timestamp() > self.max_age_s:
                raise WebhookStale(f"shopify: triggered at {triggered_at}, older than {self.max_age_s:.0f}s")

        event_id = headers.get(EVENT_ID_HEADER) or headers.get(WEBHOOK_ID_HEADER) or _body_id(body)
        return VerifiedWebhook(
            event_id=event_id,
            topic=headers.get(TOPIC_HEADER) or "unknown",
            shop_hint=self.shop_hint(headers, {}),
            triggered_at=triggered_at,
        )
