"""Verify Klaviyo system webhooks.

Confirmed from Klaviyo's own page, https://developers.klaviyo.com/en/docs/working_with_system_webhooks:
- headers Klaviyo-Webhook-Id (the webhook subscription's id), Klaviyo-Signature (an
  HMAC-SHA256 signature) and Klaviyo-Timestamp ("when the webhook request was sent");
- the body is {"data": [{"external_id", "payload", "topic"}, ...], "meta": {"klaviyo_account_id",
  "klaviyo_webhook_id", "timestamp"}}, one request may batch many events, and
  meta.klaviyo_webhook_id must equal the Klaviyo-Webhook-Id header ("if these values do not
  match ... you should not process the webhook");
- the doc's example Klaviyo-Signature is 64 lower-case hex digits (a hex SHA-256 digest).

The exact signed content was not visible in the stored copy of that page. It was taken from
several independent implementations that agree (hookdeck/webhook-skills
skills/klaviyo-webhooks/references/verification.md, a Klaviyo PHP client's tests, and others):

    Klaviyo-Signature = hex(HMAC-SHA256(key=webhook secret_key as UTF-8, msg=raw body + Klaviyo-Timestamp))

body first, timestamp appended with no separator. The timestamp's format is also not
confirmed: clients show both IMF-fixdate ("Tue, 14 Apr 2026 03:50:12 GMT") and ISO-8601,
so both are accepted, as are unix seconds. Klaviyo documents no replay window; we use 5
minutes either way, like Standard Webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from storeops.connectors.base import VerifiedWebhook
from storeops.core.clock import as_utc
from storeops.core.errors import WebhookSignatureInvalid, WebhookStale

SIGNATURE_HEADER = "klaviyo-signature"
TIMESTAMP_HEADER = "klaviyo-timestamp"
WEBHOOK_ID_HEADER = "klaviyo-webhook-id"

DEFAULT_TOLERANCE_S = 5 * 60.0


def sign(body: bytes, timestamp: str, secret: str) -> str:
    """The Klaviyo-Signature value Klaviyo would send (tests, sandboxes)."""
    return hmac.new(secret.encode("utf-8"), body + timestamp.encode("utf-8"), hashlib.sha256).hexdigest()


def _parse_timestamp(value: str) -> float | None:
    """Unix seconds from unix seconds, ISO-8601 or IMF-fixdate; None if none of them fits."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) else None  # "nan" would pass any window check
    try:
        return as_utc(datetime.fromisoformat(value)).timestamp()
    except ValueError:
        pass
    try:
        return as_utc(parsedate_to_datetime(value)).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


class KlaviyoWebhookVerifier:
    vendor: str = "klaviyo"

    def __init__(self, *, tolerance_s: float = DEFAULT_TOLERANCE_S) -> None:
        self.tolerance_s = tolerance_s

    def shop_hint(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        # Klaviyo names its account only inside the body; the URL we register carries ?shop=.
        shop = (query.get("shop") or "").strip().lower()
        return shop or None

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> VerifiedWebhook:
        if not secret:
            raise WebhookSignatureInvalid("klaviyo: no webhook secret configured")
        received = headers.get(SIGNATURE_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        webhook_id = headers.get(WEBHOOK_ID_HEADER)
        if not received or not timestamp or not webhook_id:
            raise WebhookSignatureInvalid(
                f"klaviyo: needs {SIGNATURE_HEADER}, {TIMESTAMP_HEADER} and {WEBHOOK_ID_HEADER} headers"
            )
        expected = sign(body, timestamp, secret)
        if not hmac.compare_digest(
            expected.encode("ascii"), received.strip().lower().encode("utf-8", "replace")
        ):
            raise WebhookSignatureInvalid("klaviyo: HMAC does not match body + timestamp")

        # After the signature, so WebhookStale always means "genuine but old". A signed
        # timestamp we cannot read proves no freshness, so it is refused too.
        sent_at = _parse_timestamp(timestamp)
        if sent_at is None or abs(now - sent_at) > self.tolerance_s:
            raise WebhookStale(f"klaviyo: {TIMESTAMP_HEADER} {timestamp!r} outside ±{self.tolerance_s:.0f}s")

        event_id, topic = self._identity(body, webhook_id)
        return VerifiedWebhook(event_id=event_id, topic=topic, shop_hint=None, triggered_at=timestamp)

    @staticmethod
    def _identity(body: bytes, webhook_id: str) -> tuple[str, str]:
        """Event id and topic of an already verified body.

        Klaviyo has no per-delivery id header (Klaviyo-Webhook-Id names the subscription),
        and Klaviyo-Timestamp and meta.timestamp are "when the webhook request was sent", so
        a retry is unlikely to repeat them byte for byte and a hash of the body would not
        make it look like a duplicate. The events' external_ids (Klaviyo: "ID of the
        event") do, so the id is derived from them, scoped to the webhook subscription.
        """
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return f"{webhook_id}:sha256:{_sha256(body)}", "unknown"
        if not isinstance(doc, dict):
            return f"{webhook_id}:sha256:{_sha256(body)}", "unknown"
        meta = doc.get("meta")
        if isinstance(meta, dict) and meta.get("klaviyo_webhook_id") not in (None, webhook_id):
            # Klaviyo: a mismatch "indicates potential malicious activity".
            raise WebhookSignatureInvalid("klaviyo: meta.klaviyo_webhook_id does not match the header")
        items = doc.get("data")
        items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        ids = sorted({str(i["external_id"]) for i in items if i.get("external_id") not in (None, "")})
        topics = sorted({str(i["topic"]) for i in items if i.get("topic")})
        topic = topics[0] if len(topics) == 1 else ("batch" if topics else "unknown")
        if not ids:
            return f"{webhook_id}:sha256:{_sha256(body)}", topic
        if len(ids) == 1:
            return f"{webhook_id}:{ids[0]}", topic
        joined = "\n".join(ids)
        return f"{webhook_id}:batch:{_sha256(joined)}", topic
