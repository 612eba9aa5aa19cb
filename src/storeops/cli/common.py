"""Shared CLI plumbing: settings, database bootstrap, output."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from storeops.core.logging import configure_logging
from storeops.core.settings import Settings, reload_settings
from storeops.db.migrate import upgrade
from storeops.db.session import Database, get_database
from storeops.web.auth import ensure_admin_token

console = Console(stderr=True)


def load(**overrides: Any) -> Settings:
    settings = reload_settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, settings.log_json)
    return settings


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    db = get_database(settings)
    if migrate:
        upgrade(db)
    return db


def bootstrap(settings: Settings) -> Database:
    """Migrate, make sure an admin token exists (printed once if generated)."""
    db = open_database(settings)
    token = ensure_admin_token(db, settings.admin_token)
    if token:
        # Printed once, on stdout, so it can be captured; only its hash is stored.
        print(f"storeops admin token (shown once, keep it): {token}", flush=True)
    return db


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=None, default=str) + "\n")
    sys.stdout.flush()
