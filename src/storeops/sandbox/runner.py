"""Start every vendor sandbox on its own loopback port, in one process.

`storeops sandbox run` prints one JSON line first — vendor -> {"url", "credentials", ...}
— then serves until stopped. Sandboxes are looked up by name so a missing or broken
one names itself instead of taking the others down.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import signal
import socket
import sys
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


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SandboxCluster:
    """The sandboxes and their uvicorn servers, in the running event loop."""

    def __init__(self, names: list[str], *, host: str = "127.0.0.1", seed: int = 0, time_scale: float = 1.0) -> None:
        self.host = host
        self.sandboxes: dict[str, VendorSandbox] = {
            name: load_sandbox(name, seed=seed, time_scale=time_scale) for name in names
        }
        self.servers: list[uvicorn.Server] = []

    def describe(self) -> dict[str, Any]:
        return {name: sandbox.describe() for name, sandbox in self.sandboxes.items()}

    async def start(self) -> None:
        for sandbox in self.sandboxes.values():
            port = _free_port(self.host)
            sandbox.base_url = f"http://{self.host}:{port}"
            config = uvicorn.Config(sandbox.app, host=self.host, port=port, log_level="warning",
                                    access_log=False, lifespan="on")
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
            self.servers.append(server)
            asyncio.get_running_loop().create_task(server.serve())
        while not all(server.started for server in self.servers):
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        await asyncio.sleep(0.1)


async def serve_forever(names: list[str], *, host: str, seed: int, time_scale: float,
                        on_ready: Any = None) -> None:
    cluster = SandboxCluster(names, host=host, seed=seed, time_scale=time_scale)
    await cluster.start()
    sys.stdout.write(json.dumps(cluster.describe()) + "\n")
    sys.stdout.flush()
    if on_ready is not None:
        await on_ready(cluster)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await cluster.stop()
