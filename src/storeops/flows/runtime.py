"""Assemble a worker: the workflow engine, the inbox pump with our handlers, the outbox relay."""

from __future__ import annotations

import os
import socket
import threading

import structlog

from storeops.core.metrics import INBOX_OUTCOMES
from storeops.core.secrets import SecretBox, load_or_create_key
from storeops.core.settings import Settings
from storeops.db.session import Database
from storeops.engine.inbox import InboxProcessor, InboxPump
from storeops.engine.outbox import OutboxRelay
from storeops.engine.workflows import Engine
from storeops.flows import orders, support
from storeops.flows.intake import handler_for

log = structlog.get_logger(__name__)

RELAY_IDLE_S = 0.05


def worker_name(settings: Settings) -> str:
    return settings.executor_id or f"{socket.gethostname()}:{os.getpid()}"


def engine_executor_id(settings: Settings, name: str) -> str:
    """DBOS recovers, at launch, the unfinished workflows of its own executor id only. One
    SQLite file has one worker process (embedded), so there it is stable across restarts:
    a storeops killed mid-batch resumes its batches when it starts again. On PostgreSQL
    each worker is its own executor (set STOREOPS_EXECUTOR_ID to a stable name per worker
    slot so a restarted worker resumes its predecessor's workflows)."""
    if settings.executor_id:
        return settings.executor_id
    return "embedded" if settings.engine_database_url.startswith("sqlite") else name


class Worker:
    """Everything that does background work in one process (`storeops worker`, or inside `up`)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.name = worker_name(settings)
        self.engine = Engine(settings.engine_database_url, executor_id=engine_executor_id(settings, self.name))
        processor = InboxProcessor(
            db, handler_for, worker=self.name,
            on_outcome=lambda vendor, outcome: INBOX_OUTCOMES.labels(vendor, outcome).inc(),
        )
        self.pump = InboxPump(
            processor,
            batch_size=settings.worker_batch_size,
            lease_s=settings.inbox_lease_s,
            idle_s=settings.worker_poll_interval_s,
        )
        self.relay = OutboxRelay(db, self.engine)
        # The flows build vendor connectors from the shop's encrypted credentials.
        orders.configure(db, SecretBox(load_or_create_key(settings.ensure_data_dir(), settings.secret_key)))
        if settings.triage_model_dir is not None:
            # The merchant's own model (storeops ai train-intents); loaded now, so a bad
            # path stops the worker at start rather than at the first ticket.
            from storeops.ai.triage import Triage

            support.load_model(Triage.load(settings.triage_model_dir))
        self._stop = threading.Event()
        self._relay_thread: threading.Thread | None = None

    def start(self) -> None:
        self.engine.launch()
        self.pump.start()
        self._relay_thread = threading.Thread(target=self._relay_loop, name="outbox-relay", daemon=True)
        self._relay_thread.start()
        log.info("worker started", worker=self.name)

    def _relay_loop(self) -> None:
        while not self._stop.is_set():
            try:
                moved = self.relay.run_once()
            except Exception as exc:  # noqa: BLE001 - keep relaying after a bad message
                log.error("outbox relay error", error=repr(exc))
                moved = 0
            if not moved:
                # An idle relay looks again soon: this wait is part of every order's
                # time to reach the 3PL (issue #4: p99 <= 2 s).
                self._stop.wait(RELAY_IDLE_S)

    def stop(self) -> None:
        self._stop.set()
        self.pump.stop()
        if self._relay_thread:
            self._relay_thread.join(timeout=10)
        self.engine.shutdown()
