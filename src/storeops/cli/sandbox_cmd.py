"""storeops sandbox run: the vendor sandboxes on loopback ports (and the store simulator)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from storeops.sandbox.runner import SANDBOXES, SandboxCluster, serve_forever

app = typer.Typer(no_args_is_help=True, help="Local stand-ins for the vendors' APIs.")


def _simulate(traffic: float, seed: int) -> Callable[[SandboxCluster], Awaitable[Callable[[], Awaitable[None]] | None]]:
    """The on_ready hook: once the JSON line is out, shoppers start arriving in the same loop."""

    async def on_ready(cluster: SandboxCluster) -> Callable[[], Awaitable[None]] | None:
        if traffic <= 0:
            return None
        # Imported here: plain `sandbox run` does not need the simulator's data loaded.
        from storeops.sandbox.simulator import StoreSimulator

        simulator = StoreSimulator(cluster.describe(), traffic, seed)
        halt = asyncio.Event()
        task = asyncio.create_task(simulator.run(halt), name="store-simulator")

        async def on_stop() -> None:
            halt.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)

        return on_stop

    return on_ready


@app.command()
def run(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="seed for the sandboxes' data and the simulator")] = 0,
    time_scale: Annotated[float, typer.Option(help="vendor time passes this many times faster")] = 1.0,
    only: Annotated[str | None, typer.Option(help="comma-separated vendors (default: all)")] = None,
    traffic: Annotated[float, typer.Option(
        min=0, max=100_000,
        help="store simulator: checkouts per minute (with their support messages, returns and stock "
             "receipts); 0 = no simulated shoppers")] = 0.0,
) -> None:
    """Start the sandboxes; the first stdout line is JSON: vendor -> {url, credentials, ...}.

    With --traffic N a simulated store drives them: N checkouts a minute, reproducible from --seed."""
    names = [n.strip() for n in only.split(",")] if only else list(SANDBOXES)
    unknown = sorted(set(names) - set(SANDBOXES))
    if unknown:
        raise typer.BadParameter(f"unknown vendor(s): {', '.join(unknown)}; one of {', '.join(SANDBOXES)}")
    asyncio.run(serve_forever(names, host=host, seed=seed, time_scale=time_scale,
                              on_ready=_simulate(traffic, seed)))
