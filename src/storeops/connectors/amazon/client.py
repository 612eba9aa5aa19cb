"""The Amazon Selling Partner API client: listings, FBA inventory, JSON listings feeds.

Every SP-API call: take an access token (auth.py), wait for the operation's limiter
(limits.py), send with x-amz-access-token, raise VendorError on >= 400, never retry.

Amazon sends no Retry-After on 429 (the models declare only x-amzn-RequestId there), so
the client fills VendorError.retry_after with the time one request's worth of quota takes
to refill (1 / the operation's rate) and holds the operation's limiter that long; the
engine's RetryPolicy then waits as told instead of guessing.

Amazon pushes notifications through SQS / EventBridge, never HTTP webhooks, so
ensure_subscriptions() creates nothing: storeops polls (inventory_summaries,
listings_changed_since) on its reconciliation schedule.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from storeops.connectors.amazon import feeds
from storeops.connectors.amazon.auth import LWA_TOKEN_URL, LwaTokens
from storeops.connectors.amazon.errors import is_token_rejection
from storeops.connectors.amazon.limits import OperationLimiters
from storeops.connectors.http import VendorClient
from storeops.core.errors import ConfigError, InvalidInput, VendorError

LISTINGS_API_VERSION = "2021-08-01"
FEEDS_API_VERSION = "2021-06-30"
FBA_INVENTORY_API_VERSION = "v1"
SP_API_NA_URL = "https://sellingpartnerapi-na.amazon.com"
USER_AGENT = "storeops/0.1 (Language=Python)"  # Amazon asks for "AppName/Version (Language=...)"
ITEM_DATA = ("summaries", "attributes", "issues", "offers", "fulfillmentAvailability")
SEARCH_PAGE_SIZE = 20  # searchListingsItems' maximum
# set_quantities' break-even. Patching costs one patchListingsItem per SKU. A feed costs
# three calls to submit (createFeedDocument, the document upload, createFeed) and at least
# three to learn the outcome (getFeed until DONE, getFeedDocument, the report download),
# so below FEED_BREAK_EVEN + 1 SKUs patches are cheaper — and they answer at once, while a
# feed takes minutes and createFeed refills only one request per two minutes.
FEED_SUBMIT_CALLS = 3
FEED_MIN_FOLLOW_UP_CALLS = 3
FEED_BREAK_EVEN = FEED_SUBMIT_CALLS + FEED_MIN_FOLLOW_UP_CALLS


@dataclass(frozen=True, slots=True)
class Submission:
    """A ListingsItemSubmissionResponse."""

    sku: str
    status: str  # ACCEPTED | INVALID | VALID (VALIDATION_PREVIEW)
    submission_id: str
    issues: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status in ("ACCEPTED", "VALID")


@dataclass(frozen=True, slots=True)
class QuantityUpdate:
    """What set_quantities did: per-SKU patch submissions, or one feed to poll."""

    path: str  # "patch" | "feed" | "none"
    submissions: dict[str, Submission] = field(default_factory=dict)
    feed_id: str | None = None


def _wire_number(value: object) -> float:
    """Decimal money -> JSON number: Amazon's attribute schemas type prices (value_with_tax,
    list_price.value) as numbers. float's shortest repr keeps "19.99" as 19.99 on the wire."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InvalidInput("a timezone-aware datetime is required", field="since")
    return moment.isoformat().replace("+00:00", "Z")


class AmazonClient(VendorClient):
    vendor = "amazon"

    def __init__(self, seller_id: str, marketplace_id: str, client_id: str, client_secret: str,
                 refresh_token: str, base_url: str = SP_API_NA_URL, lwa_url: str = LWA_TOKEN_URL, *,
                 limiters: OperationLimiters | None = None, clock: Callable[[], float] = time.monotonic,
                 timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None, feed_break_even: int = FEED_BREAK_EVEN) -> None:
        super().__init__(base_url, headers={"accept": "application/json", "user-agent": USER_AGENT},
                         timeout_s=timeout_s, transport=transport)
        self.seller_id = seller_id
        self.marketplace_id = marketplace_id
        self.limiters = limiters or OperationLimiters(seller_id)
        self.feed_break_even = feed_break_even
        self.tokens = LwaTokens(self._post_form, token_url=lwa_url, client_id=client_id,
                                client_secret=client_secret, refresh_token=refresh_token, clock=clock)

    # --- plumbing --------------------------------------------------------------------------
    def _post_form(self, url: str, form: dict[str, str]) -> httpx.Response:
        self.calls += 1
        return self.http.post(url, data=form)

    def refresh_auth(self) -> None:
        """The engine's RetryPolicy refresh_auth hook: exchange a new access token."""
        self.tokens.refresh()

    def _call(self, operation: str, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              body: Any = None) -> httpx.Response:
        limiter = self.limiters.get(operation)
        limiter.acquire()  # first: a long wait (createFeed refills every 2 min) must not age the token
        headers = {"x-amz-access-token": self.tokens.access_token()}
        content = None
        if body is not None:
            content = json.dumps(body, default=_wire_number).encode()
            headers["content-type"] = "application/json"
        query = {k: ",".join(v) if isinstance(v, list | tuple) else v
                 for k, v in (params or {}).items() if v is not None}
        try:
            response = self.request(method, path, params=query, content=content, headers=headers)
        except VendorError as exc:
            if exc.status == 403 and is_token_rejection(exc.body):
                self.tokens.invalidate()  # the next attempt exchanges a fresh token
            elif exc.status == 429:
                refill_s = 1 / self.limiters.plan(operation).rate_per_s
                limiter.observe(retry_after_s=refill_s)
                if exc.retry_after is None:
                    exc.retry_after = refill_s
            raise
        self.limiters.observe_rate_header(operation, response.headers.get("x-amzn-ratelimit-limit"))
        return response

    def _item_path(self, sku: str) -> str:
        return f"/listings/{LISTINGS_API_VERSION}/items/{quote(self.seller_id, safe='')}/{quote(sku, safe='')}"

    @staticmethod
    def _submission(body: dict[str, Any]) -> Submission:
        return Submission(body["sku"], body["status"], body["submissionId"], list(body.get("issues") or []))

    # --- Connector protocol ----------------------------------------------------------------
    def check(self) -> None:
        """A fresh LWA exchange, then one cheap searchListingsItems (pageSize=1)."""
        self.tokens.refresh()
        try:
            self._search({"pageSize": 1})
        except VendorError as exc:
            if exc.status in (401, 403):
                raise ConfigError(f"amazon: seller {self.seller_id} refused a fresh access token: "
                                  "is the app authorized for this seller, with the Product Listing role?") from exc
            raise

    def ensure_subscriptions(self, callback_url: str) -> list[str]:
        """Nothing to create: Amazon notifies through SQS / EventBridge, not HTTP; storeops polls."""
        return []

    # --- listings --------------------------------------------------------------------------
    def get_listing(self, sku: str, included: Sequence[str] = ITEM_DATA) -> dict[str, Any] | None:
        """The listing (an Item of the model) with the `included` data sets; None if Amazon has none."""
        try:
            response = self._call("getListingsItem", "GET", self._item_path(sku),
                                  params={"marketplaceIds": [self.marketplace_id], "includedData": list(included)})
        except VendorError as exc:
            if exc.status == 404:
                return None
            raise
        return response.json()  # type: ignore[no-any-return]

    def put_listing(self, sku: str, product_type: str, attributes: Mapping[str, Any], *,
                    requirements: str = "LISTING", preview: bool = False) -> Submission:
        params: dict[str, Any] = {"marketplaceIds": [self.marketplace_id], "includedData": ["issues"]}
        if preview:
            params["mode"] = "VALIDATION_PREVIEW"
        body = {"productType": product_type, "requirements": requirements, "attributes": dict(attributes)}
        response = self._call("putListingsItem", "PUT", self._item_path(sku), params=params, body=body)
        return self._submission(response.json())

    def patch_listing(self, sku: str, patches: Sequence[Mapping[str, Any]], *,
                      product_type: str = feeds.OFFER_ONLY_PRODUCT_TYPE, preview: bool = False) -> Submission:
        if not patches:
            raise InvalidInput("patch_listing needs at least one patch", field="patches")
        params: dict[str, Any] = {"marketplaceIds": [self.marketplace_id], "includedData": ["issues"]}
        if preview:
            params["mode"] = "VALIDATION_PREVIEW"
        body = {"productType": product_type, "patches": [dict(p) for p in patches]}
        response = self._call("patchListingsItem", "PATCH", self._item_path(sku), params=params, body=body)
        return self._submission(response.json())

    def validate_listing(self, sku: str, product_type: str, attributes: Mapping[str, Any], *,
                         requirements: str = "LISTING") -> list[dict[str, Any]]:
        """Amazon's issues for this listing, saving nothing (mode=VALIDATION_PREVIEW)."""
        return self.put_listing(sku, product_type, attributes, requirements=requirements, preview=True).issues

    def delete_listing(self, sku: str) -> Submission:
        response = self._call("deleteListingsItem", "DELETE", self._item_path(sku),
                              params={"marketplaceIds": [self.marketplace_id]})
        return self._submission(response.json())

    def _search(self, params: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/listings/{LISTINGS_API_VERSION}/items/{quote(self.seller_id, safe='')}"
        response = self._call("searchListingsItems", "GET", path,
                              params={"marketplaceIds": [self.marketplace_id], **params})
        return response.json()  # type: ignore[no-any-return]

    def listings_changed_since(self, since: datetime, included: Sequence[str] = ITEM_DATA) -> list[dict[str, Any]]:
        """Every listing updated after `since` (reconciliation), oldest change first."""
        params: dict[str, Any] = {"lastUpdatedAfter": _utc(since), "sortBy": "lastUpdatedDate", "sortOrder": "ASC",
                                  "pageSize": SEARCH_PAGE_SIZE, "includedData": list(included)}
        found: dict[str, dict[str, Any]] = {}
        while True:
            page = self._search(params)
            for item in page.get("items", []):
                found[item["sku"]] = item  # an item updated mid-walk may show up twice
            token = (page.get("pagination") or {}).get("nextToken")
            if not token:
                return list(found.values())
            params = {**params, "pageToken": token}

    # --- FBA inventory ---------------------------------------------------------------------
    def inventory_summaries(self, changed_since: datetime | None = None, *,
                            details: bool = True) -> list[dict[str, Any]]:
        """All FBA inventory summaries (or those changed after `changed_since`), every page.

        nextToken lives 30 s (fbaInventory.json); at 2 requests/s we fetch the next page
        well within that, and the same startDateTime goes with every page, as Amazon asks."""
        params: dict[str, Any] = {"granularityType": "Marketplace", "granularityId": self.marketplace_id,
                                  "marketplaceIds": [self.marketplace_id], "details": "true" if details else "false"}
        if changed_since is not None:
            params["startDateTime"] = _utc(changed_since)
        summaries: list[dict[str, Any]] = []
        while True:
            body = self._call("getInventorySummaries", "GET", f"/fba/inventory/{FBA_INVENTORY_API_VERSION}/summaries",
                              params=params).json()
            summaries += (body.get("payload") or {}).get("inventorySummaries", [])
            token = (body.get("pagination") or {}).get("nextToken")
            if not token:
                return summaries
            params = {**params, "nextToken": token}

    # --- feeds -----------------------------------------------------------------------------
    def submit_listings_feed(self, messages: Sequence[Mapping[str, Any]], *,
                             included_data: Iterable[str] | None = None) -> str:
        """Create a feed document, upload the JSON_LISTINGS_FEED to it, create the feed."""
        document = feeds.listings_feed(self.seller_id, messages, included_data=included_data,
                                       api_version=LISTINGS_API_VERSION)
        created = self._call("createFeedDocument", "POST", f"/feeds/{FEEDS_API_VERSION}/documents",
                             body={"contentType": feeds.FEED_CONTENT_TYPE}).json()
        # The upload URL is pre-signed S3: no SP-API token, and the signed Content-Type.
        self.request("PUT", created["url"], content=feeds.encode(document),
                     headers={"content-type": feeds.FEED_CONTENT_TYPE})
        feed = self._call("createFeed", "POST", f"/feeds/{FEEDS_API_VERSION}/feeds",
                          body={"feedType": feeds.FEED_TYPE, "marketplaceIds": [self.marketplace_id],
                                "inputFeedDocumentId": created["feedDocumentId"]}).json()
        return str(feed["feedId"])

    def feed_status(self, feed_id: str) -> dict[str, Any]:
        """The Feed: processingStatus IN_QUEUE | IN_PROGRESS | DONE | FATAL | CANCELLED."""
        return self._call("getFeed", "GET",  # type: ignore[no-any-return]
                          f"/feeds/{FEEDS_API_VERSION}/feeds/{quote(feed_id, safe='')}").json()

    def feed_report(self, feed_id: str) -> dict[str, Any] | None:
        """The processing report once the feed is DONE or FATAL; None while it works."""
        feed = self.feed_status(feed_id)
        document_id = feed.get("resultFeedDocumentId")
        if feed.get("processingStatus") not in ("DONE", "FATAL") or not document_id:
            return None
        document = self._call("getFeedDocument", "GET",
                              f"/feeds/{FEEDS_API_VERSION}/documents/{quote(document_id, safe='')}").json()
        content = self.request("GET", document["url"]).content
        try:
            return feeds.decode_report(content, document.get("compressionAlgorithm"))
        except (ValueError, OSError) as exc:
            raise VendorError(self.vendor, f"unreadable processing report for feed {feed_id}") from exc

    # --- stock sync ------------------------------------------------------------------------
    def set_quantities(self, quantities: Mapping[str, int], *,
                       product_types: Mapping[str, str] | None = None) -> QuantityUpdate:
        """Set merchant-fulfilled quantities the cheaper way (see FEED_BREAK_EVEN).

        Absolute quantities make this safe to repeat: a retry after a partial failure
        re-sends the same numbers."""
        checked = {sku: feeds.check_quantity(sku, qty) for sku, qty in quantities.items()}
        types = product_types or {}
        if not checked:
            return QuantityUpdate("none")
        if len(checked) <= self.feed_break_even:
            return QuantityUpdate("patch", {
                sku: self.patch_listing(sku, [feeds.quantity_patch(qty)],
                                        product_type=types.get(sku, feeds.OFFER_ONLY_PRODUCT_TYPE))
                for sku, qty in checked.items()})
        messages = [feeds.quantity_message(sku, qty, types.get(sku, feeds.OFFER_ONLY_PRODUCT_TYPE))
                    for sku, qty in checked.items()]
        return QuantityUpdate("feed", feed_id=self.submit_listings_feed(messages))
