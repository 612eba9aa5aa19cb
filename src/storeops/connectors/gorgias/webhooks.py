"""Verify Gorgias HTTP-integration calls (Gorgias's "webhooks").

Gorgias documents no HMAC. Its outbound webhooks are HTTP integrations: when a trigger
fires (ticket-created, ticket-updated, ticket-message-created, ...), Gorgias calls the
configured URL with the method, headers and body template we set, and the docs say to
authenticate with a secret header you configure (shared/vendor-specs/gorgias/api-notes.yaml,
objects.Integration, from https://developers.gorgias.com/reference/integrations).

Our scheme, set up when storeops creates the integration (type "http"):

    url                     https://<our intake>/...?shop=<shop domain>
    x-storeops-webhook-secret  <the shop's Gorgias webhook secret>   (compared in constant time)
    x-storeops-event-id        a template such as {{ticket.id}}-{{event.id}}
    x-storeops-topic           the trigger name, e.g. ticket-created

The secret travels in clear over TLS on every call, so it proves only that the caller
knows it: nothing binds it to the body. No timestamp is sent, so there is no staleness
check and a captured request can be replayed; the event-id dedupe makes a replay a no-op.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from storeops.connectors.base import VerifiedWebhook
from storeops.core.errors import WebhookSignatureInvalid

SECRET_HEADER = "x-storeops-webhook-secret"  # noqa: S105 - a header name, not a secret
EVENT_ID_HEADER = "x-storeops-event-id"
TOPIC_HEADER = "x-storeops-topic"

# What storeops asks Gorgias to render into EVENT_ID_HEADER (Gorgias template syntax).
EVENT_ID_TEMPLATE = "{{ticket.id}}-{{event.id}}"


def sign(secret: str, *, event_id: str | None = None, topic: str | None = None) -> dict[str, str]:
    """The headers our Gorgias integration sends, as rendered (tests, sandboxes).

    Named `sign` like the other vendors' helpers; for Gorgias "signing" is only the
    shared-secret header, plus the event-id and topic headers we configure.
    """
    headers = {SECRET_HEADER: secret}
    if event_id is not None:
        headers[EVENT_ID_HEADER] = event_id
    if topic is not None:
        headers[TOPIC_HEADER] = topic
    return headers


def _body_id(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class GorgiasWebhookVerifier:
    vendor: str = "gorgias"

    def shop_hint(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        shop = (query.get("shop") or "").strip().lower()
        return shop or None

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> VerifiedWebhook:
        if not secret:
            # An empty configured secret would match an empty header: fail closed.
            raise WebhookSignatureInvalid("gorgias: no webhook secret configured")
        received = headers.get(SECRET_HEADER)
        if not received:
            raise WebhookSignatureInvalid(f"gorgias: missing {SECRET_HEADER} header")
        # Hash both sides first so the comparison does not leak the secret's length.
        if not hmac.compare_digest(
            hashlib.sha256(secret.encode("utf-8")).digest(),
            hashlib.sha256(received.encode("utf-8", "replace")).digest(),
        ):
            raise WebhookSignatureInvalid(f"gorgias: wrong {SECRET_HEADER}")

        # `now` is unused: Gorgias sends no timestamp, so freshness cannot be checked.
        event_id = (headers.get(EVENT_ID_HEADER) or "").strip() or _body_id(body)
        return VerifiedWebhook(
            event_id=event_id,
            topic=headers.get(TOPIC_HEADER) or "unknown",
            shop_hint=None,  # Gorgias names no shop; intake found it with shop_hint(query)
            triggered_at=None,
        )
