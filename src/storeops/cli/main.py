"""storeops: up | serve | worker | db | shops | inbox | workflows | bench."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
import uvicorn

from storeops.cli import bench, connectors_cmd, db_cmd, inbox_cmd, sandbox_cmd, shops_cmd, workflows_cmd
from storeops.cli.common import bootstrap, console, load, open_database
from storeops.flows.runtime import Worker
from storeops.web.app import create_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Operations system for online stores.")
app.add_typer(db_cmd.app, name="db")
app.add_typer(shops_cmd.app, name="shops")
app.add_typer(inbox_cmd.app, name="inbox")
app.add_typer(workflows_cmd.app, name="workflows")
app.add_typer(bench.app, name="bench")
app.add_typer(sandbox_cmd.app, name="sandbox")
app.add_typer(connectors_cmd.app, name="connectors")

Port = Annotated[int | None, typer.Option(help="HTTP port (default 8000 or STOREOPS_PORT)")]
Host = Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")]


def _serve(app_obj: object, host: str, port: int) -> None:
    uvicorn.run(
        app_obj, host=host, port=port, log_level="warning", access_log=False,  # type: ignore[arg-type]
        loop="uvloop", http="httptools", timeout_graceful_shutdown=5,
        proxy_headers=False,  # we never use client addresses; saves a middleware layer per request
    )


@app.command()
def up(
    port: Port = None,
    host: Host = None,
    demo: Annotated[bool, typer.Option(help="also start the vendor sandboxes and store simulator")] = False,
) -> None:
    """Everything in one process: web, workers and scheduler (embedded default)."""
    if demo:
        console.print("[yellow]--demo: the vendor sandboxes are not built yet (issue #3); "
                      "starting storeops without them.[/yellow]")
    settings = load(port=port, host=host)
    db = bootstrap(settings)
    web = create_app(settings, db, worker=Worker(settings, db))
    print(f"storeops is up: dashboard http://{settings.host}:{settings.port}/  "
          f"(health: /healthz, API docs: /docs)", flush=True)
    _serve(web, settings.host, settings.port)


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


if __name__ == "__main__":
    app()
