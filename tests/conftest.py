"""Shared fixtures. Every test gets its own database: a temp SQLite file, or a fresh
PostgreSQL database when STOREOPS_TEST_DATABASE is a postgresql:// URL (scripts/test.sh
runs the suite both ways)."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import uvicorn

from storeops.core.secrets import SecretBox, load_or_create_key
from storeops.core.settings import Settings
from storeops.db.migrate import upgrade
from storeops.db.session import Database, reset_database
from storeops.domain.shops.services import add_shop

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ADMIN_TOKEN = "test-admin-token"
SHOP_DOMAIN = "test-shop.myshopify.com"
SHOP_SECRET = "test-app-secret"


def backend() -> str:
    return os.environ.get("STOREOPS_TEST_DATABASE", "sqlite")


def on_postgres() -> bool:
    return backend().startswith("postgresql")


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
