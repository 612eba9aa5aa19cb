"""Return orders (ShipBob 2026-01: POST/GET /2026-01/return, GET /2026-01/return/{id},
POST /2026-01/return/{id}:cancel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storeops.sandbox.shipbob import views
from storeops.sandbox.shipbob.fulfillment import RETURN_STEPS
from storeops.sandbox.shipbob.http import (
    ApiError,
    json_body,
    page,
    page_headers,
    problem,
    query_ids,
    query_int,
    query_strings,
)
from storeops.sandbox.shipbob.records import ReturnLine, ReturnOrder, now

if TYPE_CHECKING:
    from storeops.sandbox.shipbob.app import ShipbobSandbox

RETURN_ACTIONS = ("Default", "Restock", "Quarantine", "Dispose")  # Returns.ReturnAction


def _unprocessable(message: str, *errors: str) -> ApiError:
    """Returns.ApiError, the returns service's 422 body."""
    return ApiError(422, {"message": message, "errors": list(errors) or [message]})


def _parse_lines(sb: ShipbobSandbox, inventory: Any) -> list[ReturnLine]:
    if not isinstance(inventory, list) or not inventory:
        raise problem(400, "Bad Request", "inventory must list at least one item")
    lines: list[ReturnLine] = []
    seen: set[int] = set()
    for item in inventory:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int):
            raise problem(400, "Bad Request", "every inventory item needs an integer id")
        inventory_id = item["id"]
        quantity = item.get("quantity")
        action = item.get("requested_action")
        if inventory_id in seen:
            # developer.shipbob.com (Create Return Order): "Include each inventoryId exactly
            # once in the inventory object ... the call will return an error code."
            raise _unprocessable(f"InventoryId {inventory_id} is listed more than once")
        seen.add(inventory_id)
        if inventory_id not in sb.store.variants_by_inventory:
            raise _unprocessable(f"InventoryId {inventory_id} does not exist")
        if not isinstance(quantity, int) or quantity < 1:
            raise problem(400, "Bad Request", f"quantity of inventory {inventory_id} must be at least 1")
        if action not in RETURN_ACTIONS:
            raise problem(400, "Bad Request", f"requested_action must be one of {', '.join(RETURN_ACTIONS)}")
        lines.append(ReturnLine(inventory_id, quantity, action))
    return lines


def return_routes(sb: ShipbobSandbox) -> list[Route]:
    def find(request: Request) -> ReturnOrder:
        ret = sb.store.returns.get(request.path_params["return_id"])
        if ret is None:
            raise problem(404, "Not Found", "Return order not found")
        return ret

    async def create_return(request: Request) -> Response:
        channel_id = sb.channel_for_write(request, "returns_write")
        body = await json_body(request, errors="problem")
        reference_id = body.get("reference_id")
        facility = body.get("fulfillment_center")
        if not isinstance(reference_id, str) or not reference_id.strip():
            raise problem(400, "Bad Request", "reference_id is required")
        if not isinstance(facility, dict) or not isinstance(facility.get("id"), int):
            raise problem(400, "Bad Request", "fulfillment_center.id is required")
        if sb.store.fc(facility["id"]) is None:
            raise _unprocessable(f"Fulfillment center {facility['id']} does not exist")
        if any(r.reference_id == reference_id and r.channel_id == channel_id for r in sb.store.returns.values()):
            raise _unprocessable(f"A return with reference id '{reference_id}' already exists")
        lines = _parse_lines(sb, body.get("inventory"))
        original = body.get("original_shipment_id")
        store_order_id = None
        if original is not None:
            shipment = sb.store.shipments.get(original)
            if shipment is None or shipment.status != "Completed":
                raise _unprocessable(f"Shipment {original} does not exist or has not shipped")
            store_order_id = sb.store.orders[shipment.order_id].order_number
        ret = ReturnOrder(id=sb.store.next_id("return"), reference_id=reference_id, channel_id=channel_id,
                          fc_id=facility["id"], lines=lines, original_shipment_id=original,
                          tracking_number=body.get("tracking_number"), created=now(), store_order_id=store_order_id)
        sb.store.returns[ret.id] = ret
        sb.warehouse.start_return(ret)
        sb.wake()
        return JSONResponse(views.return_order(sb.store, ret, v1=True), status_code=201)

    async def list_returns(request: Request) -> Response:
        try:
            number = query_int(request, "Cursor", 1, low=1, high=2_147_483_647)
            size = query_int(request, "Limit", 50, low=1, high=250)
            ids = query_ids(request, "Ids")
        except ApiError as exc:
            raise problem(400, "Bad Request", str(exc.body)) from None
        references = query_strings(request, "ReferenceIds")
        statuses = query_strings(request, "Status")
        chosen = [r for r in sb.store.returns.values()
                  if (ids is None or r.id in ids) and (references is None or r.reference_id in references)
                  and (statuses is None or r.status in statuses)]
        newest_first = (request.query_params.get("SortOrder") or "Desc") != "Asc"
        chosen.sort(key=lambda r: r.id, reverse=newest_first)
        chunk, links = page(chosen, request, number=number, size=size)
        return JSONResponse({"items": [views.return_order(sb.store, r) for r in chunk], **links},
                            headers=page_headers(number, size, len(chosen)))

    async def get_return(request: Request) -> Response:
        return JSONResponse(views.return_order(sb.store, find(request)))

    async def cancel_return(request: Request) -> Response:
        ret = find(request)
        if ret.status != "AwaitingArrival":
            raise problem(400, "Bad Request", f"Return is {ret.status} and cannot be cancelled")
        ret.status = "Cancelled"
        ret.next_at = None
        ret.history.append(("Cancelled", now()))
        return Response(status_code=200)

    async def receive_return(request: Request) -> Response:
        """Control route: the parcel arrives and is processed now (every remaining step of
        RETURN_STEPS, each with its webhook: return.updated ..., then return.completed)."""
        try:
            ret = find(request)
            if ret.status == "Cancelled":
                raise problem(400, "Bad Request", "Return is Cancelled and cannot be received")
        except ApiError as exc:
            return exc.response()
        steps = 0
        for _ in RETURN_STEPS:
            if ret.status == "Completed":
                break
            steps += sb.warehouse.advance_return(ret)
        return JSONResponse({"id": ret.id, "status": ret.status, "steps": steps})

    return [
        Route("/_sandbox/returns/{return_id:int}/receive", receive_return, methods=["POST"]),
        Route("/2026-01/return", sb.api(create_return), methods=["POST"]),
        Route("/2026-01/return", sb.api(list_returns), methods=["GET"]),
        Route("/2026-01/return/{return_id:int}", sb.api(get_return), methods=["GET"]),
        Route("/2026-01/return/{return_id:int}:cancel", sb.api(cancel_return), methods=["POST"]),
    ]
