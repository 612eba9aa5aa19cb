"""The `storeops` command line: db, shops, inbox, worker, workflows, bench.

Commands that only touch the database run in-process (typer's CliRunner) with the
test's environment; commands that start the workflow engine (DBOS is one instance per
process) or servers run as real `python -m storeops.cli.main` subprocesses.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from sqlalchemy import func, select, text
from typer.testing import CliRunner, Result

from storeops.cli.main import app
from storeops.core.clock import utcnow
from storeops.core.secrets import SecretBox
from storeops.core.settings import Settings
from storeops.db.migrate import head_revision
from storeops.db.models import AdminToken, Shop
from storeops.db.session import Database, reset_database
from storeops.domain.customers.models import Customer
from storeops.engine.inbox import NewEvent, insert_events
from storeops.engine.models import PENDING, PROCESSED, InboxEvent, OutboxMessage

from conftest import SHOP_DOMAIN, on_postgres

CLI = [sys.executable, "-m", "storeops.cli.main"]
SECRET = "shpss_very-secret-value-9f8e7d"


@pytest.fixture
def run(storeops_env: dict[str, str]) -> Iterator[Any]:
    """Invoke the CLI in-process with the test's STOREOPS_* environment.

    The CLI configures logging for the process (structlog on the current stderr); that
    is put back afterwards so no later test logs into a closed capture stream.
    """
    runner = CliRunner()
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    cli_env = {k: v for k, v in storeops_env.items() if k.startswith("STOREOPS_")}

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env=cli_env if env is None else env, catch_exceptions=False)

    yield invoke
    structlog.configure(**saved_structlog)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    reset_database()


def subprocess_cli(env: dict[str, str], *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout_s)


def add_inbox_event(db: Database, shop_id: str, event_id: str, *, vendor: str = "shopify",
                    topic: str = "customers/create", payload: Any = None) -> None:
    body = orjson.dumps(payload if payload is not None else {"id": event_id})
    [stored] = insert_events(db, [NewEvent(shop_id=shop_id, vendor=vendor, event_id=event_id, topic=topic,
                                           headers={}, body=body)])
    assert stored


# --- db ------------------------------------------------------------------------------


def test_db_upgrade_then_current_shows_head(run: Any) -> None:
    before = run("db", "current")
    assert before.exit_code == 0, before.output
    assert before.stdout.split() == ["current", "None", "head", str(head_revision())]

    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"database at revision {head_revision()}" in upgraded.stderr

    after = run("db", "current")
    assert after.exit_code == 0, after.output
    assert after.stdout.split() == ["current", str(head_revision()), "head", str(head_revision())]
    assert run("db", "upgrade").exit_code == 0  # idempotent


# --- shops ---------------------------------------------------------------------------


def raw_credentials(db: Database) -> list[tuple[str, str, str]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text("SELECT vendor, name, ciphertext FROM shop_credentials"))]


def test_shops_add_prints_the_shop_as_json_and_stores_the_secret_encrypted(
    run: Any, db: Database, box: SecretBox, settings: Settings
) -> None:
    result = run("shops", "add", "--domain", "Example-Store.myshopify.com", "--shopify-secret", SECRET,
                 "--shopify-token", "shpat_token-value-123", "--name", "Example", "--json")
    assert result.exit_code == 0, result.output
    shop = json.loads(result.stdout)  # the whole of stdout is the JSON document
    assert shop["id"].startswith("shop_")
    assert (shop["domain"], shop["name"]) == ("example-store.myshopify.com", "Example")
    assert shop["credentials"] == ["shopify.access_token", "shopify.webhook_secret"]
    for secret in (SECRET, "shpat_token-value-123"):
        assert secret not in result.stdout and secret not in result.stderr

    credentials = raw_credentials(db)
    assert sorted((v, n) for v, n, _ in credentials) == [("shopify", "access_token"), ("shopify", "webhook_secret")]
    by_name = {n: c for _, n, c in credentials}
    assert SECRET not in by_name["webhook_secret"] and "very-secret" not in by_name["webhook_secret"]
    assert box.decrypt(by_name["webhook_secret"]).reveal() == SECRET  # encrypted, with the data dir's key
    assert box.decrypt(by_name["access_token"]).reveal() == "shpat_token-value-123"
    if not on_postgres():  # not in the database file at all (pages, WAL)
        for path in settings.data_dir.glob("storeops.db*"):
            assert SECRET.encode() not in path.read_bytes(), path

    listed = run("shops", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == [shop]
    assert SECRET not in listed.output


def test_adding_a_registered_domain_again_exits_2_and_changes_nothing(run: Any, db: Database) -> None:
    assert run("shops", "add", "--domain", SHOP_DOMAIN, "--shopify-secret", SECRET).exit_code == 0
    before = raw_credentials(db)

    again = run("shops", "add", "--domain", SHOP_DOMAIN.upper(), "--shopify-secret", "another-secret", "--json")
    assert again.exit_code == 2, again.output
    assert f"shop {SHOP_DOMAIN} is already registered" in again.stderr
    assert again.stdout == ""
    assert SECRET not in again.output and "another-secret" not in again.output
    assert raw_credentials(db) == before  # the first shop's secret was not replaced
    with db.system_session() as session:
        assert session.scalar(select(func.count()).select_from(Shop)) == 1


@pytest.mark.parametrize("domain", [
    "not a domain", "example", "-bad-.myshopify.com", "shop_1.myshopify.com", "",
    "[/red]",  # rich markup in user input: printed as is, not interpreted (or crashed on)
    "a-rather-long-subdomain-name-that-goes-past-eighty-columns.myshopify.com x",  # one line, not wrapped
])
def test_a_bad_domain_exits_2_with_a_clear_message(run: Any, db: Database, domain: str) -> None:
    result = run("shops", "add", "--domain", domain, "--shopify-secret", SECRET)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"error: {domain!r} is not a shop domain like example.myshopify.com"]
    assert result.stdout == ""
    with db.system_session() as session:
        assert session.scalar(select(func.count()).select_from(Shop)) == 0


def test_an_empty_secret_exits_2_and_registers_nothing(run: Any, db: Database) -> None:
    result = run("shops", "add", "--domain", SHOP_DOMAIN, "--shopify-secret", "")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == ["error: shopify webhook_secret must not be empty"]
    with db.system_session() as session:
        assert session.scalar(select(func.count()).select_from(Shop)) == 0
    assert raw_credentials(db) == []


def test_shops_list_json(run: Any) -> None:
    empty = run("shops", "list", "--json")
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []
    for domain in ("b-shop.myshopify.com", "a-shop.myshopify.com"):
        assert run("shops", "add", "--domain", domain, "--shopify-secret", SECRET).exit_code == 0
    listed = run("shops", "list", "--json")
    assert listed.exit_code == 0, listed.output
    shops = json.loads(listed.stdout)
    assert [s["domain"] for s in shops] == ["b-shop.myshopify.com", "a-shop.myshopify.com"]  # registration order
    assert all(set(s) == {"id", "domain", "name", "credentials"} for s in shops)
    assert all(s["credentials"] == ["shopify.webhook_secret"] for s in shops)
    plain = run("shops", "list")
    assert [line.split("\t")[1] for line in plain.stdout.splitlines()] == [s["domain"] for s in shops]


def test_without_a_configured_admin_token_json_output_stays_json(
    run: Any, storeops_env: dict[str, str], db: Database, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh data dir and no STOREOPS_ADMIN_TOKEN: script commands must not mix the
    one-time admin token into their output (nor use it up: `up` shows it)."""
    env = {k: v for k, v in storeops_env.items() if k.startswith("STOREOPS_") and k != "STOREOPS_ADMIN_TOKEN"}
    added = run("shops", "add", "--domain", SHOP_DOMAIN, "--shopify-secret", SECRET, "--json", env=env)
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["domain"] == SHOP_DOMAIN
    listed = run("shops", "list", "--json", env=env)
    assert json.loads(listed.stdout)[0]["domain"] == SHOP_DOMAIN
    ids = run("inbox", "ids", "--vendor", "shopify", env=env)
    assert ids.exit_code == 0 and ids.stdout == ""
    stats = run("inbox", "stats", "--json", env=env)
    assert json.loads(stats.stdout) == []
    assert "admin token" not in added.output + listed.output + ids.output + stats.output
    with db.system_session() as session:
        assert session.scalar(select(func.count()).select_from(AdminToken)) == 0

    # The first server start still generates the token and shows it (once).
    from storeops.cli.common import bootstrap

    bootstrap(Settings(data_dir=settings.data_dir, database_url=settings.database_url))
    bootstrap(Settings(data_dir=settings.data_dir, database_url=settings.database_url))
    assert capsys.readouterr().out.count("storeops admin token") == 1


# --- inbox ---------------------------------------------------------------------------


def test_inbox_ids_prints_one_id_per_line_in_arrival_order(run: Any, db: Database, shop_id: str) -> None:
    assert run("inbox", "ids", "--vendor", "shopify").stdout == ""
    for event_id in ("ev-c", "ev-a", "ev-b"):  # not sorted: arrival order is what counts
        add_inbox_event(db, shop_id, event_id)
    add_inbox_event(db, shop_id, "kl-1", vendor="klaviyo", topic="profile")
    add_inbox_event(db, shop_id, "ev-d")
    insert_events(db, [NewEvent(shop_id=shop_id, vendor="shopify", event_id="ev-a", topic="customers/create",
                                headers={}, body=b"{}")])  # a duplicate changes nothing

    result = run("inbox", "ids", "--vendor", "shopify")
    assert result.exit_code == 0, result.output
    assert result.stdout == "ev-c\nev-a\nev-b\nev-d\n"
    assert run("inbox", "ids", "--vendor", "klaviyo").stdout == "kl-1\n"
    assert run("inbox", "ids", "--vendor", "gorgias").stdout == ""


def test_inbox_stats_json(run: Any, db: Database, shop_id: str) -> None:
    empty = run("inbox", "stats", "--json")
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []
    for n in range(3):
        add_inbox_event(db, shop_id, f"ev-{n}")
    add_inbox_event(db, shop_id, "kl-1", vendor="klaviyo", topic="profile")
    with db.system_session() as session:
        session.execute(text("UPDATE inbox_events SET status = 'processed' WHERE event_id = 'ev-0'"))

    result = run("inbox", "stats", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert sorted((r["vendor"], r["status"], r["count"]) for r in rows) == [
        ("klaviyo", PENDING, 1), ("shopify", PENDING, 2), ("shopify", PROCESSED, 1)]
    plain = run("inbox", "stats")
    assert sorted(plain.stdout.splitlines()) == ["klaviyo\tpending\t1", "shopify\tpending\t2", "shopify\tprocessed\t1"]


# --- worker, workflows (their own processes: the workflow engine is per process) ------


def test_worker_once_processes_pending_events_and_exits(
    storeops_env: dict[str, str], db: Database, shop_id: str
) -> None:
    for n in range(3):
        customer = {"id": 100 + n, "email": f"c{n}@example.com", "updated_at": "2026-01-02T03:04:05Z"}
        add_inbox_event(db, shop_id, f"ev-{n}", topic="orders/create", payload={"id": n, "customer": customer})
    add_inbox_event(db, shop_id, "ev-unknown-topic", topic="app/uninstalled_later")
    add_inbox_event(db, shop_id, "ev-bad", topic="customers/create", payload=["not", "an", "object"])

    env = {**storeops_env, "STOREOPS_EXECUTOR_ID": "cli-worker"}
    result = subprocess_cli(env, "worker", "--once", timeout_s=120)
    assert result.returncode == 0, result.stderr
    assert "processed 3, invalid 1, ignored 1, retried 0, failed 0" in result.stderr

    with db.system_session() as session:
        rows = {r.event_id: r for r in session.scalars(select(InboxEvent))}
        customers = sorted(session.scalars(select(Customer.external_id)))
    assert {e: r.status for e, r in rows.items()} == {
        "ev-0": PROCESSED, "ev-1": PROCESSED, "ev-2": PROCESSED, "ev-unknown-topic": "ignored", "ev-bad": "invalid"}
    assert all(r.process_count == 1 and r.processed_by == "cli-worker" for r in rows.values())
    assert customers == ["100", "101", "102"]

    again = subprocess_cli(env, "worker", "--once", timeout_s=120)
    assert again.returncode == 0, again.stderr
    assert "processed 0," in again.stderr


def test_workflows_list_json_on_an_empty_engine(storeops_env: dict[str, str]) -> None:
    result = subprocess_cli(storeops_env, "workflows", "list", "--json", timeout_s=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    plain = subprocess_cli(storeops_env, "workflows", "list", "--status", "ERROR", timeout_s=120)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == ""


# --- bench ---------------------------------------------------------------------------


@pytest.mark.slow
def test_bench_ingest_prints_json_and_every_acknowledged_event_is_stored(
    storeops_env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    args = ["bench", "ingest", "--count", "300", "--concurrency", "8", "--json"]
    if on_postgres():
        args += ["--database-url", str(settings.database_url)]
    result = subprocess_cli(storeops_env, *args, timeout_s=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    report = json.loads(lines[0])
    assert report["database"] == ("postgresql" if on_postgres() else "sqlite")
    assert report["requests"] == 300 and report["concurrency"] == 8
    assert report["acknowledged"] == 300 and report["status_counts"] == {"200": 300}
    assert report["stored_in_inbox"] == 300
    assert report["all_acknowledged_stored"] is True
    assert isinstance(report["throughput_per_s"], float) and report["throughput_per_s"] > 0
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]


# --- outbox ----------------------------------------------------------------------------


def test_outbox_list_shows_waiting_and_failed_actions_and_retry_sends_only_failed_ones(
        run: Any, db: Database, shop_id: str) -> None:
    now = utcnow()
    with db.session(shop_id) as session:
        rows = [
            OutboxMessage(shop_id=shop_id, idempotency_key="k-failed", target="shipbob.create_order",
                          payload={"decision_id": 7}, status="failed", error="shipbob HTTP 422: bad address"),
            OutboxMessage(shop_id=shop_id, idempotency_key="k-waiting", target="shopify.tag_order", payload={},
                          status="pending", rounds=2, not_before=now + timedelta(minutes=2),
                          failing_since=now - timedelta(minutes=1), error="shopify HTTP 503 (after 8 attempts)"),
            OutboxMessage(shop_id=shop_id, idempotency_key="k-done", target="klaviyo.event", payload={},
                          status="done"),
        ]
        session.add_all(rows)
        session.flush()
        failed, waiting, done = (r.id for r in rows)

    listed = run("outbox", "list", "--json")
    assert listed.exit_code == 0, listed.output
    found = json.loads(listed.stdout)
    assert found["counts"] == {"failed": 1, "pending": 1, "done": 1}
    by_id = {m["id"]: m for m in found["messages"]}
    assert by_id[waiting]["rounds"] == 2 and by_id[waiting]["retry_at"] is not None
    assert by_id[failed]["decision_id"] == 7 and by_id[failed]["retry_at"] is None

    text_view = run("outbox", "list", "--status", "pending", "--shop", SHOP_DOMAIN)
    assert "waiting (round 2, next " in text_view.stdout and "k-done" not in text_view.stdout
    assert run("outbox", "list", "--shop", "nope.myshopify.com").exit_code == 2

    retried = run("outbox", "retry", str(failed), str(done), str(waiting))
    assert retried.exit_code == 0 and "sent again: 1 of 3" in retried.stdout
    statuses = {m["id"]: m["status"] for m in json.loads(run("outbox", "list", "--json").stdout)["messages"]}
    assert statuses == {failed: "pending", waiting: "pending", done: "done"}
