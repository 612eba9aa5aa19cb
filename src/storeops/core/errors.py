"""The storeops exception tree.

    StoreopsError
    ├── ConfigError                 settings or credentials are wrong; a person must act
    ├── NotFound                    a record does not exist (in this shop)
    ├── InvalidInput                bad input from a user or an API client; nothing changed
    ├── WebhookRejected             an inbound webhook we refuse
    │   ├── WebhookSignatureInvalid     forged, unsigned or signed with the wrong secret (401)
    │   ├── WebhookStale                signed, but its timestamp is outside the tolerance (401)
    │   └── WebhookUnknownShop          no shop is registered for it (401: we cannot verify it)
    └── VendorError                 a vendor API call failed; `classification` says what to do
        └── (connectors raise VendorError with the HTTP status / headers they saw)

Exceptions carry the data that explains them, so logs and decision records do not
have to parse messages.
"""

from __future__ import annotations

from dataclasses import dataclass


class StoreopsError(Exception):
    """Base class for every error storeops raises on purpose."""


class ConfigError(StoreopsError):
    """Configuration or credentials are wrong; retrying will not help."""


class NotFound(StoreopsError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class InvalidInput(StoreopsError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class WebhookRejected(StoreopsError):
    """A webhook we will not accept. `reason` is a short machine-readable code."""

    reason = "rejected"


class WebhookSignatureInvalid(WebhookRejected):
    reason = "bad_signature"


class WebhookStale(WebhookRejected):
    reason = "stale"


class WebhookUnknownShop(WebhookRejected):
    reason = "unknown_shop"


@dataclass
class VendorError(StoreopsError):
    """A vendor call failed. `status` is the HTTP status (None for transport errors)."""

    vendor: str
    message: str
    status: int | None = None
    retry_after: float | None = None
    body: str | None = None

    def __str__(self) -> str:
        status = f" HTTP {self.status}" if self.status is not None else ""
        return f"{self.vendor}{status}: {self.message}"
