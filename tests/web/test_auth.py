"""Admin token: generated once even when several servers start together on a fresh database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from storeops.db.models import AdminToken
from storeops.db.session import Database
from storeops.web.auth import TokenChecker, ensure_admin_token


def test_servers_starting_together_generate_one_token(db: Database) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: ensure_admin_token(db, None), range(6)))
    generated = [r for r in results if r is not None]
    assert len(generated) == 1
    with db.system_session() as session:
        assert session.scalar(select(func.count()).select_from(AdminToken)) == 1
    checker = TokenChecker(db)
    assert checker.valid(generated[0])
    assert not checker.valid(generated[0] + "x")
    assert ensure_admin_token(db, None) is None  # a later start finds it and prints nothing


def test_a_configured_token_is_stored_once(db: Database) -> None:
    for _ in range(2):
        assert ensure_admin_token(db, "configured-secret") is None
    with db.system_session() as session:
        assert session.scalar(select(func.count()).select_from(AdminToken)) == 1
    assert TokenChecker(db).valid("configured-secret")
