"""storeops sandbox run: the vendor sandboxes on loopback ports (and the store simulator)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from storeops.sandbox.runner import SANDBOXES, serve_forever

app = typer.Typer(no_args_is_help=True, help="Local stand-ins for the vendors' APIs.")


@app.command()
def run(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="seed for the sandboxes' data and the simulator")] = 0,
    time_scale: Annotated[float, typer.Option(help="vendor time passes this many times faster")] = 1.0,
    only: Annotated[str | None, typer.Option(help="comma-separated vendors (default: all)")] = None,
) -> None:
    """Start the sandboxes; the first stdout line is JSON: vendor -> {url, credentials, ...}."""
    names = [n.strip() for n in only.split(",")] if only else list(SANDBOXES)
    unknown = sorted(set(names) - set(SANDBOXES))
    if unknown:
        raise typer.BadParameter(f"unknown vendor(s): {', '.join(unknown)}; one of {', '.join(SANDBOXES)}")
    asyncio.run(serve_forever(names, host=host, seed=seed, time_scale=time_scale))
