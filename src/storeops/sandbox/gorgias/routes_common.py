"""What the route modules share: the route description and request helpers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from storeops.sandbox.gorgias.errors import invalid
from storeops.sandbox.gorgias.records import User

# A handler answers a dict (200) or (status, body); errors are raised as ApiError.
Reply = dict[str, Any] | tuple[int, Any]
ApiHandler = Callable[[Request, User], Awaitable[Reply]]


@dataclass(frozen=True)
class ApiRoute:
    path: str
    method: str
    handler: ApiHandler


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise invalid("body", "A JSON body is required.")
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid("body", "Not valid JSON.") from None


def int_param(request: Request, name: str) -> int | None:
    try:
        return int(request.path_params[name])
    except (KeyError, ValueError):
        return None
