"""Admin API tokens: only their SHA-256 is stored; checked in constant time per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select

from storeops.db.models import AdminToken
from storeops.db.session import Database


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_admin_token(db: Database, configured: str | None) -> str | None:
    """Make sure an admin token exists. Returns a newly generated token (to print once)
    or None when one was configured or already stored."""
    with db.system_session() as session:
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
    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: set[str] = set()

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        digest = _digest(token)
        if any(hmac.compare_digest(digest, known) for known in self._known):
            return True
        with self.db.system_session() as session:
            found = session.scalar(select(AdminToken.token_sha256).where(AdminToken.token_sha256 == digest))
        if found:
            self._known.add(found)
            return True
        return False
