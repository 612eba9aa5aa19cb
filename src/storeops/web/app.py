"""The FastAPI application: webhooks, health, metrics, API, dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from storeops import __version__
from storeops.core.metrics import QUEUE_DEPTH, REGISTRY, WORKFLOWS
from storeops.core.secrets import SecretBox, load_or_create_key
from storeops.core.settings import Settings
from storeops.db.session import Database
from storeops.engine.inbox import InboxWriter, pending_count
from storeops.web import (
    api,
    catalog_api,
    catalog_pages,
    dashboard,
    inventory_api,
    inventory_pages,
    orders_api,
    orders_pages,
    returns_api,
    returns_pages,
    rules_pages,
    support_api,
    support_pages,
)
from storeops.web.auth import TokenChecker, ensure_admin_token
from storeops.web.intake import ShopDirectory, WebhookIntake


class StoreopsApp:
    """The ASGI entry point: webhooks go straight to the lean intake, the rest to FastAPI."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api
        self.state = api.state
        self.intake = WebhookIntake(api.state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/webhooks/"):
            await self.intake(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def create_app(settings: Settings, db: Database, *, worker: Any = None) -> StoreopsApp:
    """Build the app. `worker` (storeops.flows.runtime.Worker) is started with the app when
    given: that is `storeops up`, everything in one process."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.inbox_writer = InboxWriter(db)
        if worker is not None:
            await run_in_threadpool(worker.start)
            app.state.engine = worker.engine
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)
            app.state.inbox_writer.close()

    app = FastAPI(
        title="storeops",
        version=__version__,
        lifespan=lifespan,
    )
    box = SecretBox(load_or_create_key(settings.ensure_data_dir(), settings.secret_key))
    app.state.settings = settings
    app.state.db = db
    app.state.box = box
    if settings.admin_token:
        ensure_admin_token(db, settings.admin_token)  # a configured token works from the first request
    app.state.tokens = TokenChecker(db)
    app.state.shops = ShopDirectory(db, box)
    app.state.engine = None

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            return JSONResponse({"status": "unhealthy", "database": repr(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        QUEUE_DEPTH.set(pending_count(db))
        engine = request.app.state.engine
        if engine is not None:
            for status in ("PENDING", "ENQUEUED", "ERROR", "SUCCESS", "CANCELLED"):
                WORKFLOWS.labels(status).set(len(engine.list(status=status, limit=10_000)))
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    app.include_router(api.router)
    app.include_router(orders_api.router)
    app.include_router(dashboard.router)
    app.include_router(orders_pages.router)
    app.include_router(rules_pages.router)
    app.include_router(returns_api.router)
    app.include_router(returns_pages.router)
    app.include_router(catalog_api.router)
    app.include_router(catalog_pages.router)
    app.include_router(inventory_api.router)
    app.include_router(inventory_pages.router)
    app.include_router(support_api.router)
    app.include_router(support_api.widget_router)
    app.include_router(support_pages.router)
    return StoreopsApp(app)
