"""POST /webhooks/{vendor}: verify, store durably, answer.

The order matters: size cap (413) -> find the shop and its secret -> verify the
signature on the raw bytes (401, nothing stored) -> group-committed insert into the
inbox -> 200. A duplicate (same vendor event id) is answered 200 and not stored again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from storeops.connectors.base import WebhookVerifier
from storeops.connectors.webhooks import VERIFIERS
from storeops.core.errors import NotFound, WebhookRejected
from storeops.core.metrics import WEBHOOKS
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.shops.services import find_shop, get_credential
from storeops.engine.inbox import InboxWriter, NewEvent

WEBHOOK_SECRET = "webhook_secret"
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Entry:
    shop_id: str | None
    secret: str | None
    expires: float


class ShopDirectory:
    """Shop id and webhook secret per (vendor, shop hint), cached briefly.

    Decrypting a credential costs more than verifying a signature, and forged traffic
    for unknown shops must not reach the database on every request: both positive and
    negative answers are cached for a few seconds.
    """

    def __init__(self, db: Database, box: SecretBox, *, ttl_s: float = 30.0, negative_ttl_s: float = 5.0) -> None:
        self.db = db
        self.box = box
        self.ttl_s = ttl_s
        self.negative_ttl_s = negative_ttl_s
        self._cache: dict[tuple[str, str], _Entry] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    async def lookup(self, vendor: str, hint: str) -> tuple[str, str] | None:
        key = (vendor, hint)
        entry = self._cache.get(key)
        now = time.monotonic()
        if entry is None or entry.expires < now:
            entry = await run_in_threadpool(self._load, vendor, hint, now)
            self._cache[key] = entry
        if entry.shop_id is None or entry.secret is None:
            return None
        return entry.shop_id, entry.secret

    def _load(self, vendor: str, hint: str, now: float) -> _Entry:
        with self.db.system_session() as session:
            try:
                shop = find_shop(session, hint)
            except NotFound:
                return _Entry(None, None, now + self.negative_ttl_s)
            secret = get_credential(session, self.box, shop_id=shop.id, vendor=vendor, name=WEBHOOK_SECRET)
        if secret is None:
            return _Entry(shop.id, None, now + self.negative_ttl_s)
        return _Entry(shop.id, secret.reveal(), now + self.ttl_s)


_JSON_HEADERS = [(b"content-type", b"application/json")]


async def _respond(send: Send, status: int, payload: dict[str, str]) -> None:
    body = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive, more: bool) -> None:
    """Read and drop what is left of a refused body, so the connection stays usable."""
    while more:
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"


class WebhookIntake:
    """A lean ASGI app for POST /webhooks/{vendor}.

    It sits in front of FastAPI because webhook intake is the hot path: FastAPI's and
    Starlette's middleware layers took about 60% of a saturated server's CPU per webhook
    in a py-spy profile of `storeops bench ingest`, while our own work (verify + enqueue
    for the group commit) took about 10%.
    """

    def __init__(self, state: Any) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        vendor = scope["path"][len("/webhooks/"):].strip("/")
        if scope["method"] != "POST":
            await _drain(receive, True)
            await _respond(send, 405, {"error": "webhooks are POSTed"})
            return
        verifier = VERIFIERS.get(vendor)
        if verifier is None:
            await _drain(receive, True)
            await _respond(send, 404, {"error": f"no webhooks from {vendor!r}"})
            return
        limit: int = self.state.settings.webhook_max_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            WEBHOOKS.labels(vendor, "too_large").inc()
            await _drain(receive, True)
            await _respond(send, 413, {"error": f"body over {limit} bytes"})
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away: nothing was acknowledged
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > limit:
                WEBHOOKS.labels(vendor, "too_large").inc()
                await _drain(receive, more)
                await _respond(send, 413, {"error": f"body over {limit} bytes"})
                return
            chunks.append(chunk)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        try:
            status, payload = await self.accept(vendor, verifier, headers, query, body)
        except Exception as exc:  # noqa: BLE001 - answer, never drop the connection
            # Nothing was stored, so a 5xx makes the vendor deliver again later.
            log.error("webhook intake failed", vendor=vendor, error=repr(exc))
            WEBHOOKS.labels(vendor, "error").inc()
            status, payload = 503, {"error": "storeops could not take this webhook now; retry"}
        await _respond(send, status, payload)

    async def accept(self, vendor: str, verifier: WebhookVerifier, headers: dict[str, str],
                     query: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        hint = verifier.shop_hint(headers, query)
        found = await self.state.shops.lookup(vendor, hint) if hint else None
        if found is None:
            WEBHOOKS.labels(vendor, "rejected").inc()
            return 401, {"error": "unknown_shop"}
        shop_id, secret = found
        try:
            verified = verifier.verify(headers, body, secret, now=time.time())
        except WebhookRejected as exc:
            WEBHOOKS.labels(vendor, "rejected").inc()
            return 401, {"error": exc.reason}
        writer: InboxWriter = self.state.inbox_writer
        try:
            is_new = await writer.store(
                NewEvent(shop_id=shop_id, vendor=vendor, event_id=verified.event_id, topic=verified.topic,
                         headers=headers, body=body)
            )
        except Exception:
            # Not stored, so not acknowledged: the vendor will deliver it again.
            WEBHOOKS.labels(vendor, "error").inc()
            return 503, {"error": "could not store the event; retry"}
        outcome = "stored" if is_new else "duplicate"
        WEBHOOKS.labels(vendor, outcome).inc()
        return 200, {"status": outcome, "event_id": verified.event_id}
