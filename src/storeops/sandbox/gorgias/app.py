"""The Gorgias sandbox: the REST API under /api, as shared/vendor-specs/gorgias/api-notes.yaml
describes it, plus a control route that plays a customer writing in.

Auth (developers.gorgias.com/docs/authentication): HTTP Basic with the user's email and
an API key; anything else is a 401 in Gorgias's error shape.

Rate limit (developers.gorgias.com/reference/limitations): a leaky bucket of 40
requests per 20 s per API key (it drains 2 per second). Every API response carries
`X-Gorgias-Account-Api-Call-Limit: used/limit`; over the limit the answer is 429 with
`Retry-after: <seconds>`. The bucket reads `self.clock`, so a test can share a fake
clock with the connector's limiter.

Control route (not Gorgias's API):
    POST /_sandbox/customer-message  {"customer": {"email", "name"}, "subject", "body",
                                      "channel": "email"}
        adds the message to the customer's open ticket, or opens a new ticket, exactly
        as an incoming email would, so the HTTP integrations fire.
    GET /_sandbox/tickets/{id}   one ticket with its messages (cheap to poll)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from storeops.sandbox.common import LeakyBucket, VendorSandbox
from storeops.sandbox.gorgias.errors import ApiError, error_body, invalid, require_object
from storeops.sandbox.gorgias.helpdesk import Helpdesk
from storeops.sandbox.gorgias.http_integrations import (
    IntegrationCall,
    IntegrationCaller,
    build_call,
    render_widget,
    trigger_key,
)
from storeops.sandbox.gorgias.records import (
    Event,
    Message,
    Ticket,
    User,
    customer_record,
    event_record,
    integration_record,
    tag_record,
    team_record,
    user_record,
    widget_record,
)
from storeops.sandbox.gorgias.routes_admin import admin_routes
from storeops.sandbox.gorgias.routes_common import ApiRoute, read_json
from storeops.sandbox.gorgias.routes_tickets import ticket_routes
from storeops.sandbox.gorgias.seed import seed_helpdesk

RATE_LIMIT = 40  # requests per window, API-key integrations (reference/limitations)
RATE_WINDOW_S = 20.0
CALL_LIMIT_HEADER = "X-Gorgias-Account-Api-Call-Limit"
RETRY_AFTER_HEADER = "Retry-after"  # Gorgias's spelling; HTTP header names are case-insensitive
_REASONS = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
            429: "Too many requests", 500: "Internal server error", 502: "Bad gateway",
            503: "Service unavailable", 504: "Gateway timeout"}


class GorgiasSandbox(VendorSandbox):
    name = "gorgias"

    def __init__(self, *, seed: int = 0, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 domain: str = "storeops-sandbox", seed_time: datetime | None = None) -> None:
        self.domain = domain
        self.api_email = f"api@{domain}.example.com"
        self.api_key = hashlib.sha256(f"gorgias-sandbox:{domain}:{seed}".encode()).hexdigest()[:40]
        self.seed_time = seed_time or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.buckets: dict[str, LeakyBucket] = {}
        self._last_time = self.seed_time
        self.caller = IntegrationCaller(self, on_answer=self._keep_answer)
        super().__init__(seed=seed, time_scale=time_scale, clock=clock)

    # --- VendorSandbox hooks -----------------------------------------------------------
    def credentials(self) -> dict[str, str]:
        return {"email": self.api_email, "api_key": self.api_key, "domain": self.domain}

    def seed_state(self) -> None:
        self.desk = Helpdesk(domain=self.domain, support_email=f"support@{self.domain}.example.com", now=self._now)
        seed_helpdesk(self.desk, self.rng, api_user_email=self.api_email, seed_time=self.seed_time)
        self.desk.now = self._now
        self.desk.on_trigger = self._on_trigger

    def reset(self) -> None:
        self.buckets.clear()
        self.caller.queue.clear()
        self.caller.log.clear()
        super().reset()

    async def on_startup(self) -> None:
        await self.caller.start()

    async def on_shutdown(self) -> None:
        await self.caller.stop()

    def error_body(self, status: int) -> dict[str, Any]:
        return error_body(_REASONS.get(status, "Error"))

    def fault_headers(self, status: int) -> dict[str, str]:
        return {RETRY_AFTER_HEADER: f"{self.faults.retry_after_s:g}"} if status == 429 else {}

    async def maybe_fault(self, request: Request) -> Response | None:
        response = await super().maybe_fault(request)
        if response is not None:
            user = self._authenticate(request)
            if user is not None:
                bucket = self._bucket(user)
                used = RATE_LIMIT if response.status_code == 429 else None
                response.headers[CALL_LIMIT_HEADER] = self._call_limit(bucket, used)
        return response

    def routes(self) -> list[BaseRoute]:
        api = [Route(r.path, self._endpoint(r), methods=[r.method]) for r in (*ticket_routes(self),
                                                                                *admin_routes(self))]
        return [*api, Route("/_sandbox/customer-message", self._customer_message, methods=["POST"]),
                Route("/_sandbox/tickets/{ticket_id:int}", self._ticket_state, methods=["GET"])]

    async def _ticket_state(self, request: Request) -> Response:
        """One ticket with its messages, as /_sandbox/state shows it, without dumping the desk
        (benchmarks poll it; no auth and no rate limit, like every control route)."""
        ticket = self.desk.tickets.get(int(request.path_params["ticket_id"]))
        if ticket is None:
            return JSONResponse(error_body("Ticket not found"), status_code=404)
        return JSONResponse(self.desk.ticket_record(ticket, with_messages=True))

    def dump_state(self) -> dict[str, Any]:
        desk = self.desk
        return {
            "account": {"domain": self.domain, "support_email": desk.support_email},
            "users": [user_record(u) for u in desk.users.values()],
            "teams": [team_record(t, desk.users) for t in desk.teams.values()],
            "tags": [tag_record(t) for t in desk.tags.values()],
            "customers": [customer_record(c) for c in desk.customers.values()],
            "tickets": [{**desk.ticket_record(t, with_messages=True), "sidebar": self.sidebar(t)}
                        for t in desk.tickets.values()],
            "integrations": [integration_record(i) for i in desk.integrations.values()],
            "widgets": [widget_record(w) for w in desk.widgets.values()],
            "events": [event_record(e) for e in desk.events],
            "integration_calls": list(self.caller.log),
            "rate_limit": {email: {"level": round(b.capacity - b.available, 3), "limit": RATE_LIMIT}
                           for email, b in self.buckets.items()},
        }

    # --- time, auth and the rate limit -----------------------------------------------
    def _now(self) -> datetime:
        # Strictly increasing, so records created in one microsecond still sort by time.
        now = max(datetime.now(UTC), self._last_time + timedelta(microseconds=1))
        self._last_time = now
        return now

    def _authenticate(self, request: Request) -> User | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            email, _, key = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        user = self.desk.user_by_email(email)
        if user is None or email.lower() != self.api_email.lower():
            return None
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return None
        return user

    def _bucket(self, user: User) -> LeakyBucket:
        # Per API key; the sandbox has one key per user.
        if user.email not in self.buckets:
            self.buckets[user.email] = LeakyBucket(RATE_LIMIT, RATE_LIMIT / RATE_WINDOW_S, clock=self.clock)
        return self.buckets[user.email]

    @staticmethod
    def _call_limit(bucket: LeakyBucket, used: int | None = None) -> str:
        if used is None:
            used = min(RATE_LIMIT, math.ceil(round(bucket.capacity - bucket.available, 6)))
        return f"{used}/{RATE_LIMIT}"

    def _endpoint(self, route: ApiRoute) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            user = self._authenticate(request)
            if user is None:
                return JSONResponse(error_body("Unauthorized: wrong or missing API credentials"), status_code=401,
                                    headers={"WWW-Authenticate": 'Basic realm="Gorgias API"'})
            bucket = self._bucket(user)
            wait = bucket.take()
            if wait > 0:
                self.stats.throttled += 1
                return JSONResponse(error_body("Too many requests"), status_code=429, headers={
                    RETRY_AFTER_HEADER: str(max(1, math.ceil(wait))), CALL_LIMIT_HEADER: f"{RATE_LIMIT}/{RATE_LIMIT}"})
            self.desk.wake_snoozed()
            try:
                reply = await route.handler(request, user)
            except ApiError as exc:
                response: Response = JSONResponse(exc.body(), status_code=exc.status)
            else:
                status, body = reply if isinstance(reply, tuple) else (200, reply)
                response = Response(status_code=status) if body is None else JSONResponse(body, status_code=status)
            response.headers[CALL_LIMIT_HEADER] = self._call_limit(bucket)
            return response

        return endpoint

    # --- HTTP integrations and the sidebar ---------------------------------------------
    def _on_trigger(self, trigger: str, ticket: Ticket, message: Message | None, event: Event) -> None:
        desk = self.desk
        context = {
            "ticket": {**desk.ticket_record(ticket), "customer": customer_record(desk.customers[ticket.customer_id])},
            "message": desk.message_record(message) if message is not None else {},
            "event": event_record(event),
        }
        for integration in list(desk.integrations.values()):
            http = integration.http
            if integration.type != "http" or integration.deactivated or not http:
                continue
            if http["triggers"].get(trigger_key(trigger)):
                self.caller.call(build_call(http, context, integration_id=integration.id,
                                            customer_id=ticket.customer_id, trigger=trigger))

    def _keep_answer(self, call: IntegrationCall, status: int, answer: Any) -> None:
        integration = self.desk.integrations.get(call.integration_id)
        if integration is None:
            return
        if not 200 <= status < 300:
            integration.failures_in_a_row += 1
            if integration.failures_in_a_row >= 100 and integration.deactivated is None:
                integration.deactivated = self._now()
            return
        integration.failures_in_a_row = 0
        customer = self.desk.customers.get(call.customer_id)
        if customer is not None and isinstance(answer, dict):
            # What the sidebar's HTTP widgets display for this customer.
            customer.integrations[str(integration.id)] = {**answer, "__integration_type__": "http"}

    def sidebar(self, ticket: Ticket) -> list[dict[str, Any]]:
        """What the ticket's sidebar shows: each active ticket/customer widget, in order,
        rendered over its integration's data (or the customer's `data` if it has none)."""
        customer = self.desk.customers[ticket.customer_id]
        shown = []
        widgets = sorted(self.desk.widgets.values(), key=lambda w: (w.order, w.id))
        for widget in widgets:
            if widget.deactivated is not None or widget.context not in ("ticket", "customer", "user"):
                continue
            data = (customer.integrations.get(str(widget.integration_id)) if widget.integration_id is not None
                    else customer.data)
            shown.append({"widget_id": widget.id, "type": widget.type, "integration_id": widget.integration_id,
                          "has_data": data is not None, "view": render_widget(widget.template, data or {})})
        return shown

    # --- control: a customer writes in ---------------------------------------------------
    async def _customer_message(self, request: Request) -> Response:
        try:
            body = require_object(await read_json(request))
            who = require_object(body.get("customer"), "customer")
            email, text = who.get("email"), body.get("body")
            if not isinstance(email, str) or "@" not in email:
                raise invalid("customer.email", "Required.")
            if not isinstance(text, str) or not text.strip():
                raise invalid("body", "Required.")
            channel = str(body.get("channel") or "email")
            desk = self.desk
            customer = desk.customer_by_email(email) or desk.create_customer(email, str(who.get("name") or ""))
            message = {"channel": channel, "via": channel, "from_agent": False, "sender": {"id": customer.id},
                       "subject": body.get("subject"), "body_text": text,
                       "body_html": f"<p>{html.escape(text)}</p>"}
            open_tickets = [t for t in desk.tickets.values() if t.customer_id == customer.id and t.status == "open"]
            if open_tickets:
                ticket = max(open_tickets, key=lambda t: (t.updated, t.id))
                added = desk.add_message(ticket, message, actor=None)
                created = False
            else:
                ticket = desk.create_ticket({"channel": channel, "via": channel, "from_agent": False,
                                             "customer": {"id": customer.id}, "subject": body.get("subject"),
                                             "messages": [message]}, actor=None)
                added = desk.messages[ticket.id][-1]
                created = True
        except ApiError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        return JSONResponse({"ticket_id": ticket.id, "message_id": added.id, "customer_id": customer.id,
                             "created": created}, status_code=201 if created else 200)
