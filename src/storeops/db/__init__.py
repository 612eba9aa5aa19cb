"""Storage: SQLAlchemy 2 typed models, sessions scoped to a shop, Alembic migrations."""

from storeops.db.base import Base, ShopScoped
from storeops.db.session import Database, get_database

__all__ = ["Base", "Database", "ShopScoped", "get_database"]
