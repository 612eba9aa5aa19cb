"""One table decides what an error means (after Airbyte's CDK error handler).

Every failure of an outbound call or a handler is mapped once to an Action (what the
engine does next) and a FailureType (who has to fix it). Connectors override only the
rows that differ for their vendor: once, with storeops.core.failures.register_vendor_overrides,
or per call by passing `overrides` to `classify` (which win over the vendor's rows).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from sqlalchemy.exc import IntegrityError, OperationalError

from storeops.core.errors import ConfigError, InvalidInput, VendorError
from storeops.core.failures import Action, FailureType, Resolution, vendor_overrides

__all__ = ["HTTP_TABLE", "Action", "FailureType", "Resolution", "classify"]


def _r(action: Action, failure: FailureType, reason: str) -> Resolution:
    return Resolution(action, failure, reason)


# HTTP status -> resolution. Statuses not listed fall back by class (4xx / 5xx).
HTTP_TABLE: dict[int, Resolution] = {
    400: _r(Action.FAIL, FailureType.SYSTEM, "vendor rejected the request as malformed"),
    401: _r(Action.REFRESH_AUTH, FailureType.CONFIG, "credentials rejected"),
    403: _r(Action.FAIL, FailureType.CONFIG, "credentials lack a permission (scope)"),
    404: _r(Action.FAIL, FailureType.SYSTEM, "resource not found"),
    408: _r(Action.RETRY, FailureType.TRANSIENT, "request timeout"),
    409: _r(Action.FAIL, FailureType.SYSTEM, "conflict with the vendor's state"),
    422: _r(Action.FAIL, FailureType.SYSTEM, "vendor refused the data"),
    423: _r(Action.RETRY, FailureType.TRANSIENT, "resource locked"),
    429: _r(Action.RATE_LIMITED, FailureType.TRANSIENT, "rate limited"),
    500: _r(Action.RETRY, FailureType.TRANSIENT, "vendor internal error"),
    502: _r(Action.RETRY, FailureType.TRANSIENT, "bad gateway"),
    503: _r(Action.RETRY, FailureType.TRANSIENT, "vendor unavailable"),
    504: _r(Action.RETRY, FailureType.TRANSIENT, "gateway timeout"),
}

_TRANSPORT = _r(Action.RETRY, FailureType.TRANSIENT, "network error or timeout")
_UNKNOWN = _r(Action.FAIL, FailureType.SYSTEM, "unexpected error")


# The way to a vendor failed (no answer at all): retried like a 5xx.
TRANSPORT_ERRORS = (httpx.TransportError, TimeoutError, ConnectionError)


def vendor_side(error: BaseException) -> bool:
    """A vendor's answer, or the way to it, failed (not our database, not our code)."""
    return isinstance(error, (VendorError, *TRANSPORT_ERRORS))


def classify(error: BaseException, overrides: Mapping[int, Resolution] | None = None) -> Resolution:
    """Map an exception to what the engine should do with it."""
    if isinstance(error, VendorError):
        if error.status is None:
            return _TRANSPORT
        table = {**HTTP_TABLE, **vendor_overrides(error.vendor), **(overrides or {})}
        if error.status in table:
            return table[error.status]
        if 500 <= error.status < 600:
            return _r(Action.RETRY, FailureType.TRANSIENT, f"vendor error {error.status}")
        return _r(Action.FAIL, FailureType.SYSTEM, f"vendor refused with {error.status}")
    if isinstance(error, ConfigError):
        return _r(Action.FAIL, FailureType.CONFIG, str(error) or "configuration error")
    if isinstance(error, InvalidInput):
        return _r(Action.FAIL, FailureType.SYSTEM, str(error) or "invalid input")
    if isinstance(error, TRANSPORT_ERRORS):
        return _TRANSPORT
    if isinstance(error, OperationalError | IntegrityError):
        # Lost races between workers (a row inserted meanwhile, a deadlock, a locked
        # SQLite file, a serialization failure) pass when tried again; a real constraint
        # bug exhausts the retries and fails with its message.
        return _r(Action.RETRY, FailureType.TRANSIENT, f"database conflict: {type(error).__name__}")
    return _UNKNOWN
