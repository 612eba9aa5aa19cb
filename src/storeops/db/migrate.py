"""Run Alembic migrations programmatically (`storeops db upgrade`, and on start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storeops.db.session import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> str:
    """Bring the schema to `revision`; safe to run from several processes (idempotent)."""
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            # Two processes starting together must not both run the same migration.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7372010)")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return current_revision(db) or ""


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
