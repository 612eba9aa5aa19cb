"""storeops orders reconcile: run the order reconciliation sweep now."""

from __future__ import annotations

from typing import Annotated

import typer

from storeops.cli.common import console, emit_json, fail, load, open_database
from storeops.core.errors import NotFound
from storeops.core.secrets import SecretBox, load_or_create_key
from storeops.domain.shops import services as shops
from storeops.flows import order_lifecycle

app = typer.Typer(no_args_is_help=True, help="Orders: reconciliation with Shopify.")


@app.command("reconcile")
def reconcile(
    shop: Annotated[str | None, typer.Option(help="shop id or domain (default: every shop with Shopify access)")]
    = None,
    json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Find Shopify orders changed since the last sweep that storeops lacks or holds older, and
    queue them in the inbox (a running worker applies them, exactly once)."""
    settings = load()
    db = open_database(settings)
    box = SecretBox(load_or_create_key(settings.ensure_data_dir(), settings.secret_key))
    if shop is None:
        shop_ids = order_lifecycle.shops_to_sweep(db)
    else:
        try:
            with db.system_session() as session:
                shop_ids = [shops.find_shop(session, shop).id]
        except NotFound as exc:
            raise fail(exc) from exc
    results = []
    for shop_id in shop_ids:
        try:
            results.append(order_lifecycle.reconcile_shop(db, box, shop_id).as_dict())
        except Exception as exc:  # noqa: BLE001 - report the shop's failure, go on with the others
            results.append(order_lifecycle.ReconcileResult(shop_id, error=str(exc) or repr(exc)).as_dict())
    if json:
        emit_json(results)
    else:
        for r in results:
            if r["error"]:
                console.print(f"{r['shop_id']}: [red]error[/red] {r['error']}")
            elif r["first_run"]:
                console.print(f"{r['shop_id']}: first sweep, watermark set to {r['watermark']}")
            else:
                console.print(f"{r['shop_id']}: {r['seen']} changed, {r['fed']} queued, watermark {r['watermark']}")
    if any(r["error"] for r in results):
        raise typer.Exit(1)
