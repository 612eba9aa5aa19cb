"""storeops connectors documents shopify: what the connectors send."""

from __future__ import annotations

import typer

from storeops.cli.common import emit_json

app = typer.Typer(no_args_is_help=True, help="The vendor connectors.")


@app.command()
def documents(vendor: str) -> None:
    """Every GraphQL document the connector can send, as JSON [{"name", "document"}]."""
    if vendor != "shopify":
        raise typer.BadParameter("only the Shopify connector speaks GraphQL; try: shopify")
    from storeops.connectors.shopify.documents import all_documents

    emit_json(all_documents())
