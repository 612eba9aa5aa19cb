"""The store simulator: customers and staff of a store, driving the vendor sandboxes over HTTP.

`storeops sandbox run --traffic N` starts it beside the sandboxes; `StoreSimulator` is the
API (`tick(n)` / `step()` for tests, `run()` in an event loop, `stats()` for dashboards).
"""

from storeops.sandbox.simulator.traffic import StoreSimulator

__all__ = ["StoreSimulator"]
