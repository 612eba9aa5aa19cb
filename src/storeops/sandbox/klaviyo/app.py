"""The Klaviyo sandbox: Klaviyo's REST API (revision 2026-07-15) on a loopback port.

Every /api/ request passes the same gate as Klaviyo's, in this order:
1. auth — `Authorization: Klaviyo-API-Key <private key>` (spec: securitySchemes.Klaviyo-API-Key);
   missing or wrong -> 401 in Klaviyo's error document;
2. revision — the `revision` header is required on every operation ("API endpoint revision
   (format: YYYY-MM-DD[.suffix])"); missing, malformed or newer than this sandbox -> 400;
3. rate limit — per API key and endpoint, burst and steady fixed windows (limits.py) -> 429
   with `Retry-After`; other answers carry RateLimit-Limit / -Remaining / -Reset.

Klaviyo's system webhooks (/api/webhooks) are not emulated: storeops subscribes to none
(see storeops.connectors.klaviyo.client.KlaviyoClient.ensure_subscriptions).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from storeops.sandbox.common import VendorSandbox
from storeops.sandbox.klaviyo import routes_catalog, routes_events, routes_lists, routes_profiles
from storeops.sandbox.klaviyo.calls import Call, Handler, RouteSpec
from storeops.sandbox.klaviyo.jsonapi import KlaviyoError, VndJSON, invalid, iso
from storeops.sandbox.klaviyo.limits import FixedWindows, Verdict, tier_for
from storeops.sandbox.klaviyo.seed import account, seed
from storeops.sandbox.klaviyo.store import KlaviyoStore, StoreError

REVISION = "2026-07-15"  # the newest revision this sandbox knows (openapi-stable.json)
REVISION_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9_-]+)?$")
TITLES = {400: "Invalid input.", 401: "Not authorized.", 403: "Forbidden.", 404: "Not found.", 409: "Conflict.",
          429: "Request was throttled.", 500: "A server error occurred.", 502: "Bad gateway.",
          503: "Service unavailable.", 504: "Gateway timeout."}
CODES = {400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found", 409: "conflict",
         429: "throttled", 500: "error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}


def default_api_key(seed: int) -> str:
    # Klaviyo private keys are "pk_" followed by hex; derived from the seed so runs repeat.
    return "pk_" + hashlib.sha256(f"storeops-klaviyo-sandbox-{seed}".encode()).hexdigest()[:34]


def _throttled(seconds: int) -> KlaviyoError:
    unit = "second" if seconds == 1 else "seconds"
    detail = f"Request was throttled. Expected available in {seconds} {unit}."
    return KlaviyoError(429, "throttled", TITLES[429], detail, headers={"Retry-After": str(seconds)})


def _route_path(template: str) -> str:
    # A catalog item id embeds the merchant's external_id, which may hold a "/" (sent as %2F);
    # the server decodes it before routing, so that one parameter must match across slashes.
    if template == "/api/catalog-items/{id}":
        return "/api/catalog-items/{id:path}"
    return template


class KlaviyoSandbox(VendorSandbox):
    name = "klaviyo"

    def __init__(self, *, seed: int = 0, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 api_key: str | None = None) -> None:
        self.api_key = api_key or default_api_key(seed)
        self.store = KlaviyoStore(seed)
        self.account: dict[str, Any] = {}
        self.windows = FixedWindows(clock)
        super().__init__(seed=seed, time_scale=time_scale, clock=clock)

    # --- VendorSandbox hooks -------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        specs: list[RouteSpec] = [("GET", "/api/accounts", self._get_accounts), *routes_events.ROUTES,
                                  *routes_profiles.ROUTES, *routes_lists.ROUTES, *routes_catalog.ROUTES]
        return [Route(_route_path(template), self._endpoint(method, template, handler), methods=[method])
                for method, template, handler in specs]

    def seed_state(self) -> None:
        self.store = KlaviyoStore(self.seed)
        self.account = account(self.store)
        self.windows = FixedWindows(self.clock)
        seed(self.store, self.rng)

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.api_key}

    def error_body(self, status: int) -> dict[str, Any]:
        return KlaviyoError(status, CODES.get(status, "error"), TITLES.get(status, "Error."), "injected fault").body()

    def fault_headers(self, status: int) -> dict[str, str]:
        # Klaviyo's Retry-After "returns an int indicating the number of seconds".
        return {"Retry-After": str(math.ceil(self.faults.retry_after_s))} if status == 429 else {}

    def dump_state(self) -> dict[str, Any]:
        store = self.store
        return {
            "account": self.account,
            "profiles": [{"id": p.id, "email": p.email, "first_name": p.first_name, "last_name": p.last_name,
                          "properties": p.properties, "suppressed": bool(p.suppression), "updated": iso(p.updated)}
                         for p in store.profiles.values()],
            "metrics": [{"id": m.id, "name": m.name} for m in store.metrics.values()],
            "events": [{"id": e.id, "metric": store.metrics[e.metric_id].name, "profile_id": e.profile_id,
                        "datetime": iso(e.time), "unique_id": e.unique_id,
                        "value": str(e.value) if e.value is not None else None} for e in store.events.values()],
            "duplicate_events_dropped": store.duplicate_events,
            "lists": [{"id": k.id, "name": k.name, "members": sorted(k.members)} for k in store.lists.values()],
            "segments": [{"id": s.id, "name": s.name} for s in store.segments.values()],
            "catalog_items": [{"id": c.id, "title": c.title, "price": str(c.price) if c.price is not None else None,
                               "published": c.published} for c in store.catalog_items.values()],
        }

    # --- the gate ----------------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not header:
            raise KlaviyoError(401, "not_authenticated", TITLES[401], "Authentication credentials were not provided.")
        scheme, _, key = header.partition(" ")
        if scheme != "Klaviyo-API-Key" or key.strip() != self.api_key:
            raise KlaviyoError(401, "authentication_failed", TITLES[401], "Incorrect authentication credentials.")

    @staticmethod
    def _check_revision(request: Request) -> None:
        revision = request.headers.get("revision")
        if not revision:
            raise invalid("The 'revision' header is required (format: YYYY-MM-DD[.suffix]).", parameter="revision")
        if not REVISION_FORMAT.match(revision) or revision[:10] > REVISION:
            raise invalid(f"'{revision}' is not a valid revision.", parameter="revision")

    def _throttle(self, request: Request, method: str, template: str) -> Verdict:
        bucket, tier = tier_for(method, template, request.query_params)
        verdict = self.windows.take(self.api_key, bucket, tier)
        if verdict.retry_after_s:
            self.stats.throttled += 1
            raise _throttled(verdict.retry_after_s)
        return verdict

    @staticmethod
    async def _body(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            raise invalid("A JSON:API request body is required.", pointer="/data")
        try:
            # Decimal keeps prices and event values exact inside the sandbox.
            return json.loads(raw, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise invalid("The request body is not valid JSON.", pointer="/") from None

    def _endpoint(self, method: str, template: str, handler: Handler) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                self._authenticate(request)
                self._check_revision(request)
                verdict = self._throttle(request, method, template)
                body = await self._body(request) if method in ("POST", "PATCH", "DELETE") else None
                call = Call(request=request, store=self.store, base=str(request.base_url).rstrip("/"),
                            url=request.url, query=request.query_params, path=dict(request.path_params), body=body)
                response = handler(call)
            except KlaviyoError as exc:
                return exc.response()
            except StoreError as exc:
                return KlaviyoError(exc.status, exc.code, TITLES.get(exc.status, "Error."), exc.detail,
                                    pointer=exc.pointer, meta=exc.meta).response()
            # Klaviyo: non-429 answers describe the steady window.
            response.headers["RateLimit-Limit"] = str(verdict.limit)
            response.headers["RateLimit-Remaining"] = str(verdict.remaining)
            response.headers["RateLimit-Reset"] = str(verdict.reset_s)
            return response

        return endpoint

    def _get_accounts(self, call: Call) -> Response:
        base = call.base
        data = [{"type": "account", "id": self.account["id"],
                 "attributes": {k: v for k, v in self.account.items() if k != "id"},
                 "links": {"self": f"{base}/api/accounts/{self.account['id']}/"}}]
        return VndJSON({"data": data, "links": {"self": str(call.url)}})
