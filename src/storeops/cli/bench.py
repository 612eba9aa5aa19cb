"""storeops bench ingest: signed Shopify webhooks over real HTTP on loopback.

Starts `storeops serve` as a separate process (its own data dir, or the PostgreSQL in
--database-url), registers a shop through the API, then a client with `--concurrency`
keep-alive connections sends `--count` distinct signed webhooks as fast as the server
answers. Every 2xx is then checked against the inbox table: throughput counts only
events that are verifiably stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from storeops.cli import bench_forecast, bench_inventory, bench_orders, bench_routing, bench_triage
from storeops.cli.common import emit_json
from storeops.connectors.shopify.webhooks import sign
from storeops.db.session import Database
from storeops.engine.models import InboxEvent

app = typer.Typer(no_args_is_help=True, help="Benchmarks (JSON output).")

SECRET = "bench-app-secret"
TOKEN = "bench-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


def shop_domain(run: str) -> str:
    return f"bench-{run}.myshopify.com"


def build_request(port: int, index: int, run: str) -> bytes:
    body = json.dumps(
        {"id": 5_000_000 + index, "email": f"buyer{index}@example.com", "total_price": "19.90",
         "currency": "USD", "line_items": [{"sku": f"SKU-{index % 500}", "quantity": 1}]},
        separators=(",", ":"),
    ).encode()
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": shop_domain(run),
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": f"wh-{run}-{index}",
        "X-Shopify-Event-Id": f"ev-{run}-{index}",
        "X-Shopify-Triggered-At": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "X-Shopify-Hmac-Sha256": sign(body, SECRET),
    }
    head = "POST /webhooks/shopify HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def drive(port: int, requests: list[bytes], concurrency: int) -> tuple[list[float], dict[int, int]]:
    """Send every request over `concurrency` keep-alive connections; latencies in seconds."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    position = 0

    async def connection() -> None:
        nonlocal position
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while position < len(requests):
                raw = requests[position]
                position += 1
                start = time.perf_counter()
                writer.write(raw)
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, statuses


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def start_server(data_dir: Path, port: int, database_url: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STOREOPS_DATA_DIR": str(data_dir), "STOREOPS_ADMIN_TOKEN": TOKEN,
           "STOREOPS_LOG_LEVEL": "warning"}
    if database_url:
        env["STOREOPS_DATABASE_URL"] = database_url
    else:
        env.pop("STOREOPS_DATABASE_URL", None)
    log = (data_dir / "server.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "storeops.cli.main", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=log,
    )


def run_ingest(count: int, concurrency: int, database_url: str | None, warmup: int = 500) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as tmp:
        port = free_port()
        server = start_server(Path(tmp), port, database_url)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, server)
            # A shop of its own per run: a PostgreSQL database may hold earlier runs.
            run = f"{os.getpid()}-{int(time.time() * 1000)}"
            response = httpx.post(f"{base}/api/v1/shops", headers={"Authorization": f"Bearer {TOKEN}"},
                                  json={"domain": shop_domain(run), "shopify_secret": SECRET}, timeout=10)
            if response.status_code != 201:
                raise RuntimeError(f"could not register the bench shop: {response.text}")
            asyncio.run(drive(port, [build_request(port, -i - 1, run) for i in range(warmup)], concurrency))
            requests = [build_request(port, i, run) for i in range(count)]
            started = time.perf_counter()
            latencies, statuses = asyncio.run(drive(port, requests, concurrency))
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        url = database_url or f"sqlite:///{Path(tmp) / 'storeops.db'}"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        db = Database(url)
        with db.system_session() as session:
            stored = session.scalar(
                select(func.count()).select_from(InboxEvent).where(InboxEvent.event_id.like(f"ev-{run}-%"))
            )
            stored_measured = session.scalar(
                select(func.count()).select_from(InboxEvent)
                .where(InboxEvent.event_id.like(f"ev-{run}-%"), ~InboxEvent.event_id.like(f"ev-{run}--%"))
            )
        db.dispose()
    ok = statuses.get(200, 0)
    return {
        "bench": "ingest",
        "database": make_url(url).get_backend_name(),
        "requests": count,
        "concurrency": concurrency,
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "acknowledged": ok,
        "stored_in_inbox": stored_measured,
        "stored_including_warmup": stored,
        "all_acknowledged_stored": stored_measured == ok,
        "seconds": round(elapsed, 3),
        "throughput_per_s": round(ok / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 2),
            "p90": round(percentile(latencies, 0.90) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(max(latencies, default=0) * 1000, 2),
        },
    }


@app.command()
def ingest(
    count: Annotated[int, typer.Option(help="webhooks to send")] = 20_000,
    concurrency: Annotated[int, typer.Option(help="concurrent keep-alive connections")] = 32,
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL; default embedded SQLite")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = True,
) -> None:
    """Throughput and latency of verified, durably stored webhooks."""
    result = run_ingest(count, concurrency, database_url)
    if json_out:
        emit_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


@contextlib.contextmanager
def _scratch_database(server_url: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database on the server of `server_url`, dropped afterwards, so
    the worker drains only the benchmark's events (None: use SQLite)."""
    if not server_url:
        yield None
        return
    import psycopg

    plain = "postgresql://" + server_url.split("://", 1)[1]
    name = f"storeops_bench_{secrets.token_hex(4)}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "postgresql+psycopg://" + plain.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_process(count: int, database_url: str | None, batch_size: int = 200) -> dict[str, Any]:
    """Inbox processing throughput: `count` Shopify order events (each upserting its
    customer) stored, then drained by one worker's pump, as `storeops worker` would."""
    from cryptography.fernet import Fernet

    from storeops.core.secrets import SecretBox
    from storeops.db.migrate import upgrade
    from storeops.domain.shops.services import add_shop
    from storeops.engine.inbox import InboxProcessor, InboxPump, NewEvent, insert_events
    from storeops.flows.intake import handler_for

    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as tmp, _scratch_database(database_url) as scratch:
        url = scratch or f"sqlite:///{Path(tmp) / 'storeops.db'}"
        db = Database(url)
        upgrade(db)
        run = f"{os.getpid()}-{int(time.time() * 1000)}"
        with db.system_session() as session:
            shop = add_shop(session, SecretBox(Fernet.generate_key()), domain=shop_domain(run)).id
        events = [
            NewEvent(shop, "shopify", f"ev-{run}-{i}", "orders/create", {"x-shopify-topic": "orders/create"},
                     json.dumps({"id": i, "customer": {"id": i % 1000, "email": f"c{i % 1000}@example.com",
                                                       "updated_at": f"2026-01-01T{i // 3600 % 24:02d}:"
                                                                     f"{i // 60 % 60:02d}:{i % 60:02d}Z"}}).encode())
            for i in range(count)
        ]
        for start in range(0, count, 500):
            insert_events(db, events[start:start + 500])
        pump = InboxPump(InboxProcessor(db, handler_for, worker="bench"), batch_size=batch_size, lease_s=300,
                         idle_s=0.01)
        started = time.perf_counter()
        result = pump.drain(timeout_s=600)
        elapsed = time.perf_counter() - started
        db.dispose()
    return {
        "bench": "process",
        "database": make_url(url).get_backend_name(),
        "events": count,
        "processed": result.processed,
        "batch_size": batch_size,
        "seconds": round(elapsed, 3),
        "events_per_s": round(result.processed / elapsed, 1) if elapsed else 0.0,
    }


@app.command()
def process(
    count: Annotated[int, typer.Option(help="order events to process")] = 5_000,
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL; default a temporary SQLite")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = True,
) -> None:
    """Throughput of the inbox worker: events handled (customer upsert + mark) per second."""
    result = run_process(count, database_url)
    if json_out:
        emit_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


# Benchmarks that live in their own modules (each imports its heavy libraries lazily).
app.command("forecast")(bench_forecast.forecast)
app.command("orders")(bench_orders.orders)
app.command("inventory")(bench_inventory.inventory)
app.command("routing")(bench_routing.routing)
app.command("triage")(bench_triage.triage)
