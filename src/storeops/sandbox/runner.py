"""Start every vendor sandbox on its own loopback port, in one process.

`storeops sandbox run` prints one JSON line first — vendor -> {"url", "credentials", ...}
— then serves until stopped. Sandboxes are looked up by name so a missing or broken
one names itself instead of taking the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn

from storeops.sandbox.common import VendorSandbox

SANDBOXES: dict[str, str] = {
    "shopify": "storeops.sandbox.shopify:ShopifySandbox",
    "shipbob": "storeops.sandbox.shipbob:ShipbobSandbox",
    "gorgias": "storeops.sandbox.gorgias:GorgiasSandbox",
    "klaviyo": "storeops.sandbox.klaviyo:KlaviyoSandbox",
    "amazon": "storeops.sandbox.amazon:AmazonSandbox",
}


def load_sandbox(name: str, *, seed: int = 0, time_scale: float = 1.0) -> VendorSandbox:
    module_name, _, cls_name = SANDBOXES[name].partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(seed=seed, time_scale=time_scale)  # type: ignore[no-any-return]


def _bound_socket(host: str) -> socket.socket:
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    return listener


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process running the cluster
    (several servers share one loop; each would otherwise install its own handlers)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class SandboxCluster:
    """The sandboxes and their uvicorn servers, in the running event loop."""

    def __init__(self, names: list[str], *, host: str = "127.0.0.1", seed: int = 0, time_scale: float = 1.0) -> None:
        self.host = host
        self.sandboxes: dict[str, VendorSandbox] = {
            name: load_sandbox(name, seed=seed, time_scale=time_scale) for name in names
        }
        self.servers: list[uvicorn.Server] = []
        self.tasks: list[asyncio.Task[None]] = []

    def describe(self) -> dict[str, Any]:
        return {name: sandbox.describe() for name, sandbox in self.sandboxes.items()}

    async def start(self) -> None:
        for sandbox in self.sandboxes.values():
            # Bind the listening socket here and hand it to uvicorn: picking a free port
            # and binding it later let another process (or sandbox) take it in between.
            listener = _bound_socket(self.host)
            port = listener.getsockname()[1]
            sandbox.base_url = f"http://{self.host}:{port}"
            config = uvicorn.Config(sandbox.app, host=self.host, port=port, log_level="warning",
                                    access_log=False, lifespan="on")
            server = _QuietServer(config)
            self.servers.append(server)
            self.tasks.append(asyncio.get_running_loop().create_task(server.serve(sockets=[listener])))
        while not all(server.started for server in self.servers):
            failed = [task for task in self.tasks if task.done()]
            if failed:
                error = failed[0].exception() if not failed[0].cancelled() else None
                raise RuntimeError(f"a sandbox server did not start: {error!r}")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        # Let each server finish its lifespan shutdown (webhook senders, background tasks)
        # instead of having it cancelled mid-way when the loop closes.
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5.0)
        else:
            await asyncio.sleep(0.1)


async def serve_forever(names: list[str], *, host: str, seed: int, time_scale: float,
                        on_ready: Any = None) -> None:
    cluster = SandboxCluster(names, host=host, seed=seed, time_scale=time_scale)
    await cluster.start()
    sys.stdout.write(json.dumps(cluster.describe()) + "\n")
    sys.stdout.flush()
    # on_ready(cluster) may return an async callable: it is awaited at shutdown, before
    # the sandboxes stop (the store simulator stops its traffic there).
    on_stop = await on_ready(cluster) if on_ready is not None else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if on_stop is not None:
        await on_stop()
    await cluster.stop()
