"""Sweep watermarks: read and advance a shop's SyncCursor in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeops.engine.models import SyncCursor


def read_cursor(session: Session, name: str) -> str | None:
    """The stored watermark of sweep `name` for the session's shop, or None before the first run."""
    row = session.scalar(select(SyncCursor).where(SyncCursor.name == name))
    return row.value if row is not None else None


def advance_cursor(session: Session, shop_id: str, name: str, value: str) -> None:
    """Store `value` as the watermark of sweep `name`. Callers pass values that sort in time
    order (ISO-8601 UTC stamps); a value older than the stored one is ignored, so two sweeps
    racing cannot move the watermark backwards."""
    row = session.scalar(select(SyncCursor).where(SyncCursor.name == name).with_for_update())
    if row is None:
        session.add(SyncCursor(shop_id=shop_id, name=name, value=value))
    elif value > row.value:
        row.value = value
    session.flush()
