"""Klaviyo sandbox (revision 2026-07-15): events, metrics, profiles, lists, segments, catalog
items, per-endpoint burst/steady rate limits. See app.py for the request gate."""

from storeops.sandbox.klaviyo.app import KlaviyoSandbox

__all__ = ["KlaviyoSandbox"]
