"""storeops outbox list | retry: the outbound actions (vendor calls) storeops decided on."""

from __future__ import annotations

from typing import Annotated

import typer

from storeops.cli.common import emit_json, fail, load, open_database
from storeops.core.errors import NotFound
from storeops.domain.shops import services as shops
from storeops.engine import outbox

app = typer.Typer(no_args_is_help=True, help="The outbound actions and their state: failed, waiting, done.")


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="pending | dispatched | done | failed")] = None,
    target: Annotated[str | None, typer.Option(help="an action, e.g. shipbob.create_order")] = None,
    shop: Annotated[str | None, typer.Option(help="shop id or domain")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Newest first, with counts by status. A pending action with a retry time is waiting for
    a vendor that stopped answering; a failed one needs a person (then `storeops outbox retry`)."""
    db = open_database(load())
    shop_id = None
    if shop:
        try:
            with db.system_session() as session:
                shop_id = shops.find_shop(session, shop).id
        except NotFound as exc:
            raise fail(exc) from exc
    found = outbox.list_messages(db, status=status, target=target, shop_id=shop_id, limit=limit)
    if json:
        emit_json(found)
        return
    print("  ".join(f"{name}: {count}" for name, count in sorted(found["counts"].items())) or "no actions")
    for m in found["messages"]:
        state = m["status"] if not m["retry_at"] else f"waiting (round {m['rounds']}, next {m['retry_at']})"
        line = f"{m['id']}\t{m['target']}\t{state}\t{m['created_at']}"
        print(f"{line}\t{m['error']}" if m["error"] else line)


@app.command()
def retry(
    ids: Annotated[list[int], typer.Argument(help="ids of failed actions (storeops outbox list --status failed)")],
) -> None:
    """Send failed actions again once their cause is fixed, under the same idempotency key
    (a vendor that did act the first time is not called twice). Others are left alone."""
    db = open_database(load())
    retried = outbox.retry_failed_ids(db, ids)
    print(f"sent again: {retried} of {len(ids)}")
    if retried < len(ids):
        print("(the others are not failed: already retried, waiting, or done)")
