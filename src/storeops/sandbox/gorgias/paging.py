"""Gorgias cursor pagination (developers.gorgias.com/reference/pagination).

Request: `cursor` (opaque, omitted for the first page), `limit` (default 30),
`order_by` ("attribute:direction", e.g. created_datetime:desc). Response:
`{"data": [...], "object": "list", "uri": "/api/tickets", "meta": {"next_cursor",
"prev_cursor"}}`, next_cursor null on the last page. Offset pagination was removed on
2024-02-01, so `page` / `offset` are refused.

Our cursor encodes the sort key and id of the record it continues from, so records
created while a client pages do not shift what it has still to read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from starlette.datastructures import QueryParams

from storeops.sandbox.gorgias.errors import invalid

T = TypeVar("T")
DEFAULT_LIMIT = 30
MAX_LIMIT = 100

SortKey = Callable[[Any], Any]


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000)
    if value is None:
        return -1
    return value


def _encode(position: list[Any], direction: str) -> str:
    raw = json.dumps({"p": position, "d": direction}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[list[Any], str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        position, direction = decoded["p"], decoded["d"]
        if direction not in ("next", "prev") or not isinstance(position, list) or len(position) != 2:
            raise ValueError(direction)
        return position, direction
    except (ValueError, KeyError, TypeError):
        raise invalid("cursor", "Invalid cursor.") from None


def paginate(items: Sequence[T], query: QueryParams, *, uri: str, render: Callable[[T], dict[str, Any]],
             sort_keys: dict[str, SortKey], default_order: str = "created_datetime:desc",
             id_of: Callable[[T], int] = lambda item: item.id) -> dict[str, Any]:  # type: ignore[attr-defined]
    for removed in ("page", "offset"):
        if removed in query:
            raise invalid(removed, "Offset pagination was removed on 2024-02-01; use cursor.")
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise invalid("limit", "Not a valid integer.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", f"Must be between 1 and {MAX_LIMIT}.")
    order_by = query.get("order_by", default_order)
    attribute, _, direction = order_by.partition(":")
    direction = direction or "asc"
    if attribute not in sort_keys or direction not in ("asc", "desc"):
        raise invalid("order_by", f"Must be one of {sorted(k + ':asc|desc' for k in sort_keys)}.")
    key = sort_keys[attribute]

    def position(item: T) -> list[Any]:
        return [_comparable(key(item)), id_of(item)]

    ordered = sorted(items, key=position, reverse=direction == "desc")
    start, stop = 0, min(limit, len(ordered))
    cursor = query.get("cursor")
    if cursor:
        anchor, way = _decode(cursor)

        def after(item: T) -> bool:
            pos = position(item)
            return pos < anchor if direction == "desc" else pos > anchor

        if way == "next":
            start = next((i for i, item in enumerate(ordered) if after(item)), len(ordered))
            stop = min(start + limit, len(ordered))
        else:
            stop = next((i for i, item in enumerate(ordered) if not _before(position(item), anchor, direction)),
                        len(ordered))
            start = max(0, stop - limit)
    page = ordered[start:stop]
    return {
        "data": [render(item) for item in page],
        "object": "list",
        "uri": uri,
        "meta": {
            "next_cursor": _encode(position(page[-1]), "next") if page and stop < len(ordered) else None,
            "prev_cursor": _encode(position(page[0]), "prev") if page and start > 0 else None,
        },
    }


def _before(pos: list[Any], anchor: list[Any], direction: str) -> bool:
    return pos > anchor if direction == "desc" else pos < anchor
