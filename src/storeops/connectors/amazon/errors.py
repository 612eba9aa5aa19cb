"""Where SP-API's errors differ from the engine's classification table.

SP-API answers an expired, revoked or malformed access token with 403 {"errors": [{"code":
"Unauthorized", ...}]}, not 401 (amzn/selling-partner-api-models#4122), and uses the same
403 for a seller who has not authorized the app or lacks a role. So a 403 means "refresh
the token once; if it is still refused, a person must fix the authorization".

The row is registered with storeops.core.failures when this module is imported (the
client imports it), so the engine's classify() applies it to every Amazon VendorError:

    RetryPolicy().call(fn, refresh_auth=client.refresh_auth)
"""

from __future__ import annotations

import json

from storeops.core.failures import Action, FailureType, Resolution, register_vendor_overrides

CLASSIFICATION_OVERRIDES: dict[int, Resolution] = {
    403: Resolution(Action.REFRESH_AUTH, FailureType.CONFIG,
                    "SP-API refused the access token (expired or revoked) or the seller's authorization"),
}
register_vendor_overrides("amazon", CLASSIFICATION_OVERRIDES)


def error_codes(body: str | None) -> list[str]:
    """The codes of an SP-API ErrorList body ({"errors": [{"code", "message", ...}]})."""
    try:
        errors = json.loads(body or "").get("errors") or []
    except (ValueError, AttributeError):
        return []
    return [str(e.get("code")) for e in errors if isinstance(e, dict)]


def is_token_rejection(body: str | None) -> bool:
    return "Unauthorized" in error_codes(body)
