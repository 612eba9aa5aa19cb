"""Shared fixtures. Every test gets its own database: a temp SQLite file, or a fresh
PostgreSQL database when STOREOPS_TEST_DATABASE is a postgresql:// URL (scripts/test.sh
runs the suite both ways)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
import uvicorn

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

from storeops.core.secrets import SecretBox, load_or_create_key
from storeops.core.settings import Settings
from storeops.db.migrate import upgrade
from storeops.db.session import Database, reset_database
from storeops.domain.shops.services import add_shop
from storeops.sandbox.runner import SANDBOXES, SandboxCluster

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ADMIN_TOKEN = "test-admin-token"
SHOP_DOMAIN = "test-shop.myshopify.com"
SHOP_SECRET = "test-app-secret"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Tests that read ../shared (vendor specs, datasets) skip without it, so a clone outside
    the workspace still runs; CI sets STOREOPS_TEST_REQUIRE_SHARED=1 so a missing folder is an
    error there, not dozens of silent skips."""
    if os.environ.get("STOREOPS_TEST_REQUIRE_SHARED") == "1":
        missing = [str(p) for p in (SHARED / "datasets", SHARED / "vendor-specs") if not p.is_dir()]
        if missing:
            raise pytest.UsageError(f"STOREOPS_TEST_REQUIRE_SHARED=1 but not found: {', '.join(missing)}")


def backend() -> str:
    return os.environ.get("STOREOPS_TEST_DATABASE", "sqlite")


def on_postgres() -> bool:
    return backend().startswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, run only the tests that use a database (the `database_url` fixture,
    directly or through `db`, `settings`, `storeops_env` ...). The others (domain logic, the
    models, sandboxes, connectors) do the same thing on either run: the SQLite run has them."""
    if not on_postgres():
        return
    kept, dropped = [], []
    for item in items:
        (kept if "database_url" in getattr(item, "fixturenames", ()) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("STOREOPS_") and key != "STOREOPS_TEST_DATABASE" and not key.startswith("STOREOPS_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray ./storeops.toml or ./.storeops from the developer
    reset_database()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not on_postgres():
        yield f"sqlite:///{tmp_path / 'data' / 'storeops.db'}"
        return
    admin_url = backend()
    name = f"storeops_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return Settings(data_dir=data_dir, database_url=database_url, admin_token=ADMIN_TOKEN, log_json=False)


@pytest.fixture
def storeops_env(settings: Settings) -> dict[str, str]:
    """Environment for a storeops subprocess using the same data dir and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREOPS_")}
    env.update(
        STOREOPS_DATA_DIR=str(settings.data_dir),
        STOREOPS_DATABASE_URL=str(settings.database_url),
        STOREOPS_ADMIN_TOKEN=ADMIN_TOKEN,
        STOREOPS_LOG_LEVEL="warning",
    )
    return env


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox(load_or_create_key(settings.data_dir, settings.secret_key))


@pytest.fixture
def shop_id(db: Database, box: SecretBox) -> str:
    with db.system_session() as session:
        view = add_shop(session, box, domain=SHOP_DOMAIN, credentials={("shopify", "webhook_secret"): SHOP_SECRET})
    return view.id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, app: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",  # type: ignore[arg-type]
                                access_log=False, loop="asyncio", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def live_app(settings: Settings, db: Database) -> Iterator[LiveServer]:
    """storeops' web app (no worker) on a real loopback port."""
    from storeops.web.app import create_app

    with LiveServer(create_app(settings, db)) as server:
        yield server


# --- Debian's Chromium for the dashboard tests, driven by Playwright (no browser download).
# Missing Chromium or Playwright skips those tests, unless STOREOPS_TEST_REQUIRE_BROWSER=1
# (CI), where it fails them.

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable(reason: str) -> None:
    if os.environ.get("STOREOPS_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (STOREOPS_TEST_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def open_page(browser: Browser, base_url: str, *, height: int = 860, timeout_ms: int = 10_000) -> Iterator[Page]:
    """A fresh browser context on `base_url`. On close it checks that the page loaded nothing
    from elsewhere (the dashboard serves its own assets: no CDN, no web fonts) and raised no
    JavaScript error."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": height})
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    foreign: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base_url) else foreign.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert foreign == [], f"the page loaded assets from elsewhere: {foreign}"
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser: Browser, live_app: LiveServer) -> Iterator[Page]:
    with open_page(browser, live_app.url) as opened:
        yield opened


def sign_in(page: Page, token: str = ADMIN_TOKEN) -> None:
    """The dashboard's login form."""
    page.goto("/login")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


# --- every vendor sandbox, in-process, for end-to-end tests ----------------------------------


@contextmanager
def cluster_thread() -> Iterator[SandboxCluster]:
    """Every sandbox, served by an event loop of its own in a background thread
    (SandboxCluster.stop waits for the servers' lifespan shutdown)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sandboxes", daemon=True)
    thread.start()
    cluster = SandboxCluster(list(SANDBOXES))
    try:
        asyncio.run_coroutine_threadsafe(cluster.start(), loop).result(timeout=60)
        yield cluster
    finally:
        asyncio.run_coroutine_threadsafe(cluster.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def cluster() -> Iterator[SandboxCluster]:
    with cluster_thread() as running:
        yield running


@pytest.fixture
def sandboxes(cluster: SandboxCluster) -> dict[str, dict[str, Any]]:
    """The map `storeops sandbox run` prints, every sandbox back at its seeded start."""
    for entry in cluster.describe().values():
        httpx.post(f"{entry['url']}/_sandbox/reset", timeout=10).raise_for_status()
    return cluster.describe()


# --- a demo shop connected to the sandboxes, and a worker running its flows --------------------


@pytest.fixture
def shop(db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], live_app: LiveServer) -> str:
    """The demo shop connected to the sandboxes, webhooks pointed at `live_app`."""
    from storeops.flows.demo import connect_demo_shop

    connection = connect_demo_shop(db, box, sandboxes, live_app.url)
    assert connection.ok, connection.as_dict()
    return connection.shop_id


@pytest.fixture
def worker(settings: Settings, db: Database, shop: str) -> Iterator[Any]:
    """A Worker (inbox pump, outbox relay, DBOS) for the connected shop, stopped afterwards."""
    from storeops.flows.runtime import Worker

    running = Worker(settings, db)
    # Started from a thread of its own: Playwright's sync API (the browser tests) keeps an event
    # loop running in this one, and DBOS refuses to register queues from such a thread.
    failed: list[BaseException] = []

    def start() -> None:
        try:
            running.start()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failed.append(exc)

    starter = threading.Thread(target=start, name="worker-start")
    starter.start()
    starter.join(timeout=60)
    if failed:
        raise failed[0]
    try:
        yield running
    finally:
        running.stop()

