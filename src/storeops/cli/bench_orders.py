"""storeops bench orders: paid Shopify orders to ShipBob orders, end to end, over real HTTP.

One run (`--limits lifted` or `--limits real`; `both` runs each in a process of its own):
- the five vendor sandboxes run in a separate process (they play the vendors; they must
  not share storeops' interpreter lock), started with their real rate limits or with them
  lifted (`lifted`: ShipBob's 150/min window, Shopify's cost bucket and Klaviyo's tiers
  off in the sandboxes, and storeops' own client-side limiters and vendor queue limits off
  too: what is left is the engine's speed);
- storeops runs embedded in this process, as `storeops up` does: the web app (webhook
  intake) on a loopback port and the Worker (inbox pump, outbox relay, DBOS) beside it, on
  a fresh SQLite data dir (or a scratch PostgreSQL database with --database-url);
- the demo shop is connected to the sandboxes (flows.demo.connect_demo_shop), a few warm-up
  orders go through, then `--orders` paid orders are placed at the Shopify sandbox
  storefront (POST /_sandbox/checkouts) at `--rate` orders/s; the sandbox delivers the
  signed webhooks to storeops as Shopify would;
- when every routed order is in ShipBob, ShipBob ships them all (POST /_sandbox/advance),
  and the run waits until every shipment is mirrored (Shopify fulfillment, Klaviyo event).

Measured from the sandboxes' own records:
- throughput: orders in ShipBob / (last ShipBob order created - first order placed);
- order-to-3PL latency per order: ShipBob's `created_date` minus the moment the bench sent
  the checkout that created the Shopify order (Shopify's own created_at has whole seconds
  only, too coarse for a p50 under a second; both clocks are this machine's);
- API calls per order by vendor: the sandboxes' request counters (GET /_sandbox/stats)
  over the measured orders, against what a hand-written integration needs (HAND_WRITTEN).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from storeops.cli.common import emit_json

SANDBOX_VENDORS = ("shopify", "shipbob", "klaviyo", "gorgias", "amazon")
MEASURED_VENDORS = ("shopify", "shipbob", "klaviyo")

# What an integration written by hand for this one job calls, per order (documented here
# so the comparison is explicit):
#   placed:  ShipBob POST /order (1), Shopify tagsAdd (1), Klaviyo POST /events (1)
#   shipped: Shopify fulfillmentOrders query + fulfillmentCreate (2: the fulfillment
#            order id is not in any webhook), Klaviyo POST /events (1)
HAND_WRITTEN = {"shipbob": 1.0, "shopify": 3.0, "klaviyo": 2.0}

DEFAULTS = {"lifted": {"orders": 3000, "rate": 100.0}, "real": {"orders": 60, "rate": 2.0}}
WARMUP_ORDERS = 5


# --- the sandboxes' process ---------------------------------------------------------------


def lift_sandbox_limits(cluster: Any) -> None:
    """Turn off the vendors' rate limits in running sandboxes (bench only)."""
    from storeops.sandbox.common import SlidingWindow
    from storeops.sandbox.klaviyo.limits import FixedWindows, Verdict
    from storeops.sandbox.shopify.cost import CostBucket

    class UnlimitedWindows(dict[str, SlidingWindow]):
        def setdefault(self, key: str, default: SlidingWindow | None = None) -> SlidingWindow:
            return super().setdefault(key, SlidingWindow(10**9, 60.0))

    class NoWindows(FixedWindows):
        def take(self, *args: Any, **kwargs: Any) -> Verdict:
            return Verdict(retry_after_s=0, limit=10**6, remaining=10**6, reset_s=60)

    sandboxes = cluster.sandboxes
    if "shipbob" in sandboxes:
        sandboxes["shipbob"].windows = UnlimitedWindows()
    if "klaviyo" in sandboxes:
        sandboxes["klaviyo"].windows = NoWindows(sandboxes["klaviyo"].clock)
    if "shopify" in sandboxes:
        shopify = sandboxes["shopify"]
        shopify.bucket = CostBucket(shopify.clock, capacity=10.0**9, restore_rate=10.0**9)


def serve_sandboxes(lifted: bool, seed: int, time_scale: float = 1.0,
                    vendors: tuple[str, ...] = SANDBOX_VENDORS) -> None:
    """The sandbox process (`storeops sandbox run`, optionally with the vendors' rate limits
    lifted): prints the sandbox map as one JSON line, serves until SIGTERM."""
    from storeops.sandbox.runner import serve_forever

    async def on_ready(cluster: Any) -> None:
        if lifted:
            lift_sandbox_limits(cluster)

    asyncio.run(serve_forever(list(vendors), host="127.0.0.1", seed=seed, time_scale=time_scale,
                              on_ready=on_ready))


def start_sandboxes(log_dir: Path, *, lifted: bool, seed: int) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    out = log_dir / "sandboxes.out"
    with out.open("wb") as stdout, (log_dir / "sandboxes.err").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", f"from storeops.cli.bench_orders import serve_sandboxes; "
                                   f"serve_sandboxes({lifted!r}, {seed})"], stdout=stdout, stderr=stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandboxes exited: {(log_dir / 'sandboxes.err').read_text()[-2000:]}")
        for line in out.read_text().splitlines():
            with contextlib.suppress(ValueError):
                found = json.loads(line)
                if isinstance(found, dict) and "shopify" in found:
                    return process, found
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the sandboxes did not start within 60 s")


# --- storeops, embedded -------------------------------------------------------------------


def lift_client_limits() -> None:
    """Turn off, in this process, storeops' own client-side vendor limiters (ShipBob's
    150/min window, Shopify's cost bucket, Klaviyo's tiers) and the vendor queues' limits.
    For `bench orders --limits lifted` and the exactly-once stress test only: they measure
    or stress the engine, not the vendors' limits (which stay in force everywhere else)."""
    from storeops.connectors.klaviyo import client as klaviyo_client
    from storeops.connectors.klaviyo.limits import KlaviyoRateLimits
    from storeops.connectors.shipbob import client as shipbob_client
    from storeops.connectors.shipbob.limiter import SlidingWindowLimiter
    from storeops.connectors.shopify import client as shopify_client
    from storeops.connectors.shopify.cost import CostLimiter
    from storeops.engine.workflows import set_vendor_limits

    class NoWindow(SlidingWindowLimiter):
        def acquire(self, cost: float = 1.0) -> float:
            return 0.0

        def observe(self, **_: Any) -> None:
            return None

    class NoTiers(KlaviyoRateLimits):
        def acquire(self, method: str, template: str) -> float:
            return 0.0

        def observe(self, method: str, template: str, headers: Any) -> None:
            return None

    class NoBucket(CostLimiter):
        def begin(self, cost: float) -> float:
            return 0.0

        def end(self, cost: float, throttle_status: Any) -> None:
            return None

    set_vendor_limits(False)
    window, tiers, bucket = NoWindow(), NoTiers(), NoBucket()
    shipbob_client.shared_limiter = lambda token: window  # type: ignore[assignment]
    klaviyo_client.shared_rate_limits = lambda api_key: tiers  # type: ignore[assignment]
    shopify_client.shop_limiter = lambda shop_domain: bucket  # type: ignore[assignment]


def main_without_limits() -> None:
    """`python -c "from storeops.cli.bench_orders import main_without_limits; main_without_limits()" up ...`:
    the storeops CLI with the client-side vendor limits lifted (the stress test's storeops)."""
    lift_client_limits()
    from storeops.cli.main import app

    app(args=sys.argv[1:], prog_name="storeops")


class _ThreadServer:
    """storeops' web app (with its Worker in the lifespan) served by uvicorn in a thread."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.server = Quiet(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, http="httptools", loop="uvloop"))
        self.thread = threading.Thread(target=self.server.run, name="storeops-web", daemon=True)

    def start(self, base: str) -> None:
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError("storeops did not become healthy")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


# --- measuring --------------------------------------------------------------------------


def _get(sandboxes: dict[str, Any], vendor: str, path: str) -> Any:
    return httpx.get(f"{sandboxes[vendor]['url']}{path}", timeout=60).json()


def _calls(sandboxes: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {vendor: dict(_get(sandboxes, vendor, "/_sandbox/stats")["requests"]) for vendor in MEASURED_VENDORS}


def _created(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def stock_up(sandboxes: dict[str, Any], skus: int = 12) -> list[str]:
    """The SKUs Shopify holds most of, stocked deep at every ShipBob FC: the bench measures
    the routine order path, not stock shortages (those go through the exceptions flow)."""
    levels = _get(sandboxes, "shopify", "/_sandbox/state")["inventory"]
    chosen = sorted(levels, key=lambda sku: -sum(q["available"] for q in levels[sku].values()))[:skus]
    for fc in _get(sandboxes, "shipbob", "/_sandbox/state")["fulfillment_centers"]:
        for sku in chosen:
            httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/inventory",
                       json={"sku": sku, "fc_id": fc["id"], "delta": 100_000}, timeout=60).raise_for_status()
    return chosen


def place_orders(sandboxes: dict[str, Any], count: int, rate: float, seed: int,
                 skus: list[str]) -> dict[str, float]:
    """Paid checkouts at `rate` per second; Shopify order id -> when its checkout was sent."""
    placed: dict[str, float] = {}
    tick = 0.1
    per_tick = max(1, round(rate * tick))
    started = time.monotonic()
    sent = 0
    with httpx.Client(timeout=60) as client:
        while sent < count:
            due = min(count, int((time.monotonic() - started) * rate) + per_tick)
            if due <= sent:
                time.sleep(tick / 2)
                continue
            batch = min(due - sent, 200)
            body = {"count": batch, "seed": seed + sent,
                    "overrides": [{"payment": "paid", "abandon": False,
                                   "lines": [{"sku": skus[(sent + n) % len(skus)], "quantity": 1}]}
                                  for n in range(batch)]}
            at = time.time()
            answer = client.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body).json()
            for checkout in answer["checkouts"]:
                if checkout["status"] == "completed":
                    placed[str(checkout["order_id"])] = at
            sent += batch
    return placed


def _held(db: Any, shop_id: str, ids: set[str]) -> set[str]:
    from sqlalchemy import select

    from storeops.domain.orders.models import Order

    with db.session(shop_id) as session:
        rows = session.execute(select(Order.external_id, Order.status)).all()
    return {external for external, status in rows if external in ids and status == "held"}


def _outbox_open(db: Any) -> int:
    from sqlalchemy import func, select

    from storeops.engine.models import OutboxMessage

    with db.system_session() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.status.in_(["pending", "dispatched"]))) or 0)


def wait_in_shipbob(sandboxes: dict[str, Any], db: Any, shop_id: str, placed: dict[str, float],
                    timeout_s: float) -> tuple[dict[str, float], set[str]]:
    """Until every placed order is in ShipBob or held by storeops (or nothing moves for a
    while): reference id -> ShipBob's created time; and the held orders."""
    deadline = time.monotonic() + timeout_s
    arrived: dict[str, float] = {}
    held: set[str] = set()
    last_progress = time.monotonic()
    while time.monotonic() < deadline:
        orders = _get(sandboxes, "shipbob", "/_sandbox/state")["orders"]
        now_arrived = {str(o["reference_id"]).split("-")[0]: _created(o["created_date"])
                       for o in orders if str(o["reference_id"]).split("-")[0] in placed}
        if len(now_arrived) > len(arrived):
            last_progress = time.monotonic()
        arrived = now_arrived
        held = _held(db, shop_id, set(placed) - set(arrived))
        if len(arrived) + len(held) >= len(placed) or time.monotonic() - last_progress > 60:
            break
        time.sleep(2.0)  # the state dump is large: polling it often would slow what it measures
    return arrived, held


def wait_shipped(sandboxes: dict[str, Any], db: Any, routed: set[str], timeout_s: float) -> int:
    """Ship everything in ShipBob, then wait until Shopify shows each routed order fulfilled
    and storeops' outbox is empty. Returns how many routed orders are fulfilled."""
    for _ in range(4):  # picked, packed, labelled, shipped
        httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/advance", timeout=60).raise_for_status()
    deadline = time.monotonic() + timeout_s
    fulfilled = 0
    while time.monotonic() < deadline:
        orders = _get(sandboxes, "shopify", "/_sandbox/state")["orders"]
        fulfilled = sum(1 for o in orders if str(o["id"]) in routed and o.get("fulfillment_status") == "fulfilled")
        if fulfilled >= len(routed) and _outbox_open(db) == 0:
            break
        time.sleep(1.0)
    return fulfilled


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def run_one(limits: str, orders: int, rate: float, database_url: str | None, seed: int,
            outbox: str = "batched") -> dict[str, Any]:
    from storeops.cli.bench import _scratch_database, free_port
    from storeops.cli.common import bootstrap
    from storeops.core.logging import configure_logging
    from storeops.core.settings import Settings
    from storeops.engine.outbox import set_batching
    from storeops.flows.demo import connect_demo_shop
    from storeops.flows.runtime import Worker
    from storeops.web.app import create_app

    lifted = limits == "lifted"
    set_batching(outbox == "batched")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="storeops-bench-orders-") as tmp, \
            _scratch_database(database_url) as scratch:
        data_dir = Path(tmp)
        sandbox_process, sandboxes = start_sandboxes(data_dir, lifted=lifted, seed=seed)
        server: _ThreadServer | None = None
        try:
            if lifted:
                lift_client_limits()
            port = free_port()
            settings = Settings(data_dir=data_dir, port=port, admin_token="bench-admin-token",
                                log_level=os.environ.get("STOREOPS_LOG_LEVEL", "warning"),
                                database_url=scratch, executor_id=f"bench-{os.getpid()}")
            configure_logging(settings.log_level, settings.log_json)
            db = bootstrap(settings)
            web = create_app(settings, db, worker=Worker(settings, db))
            base = f"http://127.0.0.1:{port}"
            server = _ThreadServer(web, port)
            server.start(base)
            connection = connect_demo_shop(db, web.state.box, sandboxes, base)
            if not connection.ok:
                raise RuntimeError(f"could not connect the demo shop: {connection.as_dict()}")
            web.state.shops.invalidate()
            shop_id = connection.shop_id

            skus = stock_up(sandboxes)
            warm = place_orders(sandboxes, WARMUP_ORDERS, 50.0, seed + 10**6, skus)
            wait_in_shipbob(sandboxes, db, shop_id, warm, timeout_s=120)
            before = _calls(sandboxes)
            placed = place_orders(sandboxes, orders, rate, seed, skus)
            placing_s = max(placed.values(), default=0) - min(placed.values(), default=0)
            arrived, held = wait_in_shipbob(sandboxes, db, shop_id, placed, timeout_s=max(120.0, orders / 2))
            fulfilled = wait_shipped(sandboxes, db, set(arrived), timeout_s=max(120.0, orders / 2))
            after = _calls(sandboxes)
        finally:
            if server is not None:
                server.stop()
            sandbox_process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                sandbox_process.wait(timeout=15)
            if sandbox_process.poll() is None:
                sandbox_process.kill()
    latencies = [arrived[oid] - placed[oid] for oid in arrived]
    span = max(arrived.values(), default=0) - min(placed.values(), default=0)
    calls: dict[str, dict[str, Any]] = {}
    for vendor in MEASURED_VENDORS:
        delta = {k: v - before[vendor].get(k, 0) for k, v in after[vendor].items() if v - before[vendor].get(k, 0)}
        total = sum(delta.values())
        calls[vendor] = {"total": total, "per_order": round(total / len(arrived), 3) if arrived else None,
                         "hand_written_per_order": HAND_WRITTEN[vendor], "by_endpoint": delta}
    return {
        "limits": limits,
        "outbox": outbox,
        # The machine is shared: a load far above its 2 cores makes every figure pessimistic.
        "load_average_1m": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "database": "postgresql" if scratch else "sqlite",
        "orders_placed": len(placed),
        "offered_rate_per_s": rate,
        "placing_seconds": round(placing_s, 3),
        "in_shipbob": len(arrived),
        "held_by_checks": len(held),
        "missing": len(placed) - len(arrived) - len(held),
        "fulfilled_in_shopify": fulfilled,
        "seconds": round(span, 3),
        "orders_per_s": round(len(arrived) / span, 1) if span > 0 else 0.0,
        "order_to_3pl_latency_s": {"p50": round(percentile(latencies, 0.5), 3),
                                   "p90": round(percentile(latencies, 0.9), 3),
                                   "p99": round(percentile(latencies, 0.99), 3),
                                   "max": round(max(latencies, default=0.0), 3)},
        "api_calls": calls,
        "api_calls_per_order_total": round(sum(c["total"] for c in calls.values()) / len(arrived), 3)
        if arrived else None,
        "hand_written_per_order_total": sum(HAND_WRITTEN.values()),
    }


def orders(
    orders_count: Annotated[int | None, typer.Option("--orders", help="orders to place (default per --limits: "
                                                                      "lifted 3000, real 60)")] = None,
    rate: Annotated[float | None, typer.Option(help="orders placed per second (default: lifted 100, real 2)")] = None,
    limits: Annotated[str, typer.Option(help="lifted | real | both")] = "both",
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL; default embedded SQLite")] = None,
    seed: Annotated[int, typer.Option(help="seed of the sandboxes and the shoppers")] = 4,
    outbox: Annotated[str, typer.Option(help="batched (one workflow per batch of messages) | per-message "
                                             "(one workflow per message, for comparison)")] = "batched",
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = True,
) -> None:
    """Orders end to end: throughput, order-to-3PL latency, API calls per order."""
    if limits not in ("lifted", "real", "both"):
        raise typer.BadParameter("--limits must be lifted, real or both")
    if outbox not in ("batched", "per-message"):
        raise typer.BadParameter("--outbox must be batched or per-message")
    if limits == "both":
        # Each mode in a fresh process: one DBOS per process, and limiters are per process.
        runs = []
        for mode in ("lifted", "real"):
            args = [sys.executable, "-m", "storeops.cli.main", "bench", "orders", "--limits", mode, "--json",
                    "--seed", str(seed), "--outbox", outbox]
            args += ["--orders", str(orders_count)] if orders_count else []
            args += ["--rate", str(rate)] if rate else []
            args += ["--database-url", database_url] if database_url else []
            done = subprocess.run(args, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"bench orders --limits {mode} failed:\n{done.stderr[-3000:]}")
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        result: dict[str, Any] = {"bench": "orders", "runs": runs}
    else:
        chosen = DEFAULTS[limits]
        result = {"bench": "orders", "runs": [run_one(limits, orders_count or int(chosen["orders"]),
                                                      rate or chosen["rate"], database_url, seed, outbox)]}
    if json_out:
        emit_json(result)
    else:
        print(json.dumps(result, indent=2))
