"""What a Klaviyo sandbox handler receives, and helpers to read JSON:API request bodies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import URL, QueryParams
from starlette.requests import Request
from starlette.responses import Response

from storeops.sandbox.klaviyo.jsonapi import invalid, parse_datetime
from storeops.sandbox.klaviyo.store import KlaviyoStore


@dataclass
class Call:
    request: Request
    store: KlaviyoStore
    base: str  # scheme://host:port, for links
    url: URL
    query: QueryParams
    path: dict[str, str]
    body: Any


Handler = Callable[[Call], Response]
RouteSpec = tuple[str, str, Handler]  # (method, path template, handler)


def resource(call: Call, type_: str, *, pointer: str = "/data") -> dict[str, Any]:
    """The body's `data` object, checked to be a resource of `type_` with attributes."""
    data = call.body.get("data") if isinstance(call.body, dict) else None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON:API document with a 'data' object.", pointer=pointer)
    if data.get("type") != type_:
        raise invalid(f"'type' must be '{type_}'.", pointer=f"{pointer}/type")
    if not isinstance(data.get("attributes", {}), dict):
        raise invalid("'attributes' must be an object.", pointer=f"{pointer}/attributes")
    return data


def resource_ids(call: Call, type_: str, *, limit: int) -> list[str]:
    """A relationship body: {"data": [{"type": type_, "id": ...}, ...]} (at most `limit`)."""
    data = call.body.get("data") if isinstance(call.body, dict) else None
    if not isinstance(data, list):
        raise invalid("'data' must be a list of resource identifiers.", pointer="/data")
    if len(data) > limit:
        raise invalid(f"At most {limit} resources are accepted per request.", pointer="/data")
    ids = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or item.get("type") != type_ or not isinstance(item.get("id"), str):
            raise invalid(f"Each entry must be {{'type': '{type_}', 'id': <string>}}.", pointer=f"/data/{index}")
        ids.append(item["id"])
    return ids


def optional_datetime(value: Any, pointer: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("Expected an ISO 8601 date-time string.", pointer=pointer)
    try:
        return parse_datetime(value)
    except ValueError:
        raise invalid(f"{value!r} is not an ISO 8601 date-time.", pointer=pointer) from None


def listed(query: QueryParams, name: str) -> set[str]:
    """Values of a comma-separated array parameter (include, additional-fields[...])."""
    return {v.strip() for v in query.get(name, "").split(",") if v.strip()}


def sort_order(query: QueryParams, allowed: set[str], default: str) -> tuple[str, bool]:
    """(field, descending) from `sort`; an unknown field answers 400."""
    raw = query.get("sort") or default
    name = raw.removeprefix("-")
    if name not in allowed:
        raise invalid(f"'{raw}' is not a valid sort field.", parameter="sort")
    return name, raw.startswith("-")
