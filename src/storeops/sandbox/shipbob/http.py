"""Request parsing, error bodies and paging shared by the ShipBob sandbox's routes.

ShipBob's 2026-01 API mixes error shapes by service (openapi-2026-01.json): the orders
service answers 400/422 with a dictionary of field -> messages
(Orders.Post.Api.Order.Unprocessable.Entity.Object), inventory and returns with RFC 7807
problem details (Inventory.ProblemDetails, Returns.ProblemDetails), returns' 422 with
Returns.ApiError, webhooks' 422 with an ASP.NET ObjectResult.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

T = TypeVar("T")


class ApiError(Exception):
    """Answer the request with `status` and `body` (None: no body, as the spec declares)."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> Response:
        if self.body is None:
            return Response(status_code=self.status, headers=self.headers)
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def field_errors(status: int, errors: dict[str, list[str]]) -> ApiError:
    """The orders service's 400/422 body: {"<field>": ["message", ...]}."""
    return ApiError(status, errors)


def problem(status: int, title: str, detail: str | None = None) -> ApiError:
    body: dict[str, Any] = {"type": f"https://tools.ietf.org/html/rfc9110#section-15.5.{status - 399}",
                            "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return ApiError(status, body)


async def json_body(request: Request, *, errors: str = "fields") -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        message = "A non-empty JSON object request body is required."
        if errors == "problem":
            raise problem(400, "Bad Request", message)
        raise field_errors(400, {"": [message]})
    return body


def query_int(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise field_errors(400, {name: [f"The value '{raw}' is not valid for {name}."]}) from None
    if not low <= value <= high:
        raise field_errors(400, {name: [f"{name} must be between {low} and {high}."]})
    return value


def query_ids(request: Request, name: str) -> set[int] | None:
    """A comma-separated id list (ShipBob: ?IDs=1,2)."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise field_errors(400, {name: [f"The value '{raw}' is not valid for {name}."]}) from None


def query_strings(request: Request, name: str) -> set[str] | None:
    raw = request.query_params.get(name)
    return {part.strip() for part in raw.split(",") if part.strip()} if raw else None


def query_datetime(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise field_errors(400, {name: [f"The value '{raw}' is not valid for {name}."]}) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return raw.strip().lower() == "true"


def page(items: Sequence[T], request: Request, *, number: int, size: int,
         cursor_param: str = "Cursor") -> tuple[list[T], dict[str, str | None]]:
    """One page of `items` and the first/prev/next/last URLs ShipBob's paged responses carry
    ("URL to retrieve the next page of results. Null if on the last page.",
    Inventory.InventoryQuantityResponsePagedResponse.next)."""
    pages = max(1, math.ceil(len(items) / size))

    def url(n: int) -> str:
        return str(request.url.include_query_params(**{cursor_param: str(n)}))

    chunk = list(items[(number - 1) * size: number * size])
    links: dict[str, str | None] = {
        "first": url(1) if number > 1 else None,
        "prev": url(number - 1) if number > 1 else None,
        "next": url(number + 1) if number < pages else None,
        "last": url(pages) if number < pages else None,
    }
    return chunk, links


def page_headers(number: int, size: int, total: int) -> dict[str, str]:
    """ShipBob's paging headers (declared on GET /2026-01/return and /receiving)."""
    pages = max(1, math.ceil(total / size))
    return {"Page-Number": str(number), "Page-Size": str(size), "Total-Count": str(total),
            "Total-Pages": str(pages)}
