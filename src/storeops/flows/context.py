"""What the flows' outbound actions and sweeps need in a process: the database and the
secret box. The Worker gives them once (`configure`); actions read them with `deps()`.

Actions run as DBOS workflows long after the inbox transaction that emitted them, in any
worker process, so they cannot take these as arguments from the flow that decided.
"""

from __future__ import annotations

from collections.abc import Callable

from storeops.core.secrets import SecretBox
from storeops.db.session import Database


class _Context:
    db: Database | None = None
    box: SecretBox | None = None


_context = _Context()
_on_configure: list[Callable[[Database, SecretBox], None]] = []


def configure(db: Database, box: SecretBox) -> None:
    """Give every flow of this process its database and secret box (Worker.start does this)."""
    _context.db, _context.box = db, box
    for hook in _on_configure:
        hook(db, box)


def on_configure(hook: Callable[[Database, SecretBox], None]) -> None:
    """Run `hook` on every configure: flows reset their per-process caches there."""
    _on_configure.append(hook)


def configured() -> bool:
    return _context.db is not None and _context.box is not None


def deps() -> tuple[Database, SecretBox]:
    if _context.db is None or _context.box is None:
        raise RuntimeError("the flows have not been configured in this process (storeops.flows.context.configure)")
    return _context.db, _context.box
