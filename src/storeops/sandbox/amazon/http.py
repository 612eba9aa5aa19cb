"""Request parsing and response shapes shared by the SP-API routes.

Errors use the models' ErrorList: {"errors": [{"code", "message", "details"}]}. Swagger 2.0
array query parameters default to collectionFormat csv ("a,b,c"), which is what every
array parameter in these models uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse


class BadRequest(Exception):
    """Answered 400 {"errors": [{"code": "InvalidInput", ...}]}."""


class NotFoundError(Exception):
    """Answered 404 {"errors": [{"code": "NotFound", ...}]}."""


class Denied(Exception):
    """Answered 403 {"errors": [{"code": "Unauthorized", ...}]}."""


def error_list(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


def error_response(status: int, code: str, message: str, details: str = "") -> JSONResponse:
    return JSONResponse(error_list(code, message, details), status_code=status)


def csv_param(request: Request, name: str, *, required: bool = False, allowed: Iterable[str] | None = None,
              default: list[str] | None = None, max_items: int | None = None) -> list[str]:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise BadRequest(f"Missing required parameter '{name}'.")
        return list(default or [])
    values = [part for part in raw.split(",") if part]
    if allowed is not None:
        unknown = [value for value in values if value not in set(allowed)]
        if unknown:
            raise BadRequest(f"Invalid value(s) for '{name}': {', '.join(unknown)}.")
    if max_items is not None and len(values) > max_items:
        raise BadRequest(f"'{name}' accepts at most {max_items} value(s).")
    return values


def marketplace_param(request: Request, marketplace_id: str, *, max_items: int | None = None) -> None:
    ids = csv_param(request, "marketplaceIds", required=True, max_items=max_items)
    unknown = [mp for mp in ids if mp != marketplace_id]
    if unknown:
        # This sandbox plays a seller registered in one store (the US, ATVPDKIKX0DER).
        raise BadRequest(f"Invalid marketplaceIds: {', '.join(unknown)}.")


def datetime_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest(f"'{name}' must be an ISO 8601 date-time.") from exc
    if value.tzinfo is None:
        raise BadRequest(f"'{name}' needs a time zone offset (e.g. 'Z').")
    return value


def bool_param(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise BadRequest(f"'{name}' must be true or false.")
    return raw == "true"


def int_param(request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"'{name}' must be an integer.") from exc
    if not minimum <= value <= maximum:
        raise BadRequest(f"'{name}' must be between {minimum} and {maximum}.")
    return value


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body
