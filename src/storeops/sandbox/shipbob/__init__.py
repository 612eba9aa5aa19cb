"""ShipBob sandbox (Developer API 2026-01). See app.py for what it emulates."""

from storeops.sandbox.shipbob.app import ShipbobSandbox

__all__ = ["ShipbobSandbox"]
