"""What a failure means: the vocabulary of the error-classification table.

It lives in core so connectors can state where their vendor differs from the engine's
default table (storeops.engine.errors.HTTP_TABLE) without importing the engine:

    register_vendor_overrides("amazon", {403: Resolution(Action.REFRESH_AUTH, FailureType.CONFIG, "...")})

The engine's `classify` applies a vendor's overrides to every VendorError from that vendor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Action(StrEnum):
    RETRY = "retry"
    FAIL = "fail"
    IGNORE = "ignore"
    RATE_LIMITED = "rate_limited"
    REFRESH_AUTH = "refresh_auth"


class FailureType(StrEnum):
    CONFIG = "config"  # credentials or settings: a person must fix them
    SYSTEM = "system"  # a bug or a request the vendor will never accept
    TRANSIENT = "transient"  # will likely pass if tried again


@dataclass(frozen=True, slots=True)
class Resolution:
    action: Action
    failure_type: FailureType
    reason: str


_VENDOR_OVERRIDES: dict[str, Mapping[int, Resolution]] = {}


def register_vendor_overrides(vendor: str, rows: Mapping[int, Resolution]) -> None:
    """Declare the HTTP statuses whose meaning differs for `vendor` (replaces earlier rows)."""
    _VENDOR_OVERRIDES[vendor] = MappingProxyType(dict(rows))


def vendor_overrides(vendor: str) -> Mapping[int, Resolution]:
    return _VENDOR_OVERRIDES.get(vendor, MappingProxyType({}))
