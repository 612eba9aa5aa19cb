"""Engines and sessions.

`Database.session(shop_id)` is the normal way in: every ORM SELECT of a ShopScoped
table in that session is filtered to the shop (with_loader_criteria), and writes of
ShopScoped rows for another shop raise. `Database.system_session()` is for the few
cross-shop jobs (inbox pump, sweeps) and says so at the call site.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from storeops.core.errors import StoreopsError
from storeops.core.settings import Settings, get_settings
from storeops.db.base import ShopScoped


class ShopScopeViolation(StoreopsError):
    """Code tried to read or write shop data without naming the shop."""


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL: readers never block the writer. synchronous=NORMAL in WAL mode keeps every
    # committed transaction across a process crash (SIGKILL); only an OS crash / power
    # loss can drop the last commits (https://www.sqlite.org/pragma.html#pragma_synchronous).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_no_implicit_begin(dbapi_conn: Any, _: Any) -> None:
    dbapi_conn.isolation_level = None  # the driver must not BEGIN on its own; _sqlite_begin does


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock at the start. A deferred transaction that reads
    # and then writes fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT,
    # busy_timeout does not apply) when another writer committed in between: measured
    # as an inbox pump that processed nothing while webhooks were being stored. With the
    # driver's implicit BEGIN off, SAVEPOINTs also nest inside our transaction instead of
    # opening (and on RELEASE committing) one of their own. SQLAlchemy's documented
    # pysqlite recipe: https://docs.sqlalchemy.org/en/20/dialects/sqlite.html
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(conn: Any) -> None:
    # Readers: a deferred transaction reads one WAL snapshot and never waits for the writer.
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, *, pool_size: int = 10, readonly: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _sqlite_no_implicit_begin)
        event.listen(engine, "begin", _sqlite_begin_deferred if readonly else _sqlite_begin)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._factory, "do_orm_execute", _scope_to_shop)
        event.listen(self._factory, "before_flush", _check_writes)
        # Reads that must not queue behind SQLite's single writer (credentials, lookups, pages).
        self.read_engine = make_engine(url, readonly=True) if self.is_sqlite else self.engine
        self._read_factory = sessionmaker(self.read_engine, expire_on_commit=False)
        event.listen(self._read_factory, "do_orm_execute", _scope_to_shop)
        event.listen(self._read_factory, "before_flush", _refuse_writes)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, shop_id: str) -> Iterator[Session]:
        """A transaction scoped to one shop; commits on success, rolls back on error."""
        if not shop_id:
            raise ShopScopeViolation("a shop session needs a shop id")
        with self._factory() as session:
            session.info["shop_id"] = shop_id
            with session.begin():
                yield session

    @contextmanager
    def system_session(self) -> Iterator[Session]:
        """A transaction that may touch every shop: for intake, sweeps and admin work."""
        with self._factory() as session:
            session.info["system"] = True
            with session.begin():
                yield session

    @contextmanager
    def read_session(self, shop_id: str | None = None) -> Iterator[Session]:
        """A read-only transaction, scoped to `shop_id` (or to every shop when None, like
        system_session). On SQLite it reads a snapshot without taking the write lock; any
        attempt to write raises."""
        with self._read_factory() as session:
            if shop_id:
                session.info["shop_id"] = shop_id
            else:
                session.info["system"] = True
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def _scoped_entities(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, ShopScoped) for mapper in state.all_mappers)


def _scope_to_shop(state: ORMExecuteState) -> None:
    if not state.is_select and not state.is_update and not state.is_delete:
        return
    session = state.session
    shop_id = session.info.get("shop_id")
    if shop_id is not None:
        state.statement = state.statement.options(
            with_loader_criteria(ShopScoped, lambda cls: cls.shop_id == shop_id, include_aliases=True)
        )
    elif not session.info.get("system") and _scoped_entities(state):
        raise ShopScopeViolation("shop data read without a shop: use Database.session(shop_id)")


def _refuse_writes(session: Session, *_: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read session cannot write: use Database.session or system_session")


def _check_writes(session: Session, *_: Any) -> None:
    shop_id = session.info.get("shop_id")
    if shop_id is None:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, ShopScoped) and obj.shop_id != shop_id:
            raise ShopScopeViolation(f"write to shop {obj.shop_id!r} inside a session for {shop_id!r}")


_database: Database | None = None


def get_database(settings: Settings | None = None) -> Database:
    """The process-wide Database for the configured URL."""
    global _database
    settings = settings or get_settings()
    url = settings.resolved_database_url
    if _database is None or _database.url != url:
        if settings.is_sqlite:
            settings.ensure_data_dir()
        _database = Database(url)
    return _database


def reset_database() -> None:
    global _database
    if _database is not None:
        _database.dispose()
    _database = None
