"""POST /webhooks/{vendor}: verify, store durably, answer.

The order matters: size cap (413) -> find the shop and its secret -> verify the
signature on the raw bytes (401, nothing stored) -> group-committed insert into the
inbox -> 200. A duplicate (same vendor event id) is answered 200 and not stored again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from storeops.connectors.webhooks import VERIFIERS
from storeops.core.errors import NotFound, WebhookRejected
from storeops.core.metrics import WEBHOOKS
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.shops.services import find_shop, get_credential
from storeops.engine.inbox import InboxWriter, NewEvent

WEBHOOK_SECRET = "webhook_secret"


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


def _reject(vendor: str, status: int, reason: str) -> Response:
    WEBHOOKS.labels(vendor, "too_large" if status == 413 else "rejected").inc()
    return JSONResponse({"error": reason}, status_code=status)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_webhook(request: Request) -> Response:
    vendor: str = request.path_params["vendor"]
    verifier = VERIFIERS.get(vendor)
    if verifier is None:
        return JSONResponse({"error": f"no webhooks from {vendor!r}"}, status_code=404)
    state = request.app.state
    limit: int = state.settings.webhook_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return _reject(vendor, 413, f"body over {limit} bytes")
    body = await _read_capped(request, limit)
    if body is None:
        return _reject(vendor, 413, f"body over {limit} bytes")
    headers = dict(request.headers.items())  # Starlette gives lower-case names
    hint = verifier.shop_hint(headers, request.query_params)
    found = await state.shops.lookup(vendor, hint) if hint else None
    if found is None:
        return _reject(vendor, 401, "unknown_shop")
    shop_id, secret = found
    try:
        verified = verifier.verify(headers, body, secret, now=time.time())
    except WebhookRejected as exc:
        return _reject(vendor, 401, exc.reason)
    writer: InboxWriter = state.inbox_writer
    try:
        is_new = await writer.store(
            NewEvent(shop_id=shop_id, vendor=vendor, event_id=verified.event_id, topic=verified.topic,
                     headers=headers, body=body)
        )
    except Exception:
        # Not stored, so not acknowledged: the vendor will deliver it again.
        WEBHOOKS.labels(vendor, "error").inc()
        return JSONResponse({"error": "could not store the event; retry"}, status_code=503)
    outcome = "stored" if is_new else "duplicate"
    WEBHOOKS.labels(vendor, outcome).inc()
    return JSONResponse({"status": outcome, "event_id": verified.event_id})
