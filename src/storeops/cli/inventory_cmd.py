"""storeops inventory status | mode | sync | true-up."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from storeops.cli.common import console, emit_json, fail, load, open_database
from storeops.core.errors import NotFound
from storeops.core.secrets import SecretBox, load_or_create_key
from storeops.db.session import Database
from storeops.domain.inventory import services as stock
from storeops.domain.shops import services as shops

app = typer.Typer(no_args_is_help=True, help="Inventory: stock truth, channel ATP, sync and true-up.")
Json = Annotated[bool, typer.Option("--json", help="machine-readable output")]
Shop = Annotated[str, typer.Option(help="shop id or domain")]


def _open(shop: str) -> tuple[Database, str]:
    settings = load()
    db = open_database(settings)
    try:
        with db.system_session() as session:
            shop_id = shops.find_shop(session, shop).id
    except NotFound as exc:
        raise fail(exc) from exc
    from storeops.flows import context as flow_context

    flow_context.configure(db, SecretBox(load_or_create_key(settings.ensure_data_dir(), settings.secret_key)))
    return db, shop_id


@app.command("status")
def status(shop: Shop, sku: Annotated[str | None, typer.Option(help="SKU prefix")] = None,
           limit: int = 50, json: Json = False) -> None:
    """On hand, reserved and per-channel ATP / last pushed / last seen, and open alerts."""
    from storeops.flows import inventory as flow

    db, shop_id = _open(shop)
    with db.session(shop_id) as session:
        rows = stock.overview(session, sku_prefix=sku, limit=limit)
        alerts = [{"kind": a.kind, "sku": a.sku, "order_id": a.order_id, "detail": a.detail}
                  for a in stock.open_alerts(session)]
        current = flow.mode(session, shop_id)
    if json:
        emit_json({"mode": current, "skus": rows, "alerts": alerts})
        return
    console.print(f"inventory sync: {current}; {len(alerts)} open alerts")
    for row in rows:
        channels = ", ".join(f"{c['channel']}{':' + c['location'] if c['location'] else ''}={c['atp']}"
                             for c in row["channels"])
        console.print(f"{row['sku']}: on hand {row['on_hand']}, reserved {row['reserved']}; {channels}")


@app.command("mode")
def mode(shop: Shop, value: Annotated[Literal["off", "shadow", "live"], typer.Argument()]) -> None:
    from storeops.flows import inventory as flow

    db, shop_id = _open(shop)
    with db.session(shop_id) as session:
        flow.set_mode(session, shop_id, value)
    console.print(f"inventory sync is {value}")


@app.command("sync")
def sync(shop: Shop, json: Json = False) -> None:
    """One cycle now: link new items, poll ShipBob, plan the push (a running worker writes it)."""
    from storeops.flows import inventory as flow

    _, shop_id = _open(shop)
    flow.link(shop_id)
    changed = flow.poll_shipbob(shop_id, force=True)
    result = {"changed": len(changed), **flow.plan_push(shop_id)}
    emit_json(result) if json else console.print(result)


@app.command("true-up")
def true_up(shop: Shop, full: Annotated[bool, typer.Option(help="read every level, not only changes")] = False,
            json: Json = False) -> None:
    """Compare every channel with the truth and repair drift."""
    from storeops.flows import inventory as flow

    _, shop_id = _open(shop)
    result = flow.true_up(shop_id, full=full)
    emit_json(result) if json else console.print(f"checked {result['checked']}, drift {len(result['drift'])}")
