"""Run a vendor sandbox on a real loopback port inside the test process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from storeops.sandbox.common import VendorSandbox

from conftest import free_port


@contextmanager
def running(sandbox: VendorSandbox) -> Iterator[VendorSandbox]:
    """Serve `sandbox` on 127.0.0.1:<free port>; sets sandbox.base_url."""
    port = free_port()
    sandbox.base_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(sandbox.app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="on", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{sandbox.name} sandbox did not start")
        time.sleep(0.02)
    try:
        yield sandbox
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def run_in_loop(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]
