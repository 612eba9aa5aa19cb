"""The migrations build exactly the schema the models declare, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storeops.db.migrate import head_revision, upgrade
from storeops.db.registry import load_metadata
from storeops.db.session import Database


def test_migrated_schema_matches_the_models(db: Database) -> None:
    assert upgrade(db) == head_revision()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, load_metadata())
    assert differences == []


def test_upgrade_twice_is_a_no_op(db: Database) -> None:
    first = upgrade(db)
    assert upgrade(db) == first == head_revision()
