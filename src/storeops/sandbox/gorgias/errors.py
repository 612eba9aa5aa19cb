"""Gorgias's error answers.

developers.gorgias.com/reference/errors: 400 for missing / invalid / unknown parameters
("read the error attribute contained in the data of the HTTP response"), 401 when not
authenticated, 404 for a missing resource, 409 when an identifier (e.g. a customer's
email) is already used, 429 when over the rate limit. The body shape
`{"error": {"msg": ..., "data": {field: [reasons]}}}` is how Gorgias's API answers as
far as we know; the docs name the `error` attribute but print no full example.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, msg: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.data = data

    def body(self) -> dict[str, Any]:
        return error_body(self.msg, self.data)


def error_body(msg: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"msg": msg}
    if data:
        error["data"] = data
    return {"error": error}


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(400, "Invalid request", {field: [reason]})


def not_found(kind: str, id_: object) -> ApiError:
    return ApiError(404, f"{kind} {id_} not found")


def reject_unknown(body: dict[str, Any], allowed: frozenset[str]) -> None:
    """The docs list "unknown parameters were specified" as a 400 cause."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "Invalid request", {name: ["Unknown field."] for name in unknown})


def require_object(body: Any, where: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid(where, "Expected a JSON object.")
    return body
