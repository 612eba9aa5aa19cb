"""storeops inbox ids | stats | requeue."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import func, select

from storeops.cli.common import emit_json, load, open_database
from storeops.engine import inbox
from storeops.engine.models import InboxEvent

app = typer.Typer(no_args_is_help=True, help="The durable inbox of vendor events.")


@app.command()
def ids(vendor: Annotated[str, typer.Option(help="shopify, shipbob, gorgias or klaviyo")]) -> None:
    """Stored vendor event ids, one per line, in arrival order."""
    db = open_database(load())
    with db.system_session() as session:
        for event_id in session.scalars(
            select(InboxEvent.event_id).where(InboxEvent.vendor == vendor).order_by(InboxEvent.id)
        ):
            print(event_id)


@app.command()
def stats(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Events by vendor and status."""
    db = open_database(load())
    with db.system_session() as session:
        rows = session.execute(
            select(InboxEvent.vendor, InboxEvent.status, func.count()).group_by(InboxEvent.vendor, InboxEvent.status)
        ).all()
    data = [{"vendor": v, "status": s, "count": c} for v, s, c in rows]
    if json:
        emit_json(data)
    else:
        for row in data:
            print(f"{row['vendor']}\t{row['status']}\t{row['count']}")


@app.command()
def requeue(event: Annotated[list[int], typer.Argument(help="inbox ids of failed/invalid events")]) -> None:
    """Put failed or invalid events back in line (after fixing their cause)."""
    db = open_database(load())
    print(f"requeued {inbox.requeue(db, event)}")
