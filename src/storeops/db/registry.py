"""Modules whose models make up the schema, for Alembic and `create_all` in tests.

Listed by name and imported lazily because the db layer sits below engine and domain
and must not import them statically (import-linter checks the layering).
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

MODEL_MODULES = (
    "storeops.db.models",
    "storeops.engine.models",
    "storeops.domain.customers.models",
    "storeops.domain.orders.models",
    "storeops.domain.decisions.models",
    "storeops.domain.orders.exceptions",
    "storeops.domain.returns.models",
    "storeops.domain.inventory.models",
    "storeops.domain.catalog.models",
    "storeops.domain.support.models",
)


def load_metadata() -> MetaData:
    for name in MODEL_MODULES:
        importlib.import_module(name)
    from storeops.db.base import Base

    return Base.metadata
