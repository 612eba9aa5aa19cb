"""The HTTP integrations storeops asks Gorgias to create: our "webhook subscriptions".

Gorgias has no webhook API; an HTTP integration with triggers is how it calls out
(api-notes.yaml objects.Integration; developers.gorgias.com/reference/the-integration-object).
storeops creates one integration per trigger, so each carries a fixed
x-storeops-topic header, and each sends the headers webhooks.GorgiasWebhookVerifier
checks: the shop's secret, the event id rendered from EVENT_ID_TEMPLATE, the topic.

`form` is the JSON body Gorgias renders per call. `{{ticket.*}}` variables are
documented ({{ticket.id}}, {{ticket.customer.email}}); `{{event.id}}` (also used by
webhooks.EVENT_ID_TEMPLATE) and `{{message.*}}` are our assumption of the template
context and are checked against the sandbox only. Intake re-reads the ticket through
the API anyway, so the body is a hint, not the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storeops.connectors.gorgias.webhooks import EVENT_ID_HEADER, EVENT_ID_TEMPLATE, SECRET_HEADER, TOPIC_HEADER

# The triggers storeops needs (support triage starts on a new ticket or a new message).
TOPICS = ("ticket-created", "ticket-message-created")
NAME_PREFIX = "storeops: "

_TICKET_FORM = {
    "id": "{{ticket.id}}",
    "status": "{{ticket.status}}",
    "channel": "{{ticket.channel}}",
    "subject": "{{ticket.subject}}",
    "updated_datetime": "{{ticket.updated_datetime}}",
    "customer": {"id": "{{ticket.customer.id}}", "email": "{{ticket.customer.email}}"},
}
_MESSAGE_FORM = {
    "id": "{{message.id}}",
    "channel": "{{message.channel}}",
    "from_agent": "{{message.from_agent}}",
    "public": "{{message.public}}",
}


def trigger_key(topic: str) -> str:
    """Gorgias's integration object spells triggers with underscores (ticket_created)."""
    return topic.replace("-", "_")


def desired_integration(topic: str, callback_url: str, secret: str) -> dict[str, Any]:
    form: dict[str, Any] = {"topic": topic, "event_id": "{{event.id}}", "ticket": _TICKET_FORM}
    if topic == "ticket-message-created":
        form["message"] = _MESSAGE_FORM
    return {
        "name": f"{NAME_PREFIX}{topic}",
        "type": "http",
        "description": "storeops intake; managed by storeops (edits are replaced)",
        "http": {
            "url": callback_url,
            "method": "POST",
            "request_content_type": "application/json",
            "response_content_type": "application/json",
            "headers": {SECRET_HEADER: secret, EVENT_ID_HEADER: EVENT_ID_TEMPLATE, TOPIC_HEADER: topic},
            "form": form,
            "triggers": {trigger_key(topic): True},
        },
    }


def _enabled(triggers: Any) -> set[str]:
    if not isinstance(triggers, Mapping):
        return set()
    return {trigger_key(str(name)) for name, on in triggers.items() if on}


def matches(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether an integration Gorgias holds already does what `wanted` asks."""
    if existing.get("deactivated_datetime") or existing.get("type") != "http":
        return False
    have, want = existing.get("http") or {}, wanted["http"]
    same = all(have.get(k) == want[k] for k in ("url", "method", "headers", "form", "request_content_type"))
    return same and _enabled(have.get("triggers")) == _enabled(want["triggers"])
