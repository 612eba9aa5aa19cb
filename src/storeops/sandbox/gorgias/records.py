"""The Gorgias sandbox's records, and how each one looks on the wire.

Records are kept as small dataclasses that refer to each other by id; `*_record`
functions render them in the shape Gorgias returns. The ticket, message and event shapes
follow the record schemas in shared/vendor-specs/gorgias/record-schemas/ (tap-gorgias,
`additionalProperties: false`), so these renderers emit exactly those keys: where the
schema types a field differently from today's docs (`meta` and message `headers` are
strings there, objects in the docs) we send null, which both accept. Field lists of the
other objects come from shared/vendor-specs/gorgias/api-notes.yaml (objects.*).

Datetimes are sent as ISO 8601 with an explicit +00:00 offset. Gorgias's own examples
("2021-01-07T13:00:00.123456") carry no offset and mean UTC; the connector reads both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class User:
    id: int
    email: str
    firstname: str
    lastname: str
    role: str = "agent"

    @property
    def name(self) -> str:
        return f"{self.firstname} {self.lastname}".strip()


@dataclass
class Team:
    id: int
    name: str
    emoji: str
    member_ids: list[int] = field(default_factory=list)


@dataclass
class Customer:
    id: int
    email: str
    name: str
    created: datetime
    updated: datetime
    external_id: str | None = None
    language: str | None = None
    timezone: str | None = None
    channels: list[dict[str, Any]] = field(default_factory=list)
    # `data`: custom data shown in the helpdesk sidebar (api-notes.yaml objects.Customer).
    data: dict[str, Any] | None = None
    # What HTTP integrations answered for this customer, by integration id: the sidebar's
    # widgets render it (docs: create-integrations-and-widgets-programmatically).
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def firstname(self) -> str:
        return self.name.split(" ", 1)[0] if self.name else ""

    @property
    def lastname(self) -> str:
        parts = self.name.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


@dataclass
class Tag:
    id: int
    name: str
    created: datetime
    description: str | None = None
    color: str | None = None


@dataclass
class Message:
    id: int
    ticket_id: int
    channel: str
    via: str
    from_agent: bool
    public: bool
    sender: tuple[str, int]  # ("user" | "customer", id)
    receiver: tuple[str, int] | None
    created: datetime
    body_text: str | None = None
    body_html: str | None = None
    subject: str | None = None
    source: dict[str, Any] | None = None
    external_id: str | None = None
    integration_id: int | None = None
    message_id: str | None = None
    sent: datetime | None = None
    opened: datetime | None = None


@dataclass
class Ticket:
    id: int
    customer_id: int
    channel: str
    via: str
    from_agent: bool
    created: datetime
    updated: datetime
    status: str = "open"
    priority: str = "normal"
    subject: str | None = None
    external_id: str | None = None
    language: str | None = None
    assignee_user_id: int | None = None
    assignee_team_id: int | None = None
    tag_ids: list[int] = field(default_factory=list)
    is_unread: bool = True
    opened: datetime | None = None
    last_received_message: datetime | None = None
    last_message: datetime | None = None
    closed: datetime | None = None
    snooze: datetime | None = None


@dataclass
class Integration:
    id: int
    name: str
    type: str
    http: dict[str, Any] | None
    user_id: int
    created: datetime
    updated: datetime
    description: str | None = None
    deactivated: datetime | None = None
    # "if 100 requests fail in a row then we disable the integration"
    # (docs.gorgias.com/faq/broken-or-disconnected-http-integration)
    failures_in_a_row: int = 0


@dataclass
class Widget:
    id: int
    context: str
    type: str
    template: dict[str, Any]
    created: datetime
    updated: datetime
    integration_id: int | None = None
    app_id: str | None = None
    order: int = 0
    deactivated: datetime | None = None


@dataclass
class Event:
    id: int
    type: str
    object_type: str
    object_id: int
    created: datetime
    context: str
    user_id: int | None = None


# --- wire shapes ----------------------------------------------------------------------


def person_ref(email: str, name: str, firstname: str, lastname: str, id_: int, *, meta_object: bool) -> dict[str, Any]:
    # Ticket.customer / assignee_user carry meta as an object; message sender / receiver
    # as a string (record-schemas/tickets.json vs messages.json), so null for the latter.
    meta: dict[str, Any] | None = {"name_set_via": None, "profile_picture_url": None} if meta_object else None
    return {"id": id_, "email": email, "name": name, "firstname": firstname, "lastname": lastname, "meta": meta}


def user_ref(user: User, *, meta_object: bool = True) -> dict[str, Any]:
    return person_ref(user.email, user.name, user.firstname, user.lastname, user.id, meta_object=meta_object)


def customer_ref(customer: Customer, *, meta_object: bool = True) -> dict[str, Any]:
    return person_ref(customer.email, customer.name, customer.firstname, customer.lastname, customer.id,
                      meta_object=meta_object)


def team_ref(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "decoration": {"emoji": {
        "id": team.emoji, "name": team.emoji, "skin": None, "colons": f":{team.emoji}:", "native": None,
        "unified": None, "emoticons": []}}}


def tag_record(tag: Tag) -> dict[str, Any]:
    return {"id": tag.id, "name": tag.name, "uri": f"/api/tags/{tag.id}/", "description": tag.description,
            "decoration": {"color": tag.color}, "created_datetime": iso(tag.created)}


def ticket_tag(tag: Tag) -> dict[str, Any]:
    return {"id": tag.id, "name": tag.name, "uri": f"/api/tags/{tag.id}/", "decoration": {"color": tag.color}}


def user_record(user: User) -> dict[str, Any]:
    return {**user_ref(user), "role": {"name": user.role}, "active": True, "uri": f"/api/users/{user.id}/"}


def team_record(team: Team, users: dict[int, User]) -> dict[str, Any]:
    members = [user_ref(users[uid]) for uid in team.member_ids if uid in users]
    return {**team_ref(team), "members": members, "uri": f"/api/teams/{team.id}/"}


def customer_record(customer: Customer) -> dict[str, Any]:
    return {
        **customer_ref(customer),
        "uri": f"/api/customers/{customer.id}/",
        "external_id": customer.external_id,
        "language": customer.language,
        "timezone": customer.timezone,
        "channels": customer.channels,
        "data": customer.data,
        "integrations": customer.integrations,
        "active": True,
        "created_datetime": iso(customer.created),
        "updated_datetime": iso(customer.updated),
    }


def integration_record(integration: Integration) -> dict[str, Any]:
    return {
        "id": integration.id,
        "name": integration.name,
        "type": integration.type,
        "description": integration.description,
        "http": integration.http,
        "user": {"id": integration.user_id},
        "uri": f"/api/integrations/{integration.id}/",
        "created_datetime": iso(integration.created),
        "updated_datetime": iso(integration.updated),
        "deactivated_datetime": iso(integration.deactivated),
    }


def widget_record(widget: Widget) -> dict[str, Any]:
    return {
        "id": widget.id,
        "context": widget.context,
        "type": widget.type,
        "integration_id": widget.integration_id,
        "app_id": widget.app_id,
        "order": widget.order,
        "template": widget.template,
        "uri": f"/api/widgets/{widget.id}/",
        "created_datetime": iso(widget.created),
        "updated_datetime": iso(widget.updated),
        "deactivated_datetime": iso(widget.deactivated),
    }


def event_record(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "uri": f"/api/events/{event.id}/",
        "context": event.context,
        "object_id": event.object_id,
        "object_type": event.object_type,
        "created_datetime": iso(event.created),
        "user_id": event.user_id,
        "type": event.type,
        "data": None,  # only phone-call events carry data (record-schemas/events.json)
    }
