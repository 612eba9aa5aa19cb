"""The helpdesk itself: customers, tickets and their messages, tags, and the triggers
that fire when they change.

Rules enforced here come from Gorgias's docs as summarised in
shared/vendor-specs/gorgias/api-notes.yaml:
- a ticket needs 1 to 500 messages; every message needs `channel` and `from_agent`
  (developers.gorgias.com/reference/create-ticket);
- incoming messages (from_agent false) have a customer as sender and no receiver;
  outgoing ones are sent by a user to the customer; internal notes (channel
  "internal-note") are never public (docs/create-a-new-message-in-ticket-via-api);
- unknown parameters are a 400 (reference/errors).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from storeops.sandbox.gorgias.errors import ApiError, invalid, not_found, reject_unknown, require_object
from storeops.sandbox.gorgias.records import (
    Customer,
    Event,
    Integration,
    Message,
    Tag,
    Team,
    Ticket,
    User,
    Widget,
    customer_ref,
    iso,
    team_ref,
    ticket_tag,
    user_ref,
)

# "channel examples usable through the API" plus the via values of the create-ticket
# reference (api-notes.yaml objects.Ticket.create_rules; withone.ai copy of the enum).
CHANNELS = frozenset({
    "aircall", "api", "chat", "contact_form", "email", "facebook", "facebook-mention", "facebook-messenger",
    "facebook-recommendations", "form", "help-center", "instagram", "instagram-ad-comment", "instagram-comment",
    "instagram-direct-message", "instagram-mention", "internal-note", "phone", "sms", "twitter",
    "twitter-direct-message", "whatsapp", "yotpo-review",
})
INTERNAL_NOTE = "internal-note"
STATUSES = frozenset({"open", "closed"})
PRIORITIES = frozenset({"low", "normal", "high", "critical"})

_TICKET_CREATE_FIELDS = frozenset({
    "assignee_team", "assignee_user", "channel", "closed_datetime", "created_datetime", "custom_fields",
    "customer", "external_id", "from_agent", "language", "last_message_datetime",
    "last_received_message_datetime", "messages", "meta", "opened_datetime", "priority", "snooze_datetime",
    "spam", "status", "subject", "tags", "trashed_datetime", "updated_datetime", "via",
})
_TICKET_UPDATE_FIELDS = frozenset({
    "assignee_team", "assignee_user", "channel", "closed_datetime", "custom_fields", "customer", "external_id",
    "from_agent", "is_unread", "language", "meta", "priority", "snooze_datetime", "spam", "status", "subject",
    "tags", "trashed_datetime", "via",
})
_MESSAGE_FIELDS = frozenset({
    "actions", "attachments", "body_html", "body_text", "channel", "created_datetime", "deleted_datetime",
    "external_id", "failed_datetime", "from_agent", "headers", "integration_id", "last_sending_error", "macros",
    "mention_ids", "message_id", "meta", "public", "receiver", "sender", "sent_datetime", "source", "subject",
    "via",
})

Trigger = Callable[[str, Ticket, Message | None, Event], None]


class Helpdesk:
    def __init__(self, *, domain: str, support_email: str, now: Callable[[], datetime]) -> None:
        self.domain = domain
        self.support_email = support_email
        self.now = now
        self.users: dict[int, User] = {}
        self.teams: dict[int, Team] = {}
        self.customers: dict[int, Customer] = {}
        self.tickets: dict[int, Ticket] = {}
        self.messages: dict[int, list[Message]] = {}
        self.tags: dict[int, Tag] = {}
        self.integrations: dict[int, Integration] = {}
        self.widgets: dict[int, Widget] = {}
        self.events: list[Event] = []
        self._ids: dict[str, int] = {}
        # Called for every ticket event; the sandbox calls HTTP integrations from it.
        self.on_trigger: Trigger = lambda *_: None

    def next_id(self, kind: str, start: int = 1) -> int:
        self._ids[kind] = self._ids.get(kind, start - 1) + 1
        return self._ids[kind]

    # --- lookups --------------------------------------------------------------------
    def ticket(self, ticket_id: int) -> Ticket:
        if ticket_id not in self.tickets:
            raise not_found("Ticket", ticket_id)
        return self.tickets[ticket_id]

    def customer(self, customer_id: int) -> Customer:
        if customer_id not in self.customers:
            raise not_found("Customer", customer_id)
        return self.customers[customer_id]

    def customer_by_email(self, email: str) -> Customer | None:
        wanted = email.strip().lower()
        return next((c for c in self.customers.values() if c.email.lower() == wanted), None)

    def user_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((u for u in self.users.values() if u.email.lower() == wanted), None)

    def tag_by_name(self, name: str, *, create: bool = True) -> Tag:
        for tag in self.tags.values():
            if tag.name.lower() == name.strip().lower():
                return tag
        if not create:
            raise not_found("Tag", name)
        tag = Tag(id=self.next_id("tag"), name=name.strip(), created=self.now())
        self.tags[tag.id] = tag
        return tag

    # --- customers ------------------------------------------------------------------
    def create_customer(self, email: str, name: str = "", **fields: Any) -> Customer:
        if self.customer_by_email(email) is not None:
            # reference/errors: 409 "create a customer with an email address already used"
            raise ApiError(409, "A customer with this email already exists", {"email": ["Already used."]})
        now = self.now()
        customer = Customer(id=self.next_id("customer"), email=email.strip(), name=name.strip(), created=now,
                            updated=now, channels=[{"type": "email", "address": email.strip(), "preferred": True}],
                            **fields)
        self.customers[customer.id] = customer
        return customer

    def _customer_from_ref(self, ref: Any, where: str, *, create: bool = True) -> Customer:
        ref = require_object(ref, where)
        if ref.get("id") is not None:
            if not isinstance(ref["id"], int) or ref["id"] not in self.customers:
                raise invalid(where, f"Customer {ref['id']!r} does not exist.")
            return self.customers[ref["id"]]
        email = ref.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise invalid(where, "Must reference a customer by id or email.")
        found = self.customer_by_email(email)
        if found is not None:
            return found
        if not create:
            raise invalid(where, f"No customer with email {email}.")
        return self.create_customer(email, str(ref.get("name") or ""))

    def _user_from_ref(self, ref: Any, where: str) -> User:
        ref = require_object(ref, where)
        user = self.users.get(ref["id"]) if isinstance(ref.get("id"), int) else None
        if user is None and isinstance(ref.get("email"), str):
            user = self.user_by_email(ref["email"])
        if user is None:
            raise invalid(where, "Must reference an existing user by id or email.")
        return user

    # --- messages -------------------------------------------------------------------
    def _build_message(self, body: Any, *, ticket_id: int, default_customer: Customer | None, actor: User | None,
                       subject: str | None, where: str = "body") -> Message:
        body = require_object(body, where)
        reject_unknown(body, _MESSAGE_FIELDS)
        channel, from_agent = body.get("channel"), body.get("from_agent")
        if channel not in CHANNELS:
            raise invalid(f"{where}.channel", "Missing data for required field." if channel is None
                          else f"Unknown channel {channel!r}.")
        if not isinstance(from_agent, bool):
            raise invalid(f"{where}.from_agent", "Missing data for required field.")
        if not (body.get("body_text") or body.get("body_html")):
            raise invalid(f"{where}.body_text", "A message needs body_text or body_html.")
        note = channel == INTERNAL_NOTE
        if note and not from_agent:
            raise invalid(f"{where}.from_agent", "Internal notes are always outgoing (from_agent true).")
        sender: tuple[str, int]
        receiver: tuple[str, int] | None = None
        if from_agent:
            user = self._user_from_ref(body["sender"], f"{where}.sender") if body.get("sender") else actor
            if user is None:
                raise invalid(f"{where}.sender", "Outgoing messages must reference a user as sender.")
            sender = ("user", user.id)
            if not note:
                customer = (self._customer_from_ref(body["receiver"], f"{where}.receiver") if body.get("receiver")
                            else default_customer)
                if customer is None:
                    raise invalid(f"{where}.receiver", "An outgoing message needs a customer to send to.")
                receiver = ("customer", customer.id)
        else:
            if body.get("receiver"):
                raise invalid(f"{where}.receiver", "Incoming messages must not set a receiver.")
            if not body.get("sender") and default_customer is None:
                raise invalid(f"{where}.sender", "Incoming messages must reference a customer as sender.")
            customer = (self._customer_from_ref(body["sender"], f"{where}.sender") if body.get("sender")
                        else default_customer)
            assert customer is not None
            sender = ("customer", customer.id)
        now = self.now()
        message_id = self.next_id("message")
        sent = parse_dt(body.get("sent_datetime"), f"{where}.sent_datetime")
        if sent is None and not note:
            # Gorgias sends asynchronously and then fills sent_datetime
            # (reference/create-ticket-message); the sandbox "sends" at once.
            sent = now
        return Message(
            id=message_id, ticket_id=ticket_id, channel=channel, via=str(body.get("via") or "api"),
            from_agent=from_agent, public=not note, sender=sender, receiver=receiver, created=now,
            body_text=body.get("body_text"), body_html=body.get("body_html"),
            subject=body.get("subject") or subject, source=body.get("source"), external_id=body.get("external_id"),
            integration_id=body.get("integration_id"), sent=sent,
            message_id=f"<{uuid.UUID(int=message_id)}@{self.domain}.gorgias.mail>",
        )

    def _attach(self, ticket: Ticket, message: Message) -> None:
        message.ticket_id = ticket.id
        self.messages.setdefault(ticket.id, []).append(message)
        ticket.last_message = message.created
        ticket.updated = message.created
        if message.public and not message.from_agent:
            ticket.last_received_message = message.created
            ticket.is_unread = True
            if ticket.status == "closed":  # a customer writing again reopens the ticket
                ticket.status, ticket.closed, ticket.snooze = "open", None, None

    def add_message(self, ticket: Ticket, body: Any, *, actor: User | None) -> Message:
        message = self._build_message(body, ticket_id=ticket.id, default_customer=self.customers[ticket.customer_id],
                                      actor=actor, subject=ticket.subject)
        self._attach(ticket, message)
        self.fire("ticket-message-created", ticket, message, actor)
        return message

    # --- tickets --------------------------------------------------------------------
    def create_ticket(self, body: Any, *, actor: User | None) -> Ticket:
        body = require_object(body)
        reject_unknown(body, _TICKET_CREATE_FIELDS)
        raw_messages = body.get("messages")
        if not isinstance(raw_messages, list) or not 1 <= len(raw_messages) <= 500:
            raise invalid("messages", "Required: a list of 1 to 500 messages.")
        customer = self._customer_from_ref(body["customer"], "customer") if body.get("customer") else None
        subject = body.get("subject") or (raw_messages[0].get("subject") if isinstance(raw_messages[0], dict)
                                          else None)
        messages = []
        for index, raw in enumerate(raw_messages):
            message = self._build_message(raw, ticket_id=0, default_customer=customer, actor=actor, subject=subject,
                                          where=f"messages.{index}")
            if customer is None:  # the first message names the customer
                kind, person_id = message.sender if not message.from_agent else (message.receiver or ("", 0))
                customer = self.customers.get(person_id) if kind == "customer" else None
            messages.append(message)
        if customer is None:
            raise invalid("customer", "A ticket needs a customer (set customer or a message sender/receiver).")
        first = messages[0]
        now = self.now()
        ticket = Ticket(
            id=self.next_id("ticket"), customer_id=customer.id, channel=str(body.get("channel") or first.channel),
            via=str(body.get("via") or first.via), from_agent=bool(body.get("from_agent", first.from_agent)),
            created=now, updated=now, opened=now, subject=subject, external_id=body.get("external_id"),
            language=body.get("language"),
        )
        self._apply_update(ticket, {k: body[k] for k in ("status", "priority", "assignee_user", "assignee_team",
                                                         "tags", "snooze_datetime") if k in body})
        self.tickets[ticket.id] = ticket
        for message in messages:
            self._attach(ticket, message)
        self.fire("ticket-created", ticket, first, actor)
        return ticket

    def update_ticket(self, ticket: Ticket, body: Any, *, actor: User | None) -> Ticket:
        body = require_object(body)
        reject_unknown(body, _TICKET_UPDATE_FIELDS)
        if self._apply_update(ticket, body):
            ticket.updated = self.now()
            self.fire("ticket-updated", ticket, None, actor)
        return ticket

    def _apply_update(self, ticket: Ticket, body: dict[str, Any]) -> bool:
        before = _snapshot(ticket)
        if "status" in body:
            if body["status"] not in STATUSES:
                raise invalid("status", f"Must be one of {sorted(STATUSES)}.")
            if body["status"] != ticket.status:
                ticket.status = body["status"]
                ticket.closed = self.now() if ticket.status == "closed" else None
                if ticket.status == "open":
                    ticket.snooze = None
        if "priority" in body:
            if body["priority"] not in PRIORITIES:
                raise invalid("priority", f"Must be one of {sorted(PRIORITIES)}.")
            ticket.priority = body["priority"]
        if "assignee_user" in body:
            ref = body["assignee_user"]
            ticket.assignee_user_id = None if ref is None else self._user_from_ref(ref, "assignee_user").id
        if "assignee_team" in body:
            ref = require_object(body["assignee_team"], "assignee_team") if body["assignee_team"] is not None else None
            if ref is not None and ref.get("id") not in self.teams:
                raise invalid("assignee_team", "Must reference an existing team by id.")
            ticket.assignee_team_id = None if ref is None else ref["id"]
        if "tags" in body:
            ticket.tag_ids = self._tag_ids(body["tags"], "tags")
        if "snooze_datetime" in body:
            ticket.snooze = parse_dt(body["snooze_datetime"], "snooze_datetime")
            if ticket.snooze is not None:  # a snoozed ticket is closed until it wakes up
                ticket.status, ticket.closed = "closed", self.now()
        for name in ("subject", "external_id", "language", "is_unread"):
            if name in body:
                setattr(ticket, name, body[name])
        return _snapshot(ticket) != before

    def _tag_ids(self, refs: Any, where: str) -> list[int]:
        if not isinstance(refs, list):
            raise invalid(where, "Expected a list of tags.")
        ids: list[int] = []
        for ref in refs:
            if isinstance(ref, dict) and isinstance(ref.get("id"), int) and ref["id"] in self.tags:
                tag_id = ref["id"]
            elif isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"].strip():
                tag_id = self.tag_by_name(ref["name"]).id
            else:
                raise invalid(where, "Each tag needs an existing id or a name.")
            if tag_id not in ids:
                ids.append(tag_id)
        return ids

    def set_ticket_tags(self, ticket: Ticket, body: Any, *, replace: bool, actor: User | None) -> list[Tag]:
        """POST / PUT /api/tickets/{ticket_id}/tags with {"ids": [...]} and/or {"names": [...]}."""
        body = require_object(body)
        reject_unknown(body, frozenset({"ids", "names"}))
        refs = [{"id": i} for i in body.get("ids") or []] + [{"name": n} for n in body.get("names") or []]
        new_ids = self._tag_ids(refs, "ids" if body.get("ids") else "names")
        merged = new_ids if replace else ticket.tag_ids + [i for i in new_ids if i not in ticket.tag_ids]
        if merged != ticket.tag_ids:
            ticket.tag_ids = merged
            ticket.updated = self.now()
            self.fire("ticket-updated", ticket, None, actor)
        return [self.tags[i] for i in ticket.tag_ids]

    def wake_snoozed(self) -> None:
        """Reopen snoozed tickets whose time has come (trigger ticket-self-unsnoozed)."""
        now = self.now()
        for ticket in self.tickets.values():
            if ticket.snooze is not None and ticket.snooze <= now and ticket.status == "closed":
                ticket.status, ticket.closed, ticket.snooze, ticket.updated = "open", None, None, now
                self.fire("ticket-self-unsnoozed", ticket, None, None)

    def fire(self, trigger: str, ticket: Ticket, message: Message | None, actor: User | None) -> Event:
        event = Event(id=self.next_id("event"), type=trigger, object_type="Ticket", object_id=ticket.id,
                      created=self.now(), context=str(uuid.UUID(int=len(self.events) + 1)),
                      user_id=actor.id if actor is not None else None)
        self.events.append(event)
        self.on_trigger(trigger, ticket, message, event)
        return event

    # --- wire shapes ----------------------------------------------------------------
    def ticket_record(self, ticket: Ticket, *, with_messages: bool = False) -> dict[str, Any]:
        messages = self.messages.get(ticket.id, [])
        public = [m for m in messages if m.public]
        record: dict[str, Any] = {
            "id": ticket.id,
            "uri": f"/api/tickets/{ticket.id}/",
            "external_id": ticket.external_id,
            "language": ticket.language,
            "status": ticket.status,
            "priority": ticket.priority,
            "channel": ticket.channel,
            "via": ticket.via,
            "from_agent": ticket.from_agent,
            "customer": customer_ref(self.customers[ticket.customer_id]),
            "assignee_user": user_ref(self.users[ticket.assignee_user_id]) if ticket.assignee_user_id else None,
            "assignee_team": team_ref(self.teams[ticket.assignee_team_id]) if ticket.assignee_team_id else None,
            "subject": ticket.subject,
            "excerpt": (public[-1].body_text or "")[:100] if public else None,
            "integrations": [{"name": "Support", "address": self.support_email, "type": "email"}],
            "meta": None,
            "tags": [ticket_tag(self.tags[i]) for i in ticket.tag_ids],
            "messages_count": len(messages),
            "is_unread": ticket.is_unread,
            "created_datetime": iso(ticket.created),
            "opened_datetime": iso(ticket.opened),
            "last_received_message_datetime": iso(ticket.last_received_message),
            "last_message_datetime": iso(ticket.last_message),
            "updated_datetime": iso(ticket.updated),
            "closed_datetime": iso(ticket.closed),
            "snooze_datetime": iso(ticket.snooze),
        }
        if with_messages:  # "Retrieve a ticket" includes its messages (api-notes objects.Ticket)
            record["messages"] = [self.message_record(m) for m in messages]
        return record

    def _person(self, ref: tuple[str, int] | None) -> dict[str, Any] | None:
        if ref is None:
            return None
        kind, person_id = ref
        if kind == "user":
            return user_ref(self.users[person_id], meta_object=False)
        return customer_ref(self.customers[person_id], meta_object=False)

    def message_record(self, message: Message) -> dict[str, Any]:
        sender, receiver = self._person(message.sender), self._person(message.receiver)
        return {
            "id": message.id,
            "uri": f"/api/tickets/{message.ticket_id}/messages/{message.id}/",
            "message_id": message.message_id,
            "ticket_id": message.ticket_id,
            "external_id": message.external_id,
            "public": message.public,
            "channel": message.channel,
            "via": message.via,
            "source": self._source(message, sender, receiver),
            "sender": sender,
            "receiver": receiver,
            "integration_id": message.integration_id,
            "rule_id": None,
            "from_agent": message.from_agent,
            "subject": message.subject,
            "body_text": message.body_text,
            "body_html": message.body_html,
            "stripped_text": message.body_text,
            "stripped_html": message.body_html,
            "stripped_signature": None,
            "headers": None,
            "actions": [],
            "meta": None,
            "created_datetime": iso(message.created),
            "sent_datetime": iso(message.sent),
            "failed_datetime": None,
            "deleted_datetime": None,
            "opened_datetime": iso(message.opened),
            "last_sending_error": None,
        }

    def _source(self, message: Message, sender: dict[str, Any] | None,
                receiver: dict[str, Any] | None) -> dict[str, Any]:
        given = message.source or {}

        def address(value: Any, fallback: dict[str, Any] | None) -> dict[str, Any]:
            if isinstance(value, dict):
                return {"name": value.get("name"), "address": value.get("address")}
            return {"name": fallback.get("name") if fallback else None,
                    "address": fallback.get("email") if fallback else None}

        support = {"name": "Support", "email": self.support_email}
        default_from = support if message.from_agent else sender
        default_to = receiver if message.from_agent else support
        raw_to = given.get("to")
        to: list[Any] = raw_to if isinstance(raw_to, list) else [None]
        return {
            "type": str(given.get("type") or message.channel),
            "from": address(given.get("from"), default_from),
            "to": [address(item, default_to) for item in to],
            "extra": None,
        }


def _snapshot(ticket: Ticket) -> tuple[Any, ...]:
    return (ticket.status, ticket.priority, ticket.assignee_user_id, ticket.assignee_team_id, tuple(ticket.tag_ids),
            ticket.snooze, ticket.subject, ticket.external_id, ticket.language, ticket.is_unread)


def parse_dt(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(where, "Not a valid ISO 8601 datetime.") from None
    if parsed.tzinfo is None:  # Gorgias datetimes without an offset are UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
