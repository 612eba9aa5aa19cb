"""storeops: up | serve | worker | db | shops | inbox | outbox | workflows | bench."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from rich.markup import escape

from storeops.cli import (
    ai_cmd,
    ai_forecast_cmd,
    bench,
    catalog_cmd,
    connectors_cmd,
    db_cmd,
    inbox_cmd,
    inventory_cmd,
    orders_cmd,
    outbox_cmd,
    sandbox_cmd,
    shops_cmd,
    workflows_cmd,
)
from storeops.cli.common import bootstrap, console, fail, load, open_database
from storeops.core.settings import Settings
from storeops.engine.inbox import release_leases
from storeops.flows.runtime import Worker
from storeops.sandbox.runner import SANDBOXES, SandboxCluster
from storeops.web.app import StoreopsApp, create_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Operations system for online stores.")
app.add_typer(db_cmd.app, name="db")
app.add_typer(shops_cmd.app, name="shops")
app.add_typer(inbox_cmd.app, name="inbox")
app.add_typer(outbox_cmd.app, name="outbox")
app.add_typer(orders_cmd.app, name="orders")
app.add_typer(workflows_cmd.app, name="workflows")
app.add_typer(bench.app, name="bench")
app.add_typer(sandbox_cmd.app, name="sandbox")
app.add_typer(connectors_cmd.app, name="connectors")
app.add_typer(catalog_cmd.app, name="catalog")
app.add_typer(inventory_cmd.app, name="inventory")
ai_cmd.app.command("forecast")(ai_forecast_cmd.forecast)
app.add_typer(ai_cmd.app, name="ai")

Port = Annotated[int | None, typer.Option(help="HTTP port (default 8000 or STOREOPS_PORT)")]
Host = Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")]


def _serve(app_obj: object, host: str, port: int) -> None:
    # Once it has shut down, uvicorn re-raises the signal that stopped it under the handlers it
    # found. Ours ignore that second delivery, so SIGTERM/Ctrl-C end in a clean exit (status 0)
    # after the graceful shutdown instead of the process dying by the signal.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.run(
            app_obj, host=host, port=port, log_level="warning", access_log=False,  # type: ignore[arg-type]
            loop="uvloop", http="httptools", timeout_graceful_shutdown=5,
            proxy_headers=False,  # we never use client addresses; saves a middleware layer per request
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_after_shutdown() -> None:
    """End the process now that everything was stopped in order.

    A workflow in a durable sleep (a payment reminder due in an hour) sleeps in a thread of
    the engine's executor, and Python joins those threads at exit: a plain return would wait
    out the sleep. Its state is in the database and the next start resumes it, so nothing is
    lost by not waiting."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(0)


# --- the demo: sandboxes, a connected demo shop, simulated shoppers ------------------------

DEFAULT_TRAFFIC_PER_MIN = 6.0  # a gentle demo: about one shopper every ten seconds


class DemoError(Exception):
    """The demo cannot start (a bad --sandboxes file, sandboxes that do not start)."""


@dataclass
class DemoSession:
    sandboxes: dict[str, dict[str, Any]]  # the map `storeops sandbox run` prints
    cluster: _SandboxThread | None = None  # None: the sandboxes run in another process
    stoppers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            with contextlib.suppress(Exception):
                stop()


class _SandboxThread:
    """The vendor sandboxes on loopback ports, served by their own event loop in a
    background thread, so they run beside uvicorn's loop without sharing it."""

    def __init__(self, seed: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sandboxes", daemon=True)
        self.cluster = SandboxCluster(list(SANDBOXES), seed=seed)

    def start(self) -> dict[str, dict[str, Any]]:
        self.thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.cluster.start(), self.loop).result(timeout=60)
        except Exception as exc:
            raise DemoError(f"the vendor sandboxes did not start: {exc!r}") from exc
        return self.cluster.describe()

    async def _shutdown(self) -> None:
        await self.cluster.stop()
        # cluster.stop() only asks the servers to exit; wait for them (and the sandboxes'
        # lifespan shutdown) so the loop is not stopped under them.
        serving = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if serving:
            await asyncio.wait(serving, timeout=5)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def read_sandbox_map(path: Path) -> dict[str, dict[str, Any]]:
    """The first line of `path` that is the JSON map `storeops sandbox run` prints."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DemoError(f"cannot read the sandboxes file {path}: {exc.strerror or exc}") from exc
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data and all(
            isinstance(entry, dict) and isinstance(entry.get("url"), str) for entry in data.values()
        ):
            return data
    raise DemoError(f"{path} holds no sandbox map (the JSON line `storeops sandbox run` prints first)")


def _local_host(host: str) -> str:
    """An address on this machine that reaches a server bound to `host`."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def callback_base(settings: Settings) -> str:
    """Where vendors (here: the sandboxes) reach our webhooks."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{_local_host(settings.host)}:{settings.port}"


def _start_simulator(sandbox_map: dict[str, dict[str, Any]], traffic_per_min: float,
                     seed: int) -> Callable[[], None] | None:
    """Start the store simulator (shoppers, support messages, warehouse steps) against the
    sandboxes; its start() runs the traffic in a thread of its own and returns at once."""
    try:
        from storeops.sandbox.simulator import StoreSimulator
    except ImportError:  # a build without it still demos: orders can be placed by hand
        console.print("[yellow]--demo: this build has no store simulator (storeops.sandbox.simulator); "
                      "no simulated shoppers. POST /_sandbox/checkouts at the Shopify sandbox makes orders.[/yellow]")
        return None
    try:
        simulator = StoreSimulator(sandbox_map, rate_per_min=traffic_per_min, seed=seed)
        simulator.start()
    except Exception as exc:  # noqa: BLE001 - the demo runs on without simulated traffic
        console.print(f"[yellow]--demo: the store simulator did not start: {escape(repr(exc))}[/yellow]")
        return None
    return simulator.stop  # type: ignore[no-any-return]


def _hold_port(host: str, port: int) -> socket.socket:
    """Bind (not listen on) host:port until uvicorn takes it over."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    held = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: connections of a killed predecessor in TIME_WAIT must not block a restart.
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        held.bind((host, port))
    except OSError as exc:
        held.close()
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return held


def _when_healthy(url: str, then: Callable[[], None], timeout_s: float = 120.0) -> None:
    """Run `then` in a background thread once `url` answers 200 (the server is serving)."""

    def wait() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    then()
                    return
            time.sleep(0.2)

    threading.Thread(target=wait, name="demo-start", daemon=True).start()


def start_demo(settings: Settings, web: StoreopsApp, *, sandboxes: dict[str, dict[str, Any]] | None,
               traffic_per_min: float, seed: int) -> DemoSession:
    """Start the sandboxes (unless `sandboxes` says where running ones are), connect the
    demo shop to them, and schedule the simulator to start once storeops serves (so the
    webhooks of its first orders land at once instead of waiting for a vendor retry)."""
    from storeops.flows.demo import connect_demo_shop  # the five connectors: only the demo needs them here

    # One INFO line per vendor call from httpx would bury the demo's own output.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if sandboxes is not None:
        session = DemoSession(sandboxes)
    else:
        cluster = _SandboxThread(seed)
        session = DemoSession(cluster.start(), cluster=cluster, stoppers=[cluster.stop])
    web.state.sandboxes = {vendor: entry["url"] for vendor, entry in session.sandboxes.items()}
    try:
        connection = connect_demo_shop(web.state.db, web.state.box, session.sandboxes, callback_base(settings))
    except Exception as exc:
        session.stop()
        raise DemoError(f"could not register the demo shop: {exc}") from exc
    web.state.shops.invalidate()
    for vendor, result in connection.vendors.items():
        if result.error:
            console.print(f"[yellow]--demo: {vendor} not connected: {escape(result.error)}[/yellow]")
    started_here = f" (started here, seed {seed})" if session.cluster is not None else ""
    print(f"demo shop {connection.domain} connected to the sandboxes{started_here}: "
          + ", ".join(f"{vendor} {url}" for vendor, url in web.state.sandboxes.items()), flush=True)
    if traffic_per_min > 0:
        def simulate() -> None:
            stop = _start_simulator(session.sandboxes, traffic_per_min, seed)
            if stop is not None:
                session.stoppers.append(stop)

        _when_healthy(f"http://{_local_host(settings.host)}:{settings.port}/healthz", simulate)
    return session


@app.command()
def up(
    port: Port = None,
    host: Host = None,
    demo: Annotated[bool, typer.Option(help="also start the vendor sandboxes and store simulator")] = False,
    sandboxes: Annotated[Path | None, typer.Option(
        help="--demo: connect to sandboxes already running; FILE holds the JSON line `storeops sandbox run` "
             "printed", dir_okay=False)] = None,
    traffic: Annotated[float, typer.Option(
        min=0, help="--demo: simulated shoppers per minute (0: none)")] = DEFAULT_TRAFFIC_PER_MIN,
    seed: Annotated[int | None, typer.Option(
        help="--demo: seed of the sandboxes and the simulator (default: a new one per start)")] = None,
) -> None:
    """Everything in one process: web, workers and scheduler (embedded default)."""
    if sandboxes is not None and not demo:
        raise fail("--sandboxes only makes sense with --demo")
    try:
        # A bad file is reported before anything starts.
        sandbox_map = read_sandbox_map(sandboxes) if sandboxes is not None else None
    except DemoError as exc:
        raise fail(exc) from exc
    settings = load(port=port, host=host)
    # The sandboxes take free ports before uvicorn binds ours: hold ours meanwhile, so no
    # sandbox gets it (and a port already taken is reported before anything starts).
    held = _hold_port(settings.host, settings.port) if demo else None
    db = bootstrap(settings)
    # One process does all the work here: events a killed predecessor had claimed are ours now.
    release_leases(db)
    web = create_app(settings, db, worker=Worker(settings, db))
    session: DemoSession | None = None
    if demo:
        if seed is None:
            # Seeded sandboxes repeat their webhook event ids run after run, and the inbox
            # drops a repeated id as a duplicate: a second demo on the same data dir would
            # show nothing new. So each start gets its own seed unless one is asked for.
            seed = secrets.randbelow(2**31)
        try:
            session = start_demo(settings, web, sandboxes=sandbox_map, traffic_per_min=traffic, seed=seed)
        except DemoError as exc:
            raise fail(exc) from exc
        finally:
            if held is not None:
                held.close()
    print(f"storeops is up: dashboard http://{settings.host}:{settings.port}/  "
          f"(health: /healthz, API docs: /docs)", flush=True)
    try:
        _serve(web, settings.host, settings.port)
    finally:
        if session is not None:
            session.stop()
    _exit_after_shutdown()


@app.command()
def serve(port: Port = None, host: Host = None) -> None:
    """Web only (webhook intake, API, dashboard); run several behind a load balancer."""
    settings = load(port=port, host=host)
    db = bootstrap(settings)
    print(f"storeops serving on http://{settings.host}:{settings.port}/", flush=True)
    _serve(create_app(settings, db), settings.host, settings.port)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="process what is pending, then exit")] = False,
) -> None:
    """Background work only: inbox processing, outbox relay, workflows. Run several on PostgreSQL."""
    settings = load()
    db = open_database(settings)
    runner = Worker(settings, db)
    if once:
        result = runner.pump.drain()
        console.print(f"processed {result.processed}, invalid {result.invalid}, ignored {result.ignored}, "
                      f"retried {result.retried}, failed {result.failed}")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runner.start()
    print(f"storeops worker {runner.name} running", flush=True)
    stop.wait()
    runner.stop()
    _exit_after_shutdown()


if __name__ == "__main__":
    app()
