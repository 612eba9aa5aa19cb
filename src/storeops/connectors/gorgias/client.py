"""GorgiasClient: storeops' client for the Gorgias REST API (or its sandbox).

- Base URL: https://{domain}.gorgias.com/api, or any base URL (the sandbox's); paths
  below are written with their /api prefix, as Gorgias's docs list them.
- Auth: HTTP Basic, the user's email and an API key (developers.gorgias.com/docs/
  authentication; private apps only — public apps must use OAuth2, not supported here).
- Version: Gorgias puts no version in its URLs or headers. API_VERSION pins the date of
  the docs this client was written against (the limitations page's updatedAt in
  shared/vendor-specs/gorgias/api-notes.yaml), so a behaviour change can be dated.
- Rate limit: a leaky bucket of 40 requests per 20 s per API key (reference/limitations).
  Every client for the same account and user shares one limiter (burst 40, refill 2/s:
  the same bucket seen from the client side), corrected after each response from
  X-Gorgias-Account-Api-Call-Limit ("used/limit"); a 429's Retry-after blocks it and
  lands in VendorError.retry_after. No retries here: the engine owns them.
- Pagination: cursor (reference/pagination); readers follow meta.next_cursor to the end.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from storeops.connectors.gorgias.models import Customer, Event, Message, Ticket
from storeops.connectors.gorgias.subscriptions import NAME_PREFIX, TOPICS, desired_integration, matches
from storeops.connectors.http import RateLimiter, VendorClient, shared_limiter
from storeops.core.errors import ConfigError, InvalidInput, VendorError

API_VERSION = "2025-09-16"
RATE_LIMIT_REQUESTS = 40
RATE_LIMIT_WINDOW_S = 20.0
CALL_LIMIT_HEADER = "x-gorgias-account-api-call-limit"
PAGE_LIMIT = 100  # the largest page Gorgias serves; fewer calls per read
PRIORITIES = ("low", "normal", "high", "critical")
STATUSES = ("open", "closed")
UPDATABLE_FIELDS = frozenset({"priority", "status", "assignee_user", "assignee_team", "subject", "language"})

_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def base_url_for(domain_or_base_url: str) -> str:
    """"acme", "acme.gorgias.com" -> https://acme.gorgias.com; a URL is kept (minus /api)."""
    value = domain_or_base_url.strip().rstrip("/")
    if value.startswith(("http://", "https://")):
        return value.removesuffix("/api")
    domain = value.lower().removesuffix(".gorgias.com")
    if not _DOMAIN.match(domain):
        raise ConfigError(f"gorgias: {domain_or_base_url!r} is not a Gorgias account domain")
    return f"https://{domain}.gorgias.com"


def account_limiter(base_url: str, email: str) -> RateLimiter:
    # Gorgias counts per API key, and a key belongs to one user: key the limiter by
    # account and user (never by the key itself, which is a secret).
    return shared_limiter("gorgias", f"{base_url}|{email.lower()}",
                          rate_per_s=RATE_LIMIT_REQUESTS / RATE_LIMIT_WINDOW_S, burst=RATE_LIMIT_REQUESTS)


class GorgiasClient(VendorClient):
    vendor = "gorgias"

    def __init__(self, domain_or_base_url: str, email: str, api_key: str, *, webhook_secret: str | None = None,
                 limiter: RateLimiter | None = None, timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        base_url = base_url_for(domain_or_base_url)
        super().__init__(base_url, headers={"Accept": "application/json",
                                            "User-Agent": f"storeops-gorgias/{API_VERSION}"},
                         auth=httpx.BasicAuth(email, api_key), timeout_s=timeout_s,
                         limiter=limiter or account_limiter(base_url, email), transport=transport)
        self.email = email
        self.webhook_secret = webhook_secret
        self.http.event_hooks = {"request": [], "response": [self._observe_call_limit]}

    def _observe_call_limit(self, response: httpx.Response) -> None:
        """Correct the shared limiter with what Gorgias says is used ("10/40")."""
        used, _, limit = response.headers.get(CALL_LIMIT_HEADER, "").partition("/")
        if self.limiter is not None and used.strip().isdigit() and limit.strip().isdigit():
            self.limiter.observe(available=max(0, int(limit) - int(used)))

    # --- plumbing -----------------------------------------------------------------------
    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        query = {"limit": PAGE_LIMIT, **(params or {})}
        while True:
            body = self._json("GET", path, params=query)
            yield list(body.get("data") or [])
            cursor = (body.get("meta") or {}).get("next_cursor")
            if not cursor:
                return
            query = {**query, "cursor": cursor}

    def _all(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return [record for page in self._pages(path, params) for record in page]

    # --- the Connector protocol ----------------------------------------------------------
    def check(self) -> None:
        """GET /api/account: proves the email and API key work (one call)."""
        try:
            self.request("GET", "/api/account")
        except VendorError as exc:
            if exc.status in (401, 403):
                raise ConfigError(f"gorgias: credentials rejected (HTTP {exc.status})") from exc
            raise

    def ensure_subscriptions(self, callback_url: str, secret: str | None = None) -> list[str]:
        """Make sure one HTTP integration per topic in TOPICS calls `callback_url` with our
        secret, event-id and topic headers. Idempotent: an integration that already does
        exactly that is kept; a stale or deactivated one of ours is replaced (delete +
        create, the calls api-notes.yaml documents). `callback_url` should carry ?shop=."""
        secret = secret or self.webhook_secret
        if not secret:
            raise ConfigError("gorgias: a webhook secret is needed to create the HTTP integrations")
        ours = [i for i in self.list_integrations() if str(i.get("name", "")).startswith(NAME_PREFIX)]
        for topic in TOPICS:
            wanted = desired_integration(topic, callback_url, secret)
            same_name = [i for i in ours if i.get("name") == wanted["name"]]
            keep = next((i for i in same_name if matches(i, wanted)), None)
            for stale in same_name:
                if stale is not keep:
                    self.request("DELETE", f"/api/integrations/{stale['id']}")
            if keep is None:
                self.request("POST", "/api/integrations", json=wanted)
        return list(TOPICS)

    # --- readers ---------------------------------------------------------------------------
    def list_tickets(self, updated_since: datetime | None = None) -> list[Ticket]:
        """Tickets changed at or after `updated_since` (all of them when None).

        Gorgias's ticket list has no "updated since" filter, so this reads newest-updated
        first and stops at the first older ticket. A ticket updated while we page can move
        ahead of the cursor and be missed; the next sweep picks it up.
        """
        if updated_since is not None and updated_since.tzinfo is None:
            raise InvalidInput("updated_since must be timezone-aware", field="updated_since")
        seen: dict[int, Ticket] = {}
        for page in self._pages("/api/tickets", {"order_by": "updated_datetime:desc"}):
            for raw in page:
                ticket = Ticket.from_api(raw)
                if updated_since is not None and ticket.updated_at is not None and ticket.updated_at < updated_since:
                    return list(seen.values())
                seen.setdefault(ticket.id, ticket)
        return list(seen.values())

    def get_ticket(self, ticket_id: int) -> Ticket:
        return Ticket.from_api(self._json("GET", f"/api/tickets/{ticket_id}"))

    def list_messages(self, ticket_id: int) -> list[Message]:
        records = self._all(f"/api/tickets/{ticket_id}/messages", {"order_by": "created_datetime:asc"})
        return [Message.from_api(r) for r in records]

    def list_events(self, created_since: datetime | None = None, *, types: Sequence[str] = ()) -> list[Event]:
        params: dict[str, Any] = {"order_by": "created_datetime:asc"}
        if created_since is not None:
            params["created_datetime[gte]"] = created_since.isoformat()
        if types:
            params["types"] = ",".join(types)
        return [Event.from_api(r) for r in self._all("/api/events", params)]

    def get_customer(self, customer_id: int) -> Customer:
        return Customer.from_api(self._json("GET", f"/api/customers/{customer_id}"))

    def find_customer(self, email: str) -> Customer | None:
        found = self._json("GET", "/api/customers", params={"email": email, "limit": 1})
        data = found.get("data") or []
        return Customer.from_api(data[0]) if data else None

    def list_users(self) -> list[dict[str, Any]]:
        return self._all("/api/users")

    def list_teams(self) -> list[dict[str, Any]]:
        return self._all("/api/teams")

    def list_integrations(self) -> list[dict[str, Any]]:
        return self._all("/api/integrations")

    def list_widgets(self) -> list[dict[str, Any]]:
        return self._all("/api/widgets")

    # --- writers -----------------------------------------------------------------------------
    def reply(self, ticket_id: int, body_text: str, *, body_html: str | None = None, ticket: Ticket | None = None,
              channel: str | None = None, external_id: str | None = None) -> Message:
        """A public message from us (the API user) to the ticket's customer.

        Outgoing messages are sent by a user to a customer (docs:
        create-a-new-message-in-ticket-via-api); pass `ticket` to save the lookup call."""
        ticket = ticket or self.get_ticket(ticket_id)
        if ticket.customer_id is None:
            raise InvalidInput(f"gorgias ticket {ticket_id} has no customer to reply to", field="ticket_id")
        channel = channel or (ticket.channel if ticket.channel in ("email", "chat", "sms") else "email")
        message: dict[str, Any] = {
            "channel": channel, "via": "api", "from_agent": True,
            "sender": {"email": self.email}, "receiver": {"id": ticket.customer_id},
            "body_text": body_text, "body_html": body_html or _paragraphs(body_text),
        }
        if external_id is not None:  # ours, to find this message again (idempotent retries)
            message["external_id"] = external_id
        if ticket.subject:
            message["subject"] = ticket.subject if ticket.subject.lower().startswith("re:") else f"Re: {ticket.subject}"
        if channel == "email":
            source: dict[str, Any] = {"type": "email", "to": [{"address": ticket.customer_email}]}
            support = _support_address(ticket)
            if support:
                source["from"] = {"address": support}
            message["source"] = source
        return Message.from_api(self._json("POST", f"/api/tickets/{ticket_id}/messages", json=message))

    def add_internal_note(self, ticket_id: int, body_text: str, *, body_html: str | None = None) -> Message:
        """A note for agents only (channel internal-note: never sent to the customer)."""
        note = {"channel": "internal-note", "via": "api", "from_agent": True, "sender": {"email": self.email},
                "body_text": body_text, "body_html": body_html or _paragraphs(body_text)}
        return Message.from_api(self._json("POST", f"/api/tickets/{ticket_id}/messages", json=note))

    def set_tags(self, ticket_id: int, names: Sequence[str]) -> list[str]:
        """Replace the ticket's tags (tags that do not exist yet are created)."""
        body = self._json("PUT", f"/api/tickets/{ticket_id}/tags", json={"names": list(names)})
        if not isinstance(body, dict) or "data" not in body:  # an empty answer: trust what we sent
            return list(names)
        return [str(tag["name"]) for tag in body["data"]]

    def add_tags(self, ticket_id: int, names: Sequence[str]) -> None:
        self.request("POST", f"/api/tickets/{ticket_id}/tags", json={"names": list(names)})

    def set_priority(self, ticket_id: int, priority: str) -> Ticket:
        if priority not in PRIORITIES:
            raise InvalidInput(f"priority must be one of {PRIORITIES}", field="priority")
        return self._update_ticket(ticket_id, {"priority": priority})

    def set_status(self, ticket_id: int, status: str) -> Ticket:
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {STATUSES}", field="status")
        return self._update_ticket(ticket_id, {"status": status})

    def close_ticket(self, ticket_id: int) -> Ticket:
        # Not `close`: VendorClient.close() closes the HTTP client.
        return self.set_status(ticket_id, "closed")

    def assign(self, ticket_id: int, *, user_id: int | None = None, team_id: int | None = None) -> Ticket:
        if user_id is None and team_id is None:
            raise InvalidInput("assign needs a user_id or a team_id", field="user_id")
        update: dict[str, Any] = {}
        if user_id is not None:
            update["assignee_user"] = {"id": user_id}
        if team_id is not None:
            update["assignee_team"] = {"id": team_id}
        return self._update_ticket(ticket_id, update)

    def update_ticket(self, ticket_id: int, update: Mapping[str, Any]) -> Ticket:
        """Several ticket fields in one call (priority, assignee_user, assignee_team, ...): one
        request instead of one per field counts for less of the 40-per-20-s budget."""
        unknown = set(update) - UPDATABLE_FIELDS
        if unknown:
            raise InvalidInput(f"cannot update ticket fields {sorted(unknown)}", field=sorted(unknown)[0])
        if "priority" in update and update["priority"] not in PRIORITIES:
            raise InvalidInput(f"priority must be one of {PRIORITIES}", field="priority")
        return self._update_ticket(ticket_id, update)

    def _update_ticket(self, ticket_id: int, update: Mapping[str, Any]) -> Ticket:
        return Ticket.from_api(self._json("PUT", f"/api/tickets/{ticket_id}", json=dict(update)))

    def update_customer_data(self, customer_id: int, data: Mapping[str, Any]) -> Customer:
        """Replace the customer's `data`, the custom data the helpdesk sidebar shows."""
        return Customer.from_api(self._json("PUT", f"/api/customers/{customer_id}", json={"data": dict(data)}))

    def create_widget(self, template: Mapping[str, Any], *, context: str = "ticket", widget_type: str = "custom",
                      integration_id: int | None = None, order: int = 0) -> dict[str, Any]:
        """A sidebar widget (docs: create-integrations-and-widgets-programmatically). With
        no integration_id it shows the customer's `data`; with one, that integration's."""
        body: dict[str, Any] = {"context": context, "type": widget_type, "template": dict(template), "order": order}
        if integration_id is not None:
            body["integration_id"] = integration_id
        return dict(self._json("POST", "/api/widgets", json=body))


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip()) or "<p></p>"


def _support_address(ticket: Ticket) -> str | None:
    """The address the customer wrote to, so the reply comes from it."""
    for message in reversed(ticket.raw.get("messages") or []):
        if not message.get("from_agent"):
            to = (message.get("source") or {}).get("to") or []
            if to and to[0].get("address"):
                return str(to[0]["address"])
    for integration in ticket.raw.get("integrations") or []:
        if integration.get("type") == "email" and integration.get("address"):
            return str(integration["address"])
    return None
