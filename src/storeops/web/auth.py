"""Admin API tokens: only their SHA-256 is stored; checked in constant time per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from sqlalchemy import select, text

from storeops.db.models import AdminToken
from storeops.db.session import Database


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_admin_token(db: Database, configured: str | None) -> str | None:
    """Make sure an admin token exists. Returns a newly generated token (to print once)
    or None when one was configured or already stored."""
    with db.system_session() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Several `storeops serve` starting on a fresh database: one generates the token,
            # the others wait here and then find it (SQLite's BEGIN IMMEDIATE serializes already).
            session.execute(text("SELECT pg_advisory_xact_lock(7372011)"))
        if configured:
            digest = _digest(configured)
            if session.scalar(select(AdminToken.id).where(AdminToken.token_sha256 == digest)) is None:
                session.add(AdminToken(token_sha256=digest, label="STOREOPS_ADMIN_TOKEN"))
            return None
        if session.scalar(select(AdminToken.id).limit(1)) is not None:
            return None
        token = "so_" + secrets.token_urlsafe(32)
        session.add(AdminToken(token_sha256=_digest(token), label="generated on first start"))
        return token


class TokenChecker:
    """Checks bearer tokens against the stored hashes. A valid answer is remembered for
    `ttl_s` seconds only, so a token deleted from the table stops working soon after."""

    def __init__(self, db: Database, *, ttl_s: float = 30.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._known: dict[str, float] = {}

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        digest = _digest(token)
        now = time.monotonic()
        for known, expires in list(self._known.items()):
            if expires < now:
                del self._known[known]
            elif hmac.compare_digest(digest, known):
                return True
        with self.db.system_session() as session:
            found = session.scalar(select(AdminToken.token_sha256).where(AdminToken.token_sha256 == digest))
        if found:
            self._known[found] = now + self.ttl_s
            return True
        return False
