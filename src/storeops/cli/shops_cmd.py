"""storeops shops add | list | set-credential."""

from __future__ import annotations

from typing import Annotated

import typer

from storeops.cli.common import console, emit_json, fail, load, open_database
from storeops.core.errors import InvalidInput, NotFound
from storeops.core.secrets import SecretBox, load_or_create_key
from storeops.domain.shops import services as shops

app = typer.Typer(no_args_is_help=True, help="Shops (tenants) and their credentials.")
Json = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _box() -> SecretBox:
    settings = load()
    return SecretBox(load_or_create_key(settings.ensure_data_dir(), settings.secret_key))


@app.command("add")
def add(
    domain: Annotated[str, typer.Option(help="the shop's myshopify.com domain")],
    shopify_secret: Annotated[str, typer.Option(help="Shopify app API secret: signs webhooks")],
    shopify_token: Annotated[str | None, typer.Option(help="Shopify Admin API access token")] = None,
    name: Annotated[str, typer.Option(help="display name")] = "",
    json: Json = False,
) -> None:
    """Register a shop; webhooks find it by X-Shopify-Shop-Domain."""
    db = open_database(load())
    credentials = {("shopify", "webhook_secret"): shopify_secret}
    if shopify_token:
        credentials[("shopify", "access_token")] = shopify_token
    try:
        with db.system_session() as session:
            view = shops.add_shop(session, _box(), domain=domain, name=name, credentials=credentials)
    except InvalidInput as exc:
        raise fail(exc) from exc
    if json:
        emit_json(view.as_dict())
    else:
        console.print(f"added shop {view.domain} ({view.id})")


@app.command("list")
def list_(json: Json = False) -> None:
    db = open_database(load())
    with db.system_session() as session:
        views = [v.as_dict() for v in shops.list_shops(session)]
    if json:
        emit_json(views)
        return
    for v in views:
        print(f"{v['id']}\t{v['domain']}\t{', '.join(v['credentials'])}")  # type: ignore[arg-type]


@app.command("set-credential")
def set_credential(
    shop: Annotated[str, typer.Option(help="shop id or domain")],
    vendor: Annotated[str, typer.Option(help=", ".join(shops.VENDORS))],
    name: Annotated[str, typer.Option(help="e.g. webhook_secret, access_token, api_key")],
    value: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Store (or replace) one credential, encrypted at rest."""
    db = open_database(load())
    try:
        with db.system_session() as session:
            found = shops.find_shop(session, shop)
            shops.set_credential(session, _box(), shop_id=found.id, vendor=vendor, name=name, value=value)
    except (InvalidInput, NotFound) as exc:
        raise fail(exc) from exc
    console.print(f"stored {vendor}.{name} for {found.domain}", markup=False)
