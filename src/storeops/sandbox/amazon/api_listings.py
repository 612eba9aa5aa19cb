"""Listings Items API 2021-08-01 routes (listingsItems_2021-08-01.json).

GET/PUT/PATCH/DELETE /listings/2021-08-01/items/{sellerId}/{sku} and the search
GET /listings/2021-08-01/items/{sellerId} (the cheap read storeops uses for check() and
"changed since" reconciliation).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from storeops.sandbox.amazon.http import (
    BadRequest,
    Denied,
    NotFoundError,
    csv_param,
    datetime_param,
    int_param,
    json_body,
    marketplace_param,
)
from storeops.sandbox.amazon.listings import Listing, Submission

if TYPE_CHECKING:
    from storeops.sandbox.amazon.app import AmazonSandbox

ITEM_DATA = ("summaries", "attributes", "issues", "offers", "fulfillmentAvailability", "procurement",
             "relationships", "productTypes")
SUBMISSION_DATA = ("identifiers", "issues")
REQUIREMENTS = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")
PATCH_OPS = ("add", "replace", "merge", "delete")
SORT_KEYS = {"sku": lambda item: item.sku, "createdDate": lambda item: item.created,
             "lastUpdatedDate": lambda item: item.updated}


def _own_seller(request: Request, seller_id: str) -> None:
    if request.path_params["sellerId"] != seller_id:
        raise Denied("The access token does not belong to this sellerId.")


async def get_item(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    _own_seller(request, seller_id)
    marketplace_param(request, sb.marketplace_id)
    included = csv_param(request, "includedData", allowed=ITEM_DATA, default=["summaries"])
    sku = request.path_params["sku"]
    listing = sb.store.items.get(sku)
    if listing is None:
        raise NotFoundError(f"SKU '{sku}' not found in marketplace {sb.marketplace_id}")
    return JSONResponse(sb.store.render(listing, included))


def _submission_options(request: Request) -> tuple[bool, list[str]]:
    mode = request.query_params.get("mode")
    if mode not in (None, "VALIDATION_PREVIEW"):
        raise BadRequest("'mode' must be VALIDATION_PREVIEW when given.")
    preview = mode == "VALIDATION_PREVIEW"
    included = csv_param(request, "includedData", allowed=SUBMISSION_DATA, default=["issues"])
    if "identifiers" in included and not preview:
        raise BadRequest("includedData 'identifiers' can only be requested when mode is VALIDATION_PREVIEW.")
    return preview, included


def _submission_body(sb: AmazonSandbox, result: Submission, included: list[str], *,
                     existing: Listing | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"sku": result.sku, "status": result.status, "submissionId": sb.new_uuid()}
    if "issues" in included:
        body["issues"] = result.issues
    if "identifiers" in included:
        listing = result.listing or existing
        body["identifiers"] = ([{"marketplaceId": sb.marketplace_id, "asin": listing.asin}]
                               if listing is not None and result.accepted else [])
    return body


async def put_item(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    _own_seller(request, seller_id)
    marketplace_param(request, sb.marketplace_id, max_items=1)
    preview, included = _submission_options(request)
    body = await json_body(request)
    product_type, attributes = body.get("productType"), body.get("attributes")
    requirements = body.get("requirements", "LISTING")
    if not isinstance(product_type, str) or not isinstance(attributes, dict):
        raise BadRequest("The body needs 'productType' (string) and 'attributes' (object).")
    if requirements not in REQUIREMENTS:
        raise BadRequest(f"'requirements' must be one of {', '.join(REQUIREMENTS)}.")
    sku = request.path_params["sku"]
    result = sb.store.put(sku, product_type, requirements, attributes, preview=preview)
    return JSONResponse(_submission_body(sb, result, included))


async def patch_item(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    _own_seller(request, seller_id)
    marketplace_param(request, sb.marketplace_id)
    preview, included = _submission_options(request)
    body = await json_body(request)
    product_type, patches = body.get("productType"), body.get("patches")
    if not isinstance(product_type, str) or not isinstance(patches, list) or not patches:
        raise BadRequest("The body needs 'productType' (string) and 'patches' (a non-empty array).")
    for patch in patches:
        if not isinstance(patch, dict) or patch.get("op") not in PATCH_OPS or not isinstance(patch.get("path"), str):
            raise BadRequest(f"Every patch needs 'op' ({', '.join(PATCH_OPS)}) and a string 'path'.")
    sku = request.path_params["sku"]
    result = sb.store.patch(sku, product_type, patches, preview=preview)
    return JSONResponse(_submission_body(sb, result, included, existing=sb.store.items.get(sku)))


async def delete_item(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    _own_seller(request, seller_id)
    marketplace_param(request, sb.marketplace_id, max_items=1)
    result = sb.store.delete(request.path_params["sku"])
    return JSONResponse(_submission_body(sb, result, ["issues"]))


def _page_token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "q": fingerprint}).encode()).decode()


def _read_page_token(token: str, fingerprint: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
        same = data["q"] == fingerprint
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest("Invalid pageToken.") from exc
    if not same:
        raise BadRequest("pageToken does not belong to this query.")
    return offset


def _within(moment: datetime, after: datetime | None, before: datetime | None) -> bool:
    return (after is None or moment > after) and (before is None or moment < before)


async def search_items(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    _own_seller(request, seller_id)
    marketplace_param(request, sb.marketplace_id)
    included = csv_param(request, "includedData", allowed=ITEM_DATA, default=["summaries"])
    identifiers = csv_param(request, "identifiers", max_items=20)
    identifiers_type = request.query_params.get("identifiersType")
    if identifiers and identifiers_type not in ("SKU", "ASIN", "FNSKU"):
        raise BadRequest("'identifiers' needs identifiersType SKU, ASIN or FNSKU in this sandbox.")
    created_after, created_before = datetime_param(request, "createdAfter"), datetime_param(request, "createdBefore")
    updated_after = datetime_param(request, "lastUpdatedAfter")
    updated_before = datetime_param(request, "lastUpdatedBefore")
    sort_by = request.query_params.get("sortBy", "lastUpdatedDate")
    sort_order = request.query_params.get("sortOrder", "DESC")
    if sort_by not in SORT_KEYS or sort_order not in ("ASC", "DESC"):
        raise BadRequest("Invalid sortBy or sortOrder.")
    page_size = int_param(request, "pageSize", default=10, minimum=1, maximum=20)
    items = [item for item in sb.store.items.values()
             if _within(item.created, created_after, created_before)
             and _within(item.updated, updated_after, updated_before)]
    if identifiers:
        key = {"SKU": "sku", "ASIN": "asin", "FNSKU": "fn_sku"}[identifiers_type or "SKU"]
        wanted = set(identifiers)
        items = [item for item in items if getattr(item, key) in wanted]
    items.sort(key=lambda item: (SORT_KEYS[sort_by](item), item.sku), reverse=sort_order == "DESC")
    fingerprint = hashlib.sha256(json.dumps(
        {k: v for k, v in request.query_params.items() if k != "pageToken"}, sort_keys=True).encode()).hexdigest()[:16]
    token = request.query_params.get("pageToken")
    offset = _read_page_token(token, fingerprint) if token else 0
    page = items[offset: offset + page_size]
    pagination: dict[str, str] = {}
    if offset + page_size < len(items):
        pagination["nextToken"] = _page_token(offset + page_size, fingerprint)
    if offset > 0:
        pagination["previousToken"] = _page_token(max(0, offset - page_size), fingerprint)
    body: dict[str, Any] = {"numberOfResults": len(items), "items": [sb.store.render(i, included) for i in page]}
    if pagination:
        body["pagination"] = pagination
    return JSONResponse(body)
