"""The simulator's HTTP to the sandboxes: one client, each vendor's auth, a record of
every request sent, and failures counted instead of raised.

The simulator plays the store's customers and staff, so it only uses what they could
reach: the sandboxes' control routes (a shopper checking out, an email arriving, stock
arriving at a dock) and the vendors' public APIs with the sandbox credentials (a staff
member tagging a customer, a returns portal creating a return). It reads the URLs and
credentials from the JSON line `storeops sandbox run` prints, so it can drive sandboxes
in another process.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from typing import Any
from urllib.parse import urlencode

import httpx

log = logging.getLogger(__name__)


class Links:
    """Calls to the sandboxes named in `described` (vendor -> {"url", "credentials", ...})."""

    def __init__(self, described: dict[str, Any], client: httpx.AsyncClient, *,
                 sent: deque[dict[str, Any]], errors: Counter[str]) -> None:
        self.described = described
        self.client = client
        self.sent = sent
        self.errors = errors

    def has(self, vendor: str) -> bool:
        return bool((self.described.get(vendor) or {}).get("url"))

    def credential(self, vendor: str, name: str) -> str:
        return str(self.described[vendor]["credentials"][name])

    async def call(self, vendor: str, method: str, path: str, *, body: Any = None,
                   params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                   ) -> tuple[int, Any]:
        """(HTTP status, parsed JSON or None). Status 0: the sandbox was unreachable."""
        target = path + (f"?{urlencode(params)}" if params else "")
        self.sent.append({"vendor": vendor, "method": method, "path": target, "body": body})
        url = self.described[vendor]["url"].rstrip("/") + target
        try:
            response = await self.client.request(method, url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self.errors[vendor] += 1
            log.warning("store simulator: %s %s failed: %s", method, url, exc)
            return 0, None
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            parsed = None
        if response.status_code >= 400:
            self.errors[vendor] += 1
            log.info("store simulator: %s %s answered %s", method, target, response.status_code)
        return response.status_code, parsed

    # --- per vendor -------------------------------------------------------------------------
    async def shopify_graphql(self, query: str, variables: dict[str, Any]) -> tuple[int, Any]:
        version = self.described["shopify"].get("api_version", "2026-07")
        status, answer = await self.call(
            "shopify", "POST", f"/admin/api/{version}/graphql.json", body={"query": query, "variables": variables},
            headers={"X-Shopify-Access-Token": self.credential("shopify", "access_token")})
        if status == 200 and isinstance(answer, dict) and answer.get("errors"):
            # Shopify answers GraphQL errors (THROTTLED included) with HTTP 200.
            self.errors["shopify"] += 1
        return status, answer

    async def shipbob_api(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
                          channel_id: int | None = None) -> tuple[int, Any]:
        # developer.shipbob.com/auth: a Personal Access Token as a Bearer token; writes
        # name the channel in the shipbob_channel_id header.
        headers = {"Authorization": f"Bearer {self.credential('shipbob', 'token')}"}
        if channel_id is not None:
            headers["shipbob_channel_id"] = str(channel_id)
        return await self.call("shipbob", method, f"/2026-01/{path}", body=body, params=params, headers=headers)
