"""Shared CLI plumbing: settings, database bootstrap, output."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from storeops.core.logging import configure_logging
from storeops.core.settings import Settings, reload_settings
from storeops.db.migrate import upgrade
from storeops.db.session import Database, get_database
from storeops.web.auth import ensure_admin_token

# soft_wrap: messages are not broken into 80-column lines when stderr is not a terminal.
console = Console(stderr=True, soft_wrap=True)


def fail(message: object, code: int = 2) -> typer.Exit:
    """Print `error: ...` on stderr and return the Exit to raise. The message is escaped:
    it quotes user input, and rich would read `[...]` in it as markup (or crash on it)."""
    console.print(f"[red]error:[/red] {escape(str(message))}")
    return typer.Exit(code)


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
    """For the web servers (`up`, `serve`): migrate, make sure an admin token exists
    (printed once if generated). Other commands use `open_database`: their stdout is for
    scripts (`--json`, one id per line), and a token generated there would be printed
    into that output instead of at the server start where people look for it."""
    db = open_database(settings)
    token = ensure_admin_token(db, settings.admin_token)
    if token:
        # Printed once, on stdout, so it can be captured; only its hash is stored.
        print(f"storeops admin token (shown once, keep it): {token}", flush=True)
    return db


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=None, default=str) + "\n")
    sys.stdout.flush()
