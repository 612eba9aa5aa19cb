"""FBA Inventory v1 route: GET /fba/inventory/v1/summaries (fbaInventory.json)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from storeops.sandbox.amazon.http import BadRequest, bool_param, csv_param, datetime_param, marketplace_param
from storeops.sandbox.amazon.inventory import MAX_SELLER_SKUS, InvalidQuery, summary

if TYPE_CHECKING:
    from storeops.sandbox.amazon.app import AmazonSandbox


async def get_summaries(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    query = request.query_params
    if query.get("granularityType") != "Marketplace":
        raise BadRequest("granularityType is required and must be Marketplace.")
    if query.get("granularityId") != sb.marketplace_id:
        raise BadRequest("granularityId is required and must be the marketplace ID.")
    marketplace_param(request, sb.marketplace_id, max_items=1)
    details = bool_param(request, "details")
    start = datetime_param(request, "startDateTime")
    skus = csv_param(request, "sellerSkus", max_items=MAX_SELLER_SKUS) or None
    try:
        records, token = sb.pager.page(sb.fba, start=start, seller_skus=skus, seller_sku=query.get("sellerSku"),
                                       next_token=query.get("nextToken"))
    except InvalidQuery as exc:
        raise BadRequest(str(exc)) from exc
    body: dict[str, Any] = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": sb.marketplace_id},
            "inventorySummaries": [summary(r, sb.marketplace_id, details=details) for r in records],
        },
    }
    if token:
        body["pagination"] = {"nextToken": token}
    return JSONResponse(body)
