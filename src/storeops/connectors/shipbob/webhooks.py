"""Verify ShipBob webhook deliveries (Standard Webhooks signing).

Scheme (shared/vendor-specs/README.md section 3, from
developer.shipbob.com/experimental/webhooks; the same as https://www.standardwebhooks.com):

    headers   webhook-id, webhook-timestamp (unix seconds), webhook-signature, x-webhook-topic
    key       base64-decode(secret without its optional "whsec_" prefix)
    content   f"{webhook-id}.{webhook-timestamp}.".encode() + raw body
    signature "v1," + base64(HMAC-SHA256(key, content))

webhook-signature is a space-separated list of "v1,<base64>" entries (several appear
while a secret is being rotated); one match is enough. Entries with another version tag
(e.g. "v1a," for asymmetric signatures) are ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from storeops.connectors.base import VerifiedWebhook
from storeops.core.errors import WebhookSignatureInvalid, WebhookStale

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOPIC_HEADER = "x-webhook-topic"

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
# Standard Webhooks' reference libraries allow 5 minutes either way (replay protection
# with room for clock skew); ShipBob documents no other value.
DEFAULT_TOLERANCE_S = 5 * 60.0


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        # Our stored secret is wrong, not the request; say so, and fail closed.
        raise WebhookSignatureInvalid("shipbob: configured webhook secret is not base64") from exc
    if not key:
        raise WebhookSignatureInvalid("shipbob: no webhook secret configured")
    return key


def _signature(webhook_id: str, timestamp: str, body: bytes, key: bytes) -> str:
    content = f"{webhook_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode("ascii")


def sign(webhook_id: str, timestamp: int | str, body: bytes, secret: str) -> str:
    """The webhook-signature header value ShipBob would send (tests, sandboxes)."""
    return "v1," + _signature(webhook_id, str(timestamp), body, _key(secret))


class ShipbobWebhookVerifier:
    vendor: str = "shipbob"

    def __init__(self, *, tolerance_s: float = DEFAULT_TOLERANCE_S) -> None:
        self.tolerance_s = tolerance_s

    def shop_hint(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        # ShipBob names no shop in its headers; the subscription URL we register carries
        # ?shop=<domain>.
        shop = (query.get("shop") or "").strip().lower()
        return shop or None

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> VerifiedWebhook:
        webhook_id = headers.get(ID_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        received = headers.get(SIGNATURE_HEADER)
        if not webhook_id or not timestamp or not received:
            raise WebhookSignatureInvalid(
                f"shipbob: needs {ID_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers"
            )
        expected = _signature(webhook_id, timestamp, body, _key(secret)).encode("ascii")
        matched = False
        for entry in received.split():
            version, _, value = entry.partition(",")
            # No early exit: check every entry so timing does not reveal which one matched.
            if version == "v1" and hmac.compare_digest(expected, value.encode("utf-8", "replace")):
                matched = True
        if not matched:
            raise WebhookSignatureInvalid("shipbob: no v1 signature matches the body")

        # Checked after the signature, so WebhookStale always means "genuine but old".
        try:
            sent_at = int(timestamp)
        except ValueError as exc:
            raise WebhookStale(f"shipbob: {TIMESTAMP_HEADER} {timestamp!r} is not unix seconds") from exc
        if abs(now - sent_at) > self.tolerance_s:
            raise WebhookStale(f"shipbob: sent at {sent_at}, outside ±{self.tolerance_s:.0f}s of now")

        return VerifiedWebhook(
            event_id=webhook_id,
            topic=headers.get(TOPIC_HEADER) or "unknown",
            shop_hint=None,  # ShipBob names no shop; intake found it with shop_hint(query)
            triggered_at=timestamp,
        )
