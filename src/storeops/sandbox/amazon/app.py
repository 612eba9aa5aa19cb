"""The Amazon Selling Partner API sandbox: LWA, Listings Items, FBA Inventory, Feeds.

Every SP-API request passes one gate, in this order: feeds due by now are advanced; the
x-amz-access-token must be a live LWA token (else 403 Unauthorized); the seller's token
bucket for the operation must have a token (else 429 QuotaExceeded, see plans.py); then
the route runs. Responses carry x-amzn-RequestId, and x-amzn-RateLimit-Limit where the
models declare it (2xx, 400, 404).

Time: rate limits and nextToken lifetimes use the raw `clock` (they pace the caller and
are real); access-token lifetimes, feed progress and pre-signed URL expiry use sandbox
time = elapsed * time_scale (+ /_sandbox/advance), so hours pass in seconds in a demo.

Extra control route: POST /_sandbox/advance {"seconds": n} moves sandbox time forward
(tokens expire, feeds progress); with no "seconds" it finishes every queued feed now.
Injected faults (/_sandbox/faults) hit SP-API routes only, not LWA or the document
bucket, and a 429 carries no Retry-After because Amazon sends none.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from storeops.sandbox.amazon import api_feeds, api_inventory, api_listings
from storeops.sandbox.amazon.auth import UNAUTHORIZED_MESSAGE, LoginWithAmazon, lwa_error, make_credentials
from storeops.sandbox.amazon.feeds import (
    IN_PROGRESS_S,
    IN_QUEUE_S,
    Document,
    Feed,
    encode_report,
    process_listings_feed,
)
from storeops.sandbox.amazon.http import BadRequest, Denied, NotFoundError, error_list, error_response
from storeops.sandbox.amazon.inventory import FbaRecord, InventoryPager
from storeops.sandbox.amazon.listings import ListingStore, default_quantity, iso, statuses
from storeops.sandbox.amazon.plans import USAGE_PLANS, Throttle, operation_for
from storeops.sandbox.amazon.seed import amazon_id, seed
from storeops.sandbox.common import VendorSandbox

MARKETPLACE_ID = "ATVPDKIKX0DER"  # amazon.com (US)
LWA_TOKEN_PATH = "/auth/o2/token"
QUOTA_MESSAGE = "You exceeded your quota for the requested resource."
# Statuses whose responses declare x-amzn-RateLimit-Limit in the models.
RATE_HEADER_STATUSES = frozenset({200, 201, 202, 400, 404})
ERROR_CODES = {400: ("InvalidInput", "Invalid input"), 403: ("Unauthorized", UNAUTHORIZED_MESSAGE),
               404: ("NotFound", "Resource not found"), 413: ("RequestTooLarge", "Request too large"),
               415: ("UnsupportedMediaType", "Unsupported media type"), 429: ("QuotaExceeded", QUOTA_MESSAGE),
               500: ("InternalFailure", "We encountered an internal error. Please try again."),
               503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again.")}

SpApiHandler = Callable[[Any, Request, str], Awaitable[Response]]


class AmazonSandbox(VendorSandbox):
    name = "amazon"

    def __init__(self, *, seed: int = 0, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 products_limit: int | None = None) -> None:
        self.marketplace_id = MARKETPLACE_ID
        self.products_limit = products_limit
        self.app_credentials = make_credentials(seed)
        self._wall0 = datetime.now(UTC).replace(microsecond=0)
        super().__init__(seed=seed, time_scale=time_scale, clock=clock)

    # --- time -----------------------------------------------------------------------------
    def now_s(self) -> float:
        """Sandbox seconds since the seed (scaled, plus /_sandbox/advance)."""
        return (self.clock() - self._t0) * self.time_scale + self._offset_s

    def now_dt(self) -> datetime:
        return self._wall0 + timedelta(seconds=self.now_s())

    # --- state ----------------------------------------------------------------------------
    def seed_state(self) -> None:
        self._t0 = self.clock()
        self._offset_s = 0.0
        self.lwa = LoginWithAmazon(self.app_credentials, self.rng, self.now_s)
        self.throttle = Throttle(self.clock)
        self.store = ListingStore(self.marketplace_id, self.now_dt, lambda: amazon_id(self.rng, "B0", 10),
                                  lambda: amazon_id(self.rng, "X00", 10))
        self.fba: dict[str, FbaRecord]
        self.store.items, self.fba = seed(self.rng, self.now_dt(), self.marketplace_id, self.products_limit)
        # nextToken's 30 s is about the caller's pace, which real rate limits set: raw clock.
        self.pager = InventoryPager(self.clock, self.now_dt, lambda: f"{self.rng.getrandbits(192):048x}")
        self.documents: dict[str, Document] = {}
        self.feeds: dict[str, Feed] = {}
        self._next_feed = 50_001_000_000 + self.rng.randrange(1_000_000)

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_document(self, content_type: str, seller_id: str, *, content: bytes | None = None,
                     compression: str | None = None) -> Document:
        document_id = f"amzn1.tortuga.4.na.{self.new_uuid()}.{amazon_id(self.rng, 'T', 14)}"
        key = hashlib.sha256(f"{self.seed}:{document_id}".encode()).digest()
        document = Document(document_id, content_type, content, compression, key, seller_id,
                            is_result=content is not None)
        self.documents[document_id] = document
        return document

    def new_feed(self, seller_id: str, feed_type: str, marketplaces: list[str], document_id: str) -> Feed:
        self._next_feed += 1
        feed = Feed(str(self._next_feed), seller_id, feed_type, marketplaces, document_id, self.now_s(), self.now_dt())
        self.feeds[feed.feed_id] = feed
        return feed

    def set_fba_quantity(self, sku: str, fulfillable: int) -> None:
        """Move FBA stock as Amazon's warehouses would (tests, the store simulator)."""
        record = self.fba[sku]
        record.fulfillable = fulfillable
        record.updated = self.now_dt()

    def tick(self, *, finish: bool = False) -> None:
        """Advance feeds to where sandbox time says they are (or all the way)."""
        now = self.now_s()
        for feed in self.feeds.values():
            if feed.status in ("DONE", "FATAL", "CANCELLED"):
                continue
            start_at = feed.created_s + IN_QUEUE_S
            if feed.status == "IN_QUEUE" and (finish or now >= start_at):
                feed.status = "IN_PROGRESS"
                feed.started = self.now_dt() if finish else feed.created + timedelta(seconds=IN_QUEUE_S)
            if feed.status == "IN_PROGRESS" and (finish or now >= start_at + IN_PROGRESS_S):
                self._process(feed, finish=finish)

    def _process(self, feed: Feed, *, finish: bool) -> None:
        document = self.documents.get(feed.input_document_id)
        status, report = process_listings_feed(self.store, document.content if document else None,
                                               seller_id=feed.seller_id, feed_id=feed.feed_id)
        result = self.new_document("application/json", feed.seller_id, content=encode_report(report),
                                   compression="GZIP")
        feed.status = status
        feed.result_document_id = result.document_id
        feed.ended = self.now_dt() if finish else feed.created + timedelta(seconds=IN_QUEUE_S + IN_PROGRESS_S)

    def dump_state(self) -> dict[str, Any]:
        self.tick()
        return {
            "seller_id": self.app_credentials.seller_id,
            "marketplace_id": self.marketplace_id,
            "now": iso(self.now_dt()),
            "listings": {sku: {"productType": item.product_type, "status": statuses(item),
                               "quantity": default_quantity(item.attributes), "issues": len(item.issues),
                               "lastUpdatedDate": iso(item.updated)}
                         for sku, item in self.store.items.items()},
            "fba": {sku: {"fulfillable": r.fulfillable, "total": r.total, "lastUpdatedTime": iso(r.updated)}
                    for sku, r in self.fba.items()},
            "feeds": [api_feeds.feed_body(feed) for feed in self.feeds.values()],
            "documents": len(self.documents),
            "lwa_exchanges": self.lwa.exchanges,
        }

    def credentials(self) -> dict[str, str]:
        app = self.app_credentials
        return {"client_id": app.client_id, "client_secret": app.client_secret, "refresh_token": app.refresh_token,
                "seller_id": app.seller_id, "marketplace_id": self.marketplace_id}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "lwa_token_url": f"{self.base_url}{LWA_TOKEN_PATH}",
                "marketplace_id": self.marketplace_id}

    # --- faults ---------------------------------------------------------------------------
    def error_body(self, status: int) -> dict[str, Any]:
        code, message = ERROR_CODES.get(status, ("InternalFailure", "injected fault"))
        return error_list(code, message)

    def fault_headers(self, status: int) -> dict[str, str]:
        return {"x-amzn-RequestId": self.new_uuid()}  # and no Retry-After: Amazon sends none

    async def maybe_fault(self, request: Request) -> Response | None:
        if operation_for(request.method, request.url.path) is None:
            return None  # LWA and the document bucket are other services
        return await super().maybe_fault(request)

    # --- routes ---------------------------------------------------------------------------
    def _sp_api(self, operation: str, handler: SpApiHandler) -> Callable[[Request], Awaitable[Response]]:
        plan = USAGE_PLANS[operation]

        async def endpoint(request: Request) -> Response:
            self.tick()
            seller_id, details = self.lwa.seller_for(request.headers.get("x-amz-access-token"))
            if seller_id is None:
                response: Response = error_response(403, "Unauthorized", UNAUTHORIZED_MESSAGE, details)
            elif not self.throttle.allow(seller_id, operation):
                self.stats.throttled += 1
                response = error_response(429, "QuotaExceeded", QUOTA_MESSAGE)
            else:
                try:
                    response = await handler(self, request, seller_id)
                except BadRequest as exc:
                    response = error_response(400, "InvalidInput", str(exc))
                except NotFoundError as exc:
                    response = error_response(404, "NotFound", str(exc))
                except Denied as exc:
                    response = error_response(403, "Unauthorized", UNAUTHORIZED_MESSAGE, str(exc))
            response.headers["x-amzn-RequestId"] = self.new_uuid()
            if response.status_code in RATE_HEADER_STATUSES:
                response.headers["x-amzn-RateLimit-Limit"] = plan.header
            return response

        return endpoint

    async def _lwa_token(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        try:
            if content_type.startswith("application/json"):
                raw = await request.json()
                form = {k: str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
            else:
                form = {k: str(v) for k, v in (await request.form()).items()}
        except ValueError:
            return JSONResponse(lwa_error("invalid_request", "The request body could not be parsed"), status_code=400)
        status, body = self.lwa.exchange(form)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    async def _advance(self, request: Request) -> Response:
        raw = await request.body()
        body = await request.json() if raw.strip() else {}
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if seconds is None:
            self.tick(finish=True)
        else:
            self._offset_s += max(0.0, float(seconds))
            self.tick()
        return JSONResponse({"now": iso(self.now_dt()),
                             "feeds": {f.feed_id: f.status for f in self.feeds.values()}})

    def routes(self) -> list[BaseRoute]:
        item = "/listings/2021-08-01/items/{sellerId}/{sku:path}"

        def s3(handler: Callable[[Any, Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                self.tick()
                return await handler(self, request)
            return endpoint

        return [
            Route(LWA_TOKEN_PATH, self._lwa_token, methods=["POST"]),
            Route("/_sandbox/advance", self._advance, methods=["POST"]),
            Route("/listings/2021-08-01/items/{sellerId}",
                  self._sp_api("searchListingsItems", api_listings.search_items), methods=["GET"]),
            Route(item, self._sp_api("getListingsItem", api_listings.get_item), methods=["GET"]),
            Route(item, self._sp_api("putListingsItem", api_listings.put_item), methods=["PUT"]),
            Route(item, self._sp_api("patchListingsItem", api_listings.patch_item), methods=["PATCH"]),
            Route(item, self._sp_api("deleteListingsItem", api_listings.delete_item), methods=["DELETE"]),
            Route("/fba/inventory/v1/summaries", self._sp_api("getInventorySummaries", api_inventory.get_summaries),
                  methods=["GET"]),
            Route("/feeds/2021-06-30/documents", self._sp_api("createFeedDocument", api_feeds.create_document),
                  methods=["POST"]),
            Route("/feeds/2021-06-30/documents/{feedDocumentId}",
                  self._sp_api("getFeedDocument", api_feeds.get_document), methods=["GET"]),
            Route("/feeds/2021-06-30/feeds", self._sp_api("createFeed", api_feeds.create_feed), methods=["POST"]),
            Route("/feeds/2021-06-30/feeds/{feedId}", self._sp_api("getFeed", api_feeds.get_feed), methods=["GET"]),
            Route("/feeds/2021-06-30/feeds/{feedId}", self._sp_api("cancelFeed", api_feeds.cancel_feed),
                  methods=["DELETE"]),
            Route("/_s3/tortuga/{documentId}", s3(api_feeds.s3_put), methods=["PUT"]),
            Route("/_s3/tortuga/{documentId}", s3(api_feeds.s3_get), methods=["GET"]),
        ]
