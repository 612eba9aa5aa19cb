"""Webhook deliveries as ShipBob sends them (Standard Webhooks signing).

Signed with the sandbox's own code, not our connector's verifier, so each checks the other.
Scheme (shared/vendor-specs/README.md section 3, from developer.shipbob.com/experimental/
webhooks; the same as https://www.standardwebhooks.com):

    webhook-id         unique per message, the same on every retry of it
    webhook-timestamp  unix seconds of this attempt
    webhook-signature  "v1," + base64(HMAC-SHA256(key, f"{id}.{timestamp}.".encode() + body)),
                       key = base64-decode(secret without its "whsec_" prefix)
    x-webhook-topic    e.g. order.shipped

Retry schedule after a failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (the
schedule "immediate, 5s, 5m, 30m, 2h, 5h, 10h, 10h" published in a third-party AsyncAPI
description of ShipBob's webhooks, asyncapi.apis.io/asyncapis/shipbob; ShipBob's own page
says only "exponential backoff"). The sandbox's time_scale divides every delay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

from storeops.sandbox.common import Delivery, WebhookSender
from storeops.sandbox.shipbob.fulfillment import event_body
from storeops.sandbox.shipbob.records import Store

if TYPE_CHECKING:
    from storeops.sandbox.common import VendorSandbox

RETRY_DELAYS_S = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
SECRET_PREFIX = "whsec_"


def signature(message_id: str, timestamp: int | str, body: bytes, secret: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode("ascii")


class WebhookPublisher:
    """Fans an event out to every enabled subscription to its topic."""

    def __init__(self, sandbox: VendorSandbox) -> None:
        self.sandbox = sandbox
        self.sender = WebhookSender(sandbox, retry_delays_s=RETRY_DELAYS_S, sign=self._sign)
        self._secrets: dict[str, str] = {}  # webhook-id -> the secret of its subscription
        self.published: list[dict[str, Any]] = []  # what was sent, for /_sandbox/state

    def publish(self, store: Store, topic: str, payload: dict[str, Any]) -> None:
        body = json.dumps(event_body(topic, payload), separators=(",", ":")).encode()
        for sub in store.subscriptions.values():
            if not sub.enabled or topic not in sub.topics:
                continue
            message_id = "msg_" + store.rng.randbytes(12).hex()
            self._secrets[message_id] = sub.secret
            self.published.append({"webhook_id": message_id, "topic": topic, "subscription_id": sub.id,
                                   "url": sub.url})
            self.sender.send(sub.url, body, {"content-type": "application/json", "webhook-id": message_id,
                                             "x-webhook-topic": topic})

    def _sign(self, delivery: Delivery) -> dict[str, str]:
        message_id = delivery.headers["webhook-id"]
        timestamp = int(time.time())  # each attempt is signed afresh, as Standard Webhooks senders do
        return {"webhook-timestamp": str(timestamp),
                "webhook-signature": signature(message_id, timestamp, delivery.body, self._secrets[message_id])}
