"""storeops db upgrade | current."""

from __future__ import annotations

import typer

from storeops.cli.common import console, load, open_database
from storeops.db.migrate import current_revision, head_revision
from storeops.db.migrate import upgrade as run_upgrade

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command()
def upgrade() -> None:
    """Apply every migration up to the newest."""
    settings = load()
    db = open_database(settings, migrate=False)
    revision = run_upgrade(db)
    console.print(f"database at revision {revision} ({settings.resolved_database_url.split('@')[-1]})", markup=False)


@app.command()
def current() -> None:
    """Print the schema revision of the database and the newest one this code knows."""
    db = open_database(load(), migrate=False)
    print(f"current {current_revision(db)} head {head_revision()}")
