"""Identifiers: opaque prefixed ids for our records and derived idempotency keys."""

from __future__ import annotations

import hashlib
import secrets


def new_id(prefix: str) -> str:
    """A random, URL-safe id such as `shop_3q9...`; the prefix says what it names."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def idempotency_key(*parts: object) -> str:
    """A stable key for an outbound effect, derived from (event, action, ...).

    Derived, not random, so a retry after a crash sends the same key and the vendor
    (or our outbox's unique index) drops the repeat.
    """
    joined = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:40]
