"""storeops catalog import | audit | render | publish | consistency."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from storeops.cli.common import console, emit_json, fail, load, open_database
from storeops.core.errors import ConfigError, InvalidInput, NotFound, VendorError
from storeops.core.secrets import SecretBox, load_or_create_key
from storeops.db.session import Database
from storeops.domain.catalog import CHANNELS
from storeops.domain.catalog import services as catalog
from storeops.domain.shops import services as shops
from storeops.flows import catalog as flow

app = typer.Typer(no_args_is_help=True, help="Catalog: import, audit, per-channel renditions, publishing.")
Json = Annotated[bool, typer.Option("--json", help="machine-readable output")]
Shop = Annotated[str | None, typer.Option(help="shop id or domain (default: the only shop)")]


def _open(shop: str | None) -> tuple[Database, SecretBox, str]:
    settings = load()
    db = open_database(settings)
    box = SecretBox(load_or_create_key(settings.ensure_data_dir(), settings.secret_key))
    with db.system_session() as session:
        if shop is not None:
            try:
                return db, box, shops.find_shop(session, shop).id
            except NotFound as exc:
                raise fail(exc) from exc
        found = shops.list_shops(session)
    if len(found) != 1:
        raise fail(f"{len(found)} shops are registered: name one with --shop")
    return db, box, found[0].id


@app.command("import")
def import_(
    csv: Annotated[Path | None, typer.Option("--csv", help="a Shopify product CSV")] = None,
    shopify: Annotated[bool, typer.Option("--shopify", help="read the products from Shopify")] = False,
    query: Annotated[str | None, typer.Option(help="with --shopify: Shopify search, e.g. product_type:Bags")] = None,
    shop: Shop = None, json: Json = False,
) -> None:
    """Import products into the canonical catalog (by handle; unchanged products are left alone)."""
    if (csv is None) == (not shopify):
        raise fail("give exactly one of --csv FILE or --shopify")
    db, box, shop_id = _open(shop)
    try:
        if csv is not None:
            if not csv.is_file():
                raise fail(f"--csv {csv}: no such file")
            result = flow.import_csv(db, shop_id, csv.read_text(encoding="utf-8-sig"))
        else:
            result = flow.import_shopify(db, box, shop_id, query)
    except (InvalidInput, ConfigError, VendorError) as exc:
        raise fail(exc) from exc
    if json:
        emit_json(result.as_dict())
    else:
        counts = result.as_dict()
        console.print(f"created {counts['created']}, updated {counts['updated']}, unchanged {counts['unchanged']}")


@app.command("audit")
def audit_(shop: Shop = None, json: Json = False) -> None:
    """Data quality before automation: missing SKUs / barcodes / weights, duplicates, prices, descriptions."""
    db, _, shop_id = _open(shop)
    report = flow.audit_catalog(db, shop_id)
    if json:
        emit_json(report.as_dict())
        return
    console.print(f"{report.products} products, {report.variants} variants: "
                  f"{report.by_severity['error']} errors, {report.by_severity['warning']} warnings")
    for kind, count in report.counts.items():
        print(f"{kind}\t{count}")


@app.command("render")
def render_(
    sku: Annotated[str | None, typer.Option(help="a SKU of the product")] = None,
    handle: Annotated[str | None, typer.Option(help="or the product's handle")] = None,
    channel: Annotated[str, typer.Option(help=", ".join(CHANNELS))] = "amazon",
    diff: Annotated[bool, typer.Option("--diff", help="show what would change on the channel")] = False,
    shop: Shop = None, json: Json = False,
) -> None:
    """A product's rendition for one channel, its validation issues and (--diff) the change against live."""
    db, box, shop_id = _open(shop)
    try:
        with db.session(shop_id) as session:
            name = catalog.find(session, handle=handle, sku=sku).handle
        shown = flow.preview(db, box, shop_id, name, channel, live=diff)
    except (InvalidInput, NotFound) as exc:
        raise fail(exc) from exc
    if json:
        emit_json(shown)
        return
    if not shown["eligible"]:
        raise fail(f"{name} has no {channel} rendition: " + "; ".join(i["message"] for i in shown["issues"]), 1)
    if diff:
        if not shown["diff"]:
            console.print(f"{name} on {channel}: no change")
        for change in shown["diff"]:
            print(f"- {change['field']}: {change['old']!r}\n+ {change['field']}: {change['new']!r}")
    else:
        for field, value in _flat(shown["fields"]).items():
            print(f"{field}: {value}")
    for issue in shown["issues"]:
        console.print(f"[red]invalid[/red] {issue['field']}: {issue['message']}", markup=True)


def _flat(fields: dict[str, Any]) -> dict[str, Any]:
    from storeops.domain.catalog.channels import flatten

    return flatten(fields)


@app.command("publish")
def publish_(
    handle: Annotated[list[str] | None, typer.Option(help="only these products (repeatable)")] = None,
    amazon_preview: Annotated[bool, typer.Option(help="validate Amazon renditions with VALIDATION_PREVIEW")] = True,
    shop: Shop = None, json: Json = False,
) -> None:
    """Compile and validate every rendition, then publish what changed (a running worker sends it)."""
    db, box, shop_id = _open(shop)
    try:
        compiled = flow.compile_renditions(db, box, shop_id, handles=handle, amazon_preview=amazon_preview)
        published = flow.publish(db, shop_id, handles=handle)
    except (InvalidInput, ConfigError, VendorError) as exc:
        raise fail(exc) from exc
    if json:
        emit_json({"compiled": compiled.as_dict(), "published": published})
        return
    console.print(f"{compiled.renditions} renditions: {compiled.valid} valid, {len(compiled.invalid)} invalid; "
                  f"mode {published['mode']}: {published['emitted']} queued, {published['intended']} intended, "
                  f"{published['unchanged']} unchanged, {len(published['blocked'])} products blocked by the audit")


@app.command("consistency")
def consistency_(
    repair: Annotated[bool, typer.Option(help="in live mode, re-publish what drifted")] = True,
    shop: Shop = None, json: Json = False,
) -> None:
    """Per channel, the share of products whose live fields equal their rendition; repairs drift."""
    db, box, shop_id = _open(shop)
    try:
        result = flow.check_consistency(db, box, shop_id, repair=repair)
    except (ConfigError, VendorError) as exc:
        raise fail(exc) from exc
    if json:
        emit_json(result)
        return
    for channel, entry in result["channels"].items():
        print(f"{channel}\t{entry['percent']}%\t{entry['equal']}/{entry['checked']}")
    console.print(f"{result['drifted']} drifted" + (f", {result['repair']['emitted']} repairs queued"
                                                   if result.get("repair") else ""))
