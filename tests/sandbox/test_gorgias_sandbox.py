"""The Gorgias sandbox against Gorgias's documented behaviour.

Referees: the record schemas in shared/vendor-specs/gorgias/record-schemas/ (every
ticket, message and event the sandbox returns must validate) and the hand-written
summary of Gorgias's docs, shared/vendor-specs/gorgias/api-notes.yaml (auth, rate
limit, pagination, request rules). Raw HTTP on loopback, no connector involved.
"""

# The credentials below are throwaway sandbox values.
# ruff: noqa: S105

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from storeops.sandbox.gorgias import GorgiasSandbox

from conftest import LiveServer
from sandbox_runtime import running

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SPECS = SHARED / "vendor-specs" / "gorgias"
SEED_TIME_ISO = "2026-07-01T09:00:00+00:00"


class FakeClock:
    """Monotonic time the test moves by hand (shared with the sandbox's leaky bucket)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _schema(name: str) -> dict[str, Any]:
    path = SPECS / "record-schemas" / f"{name}.json"
    if not path.exists():
        pytest.skip(f"vendor spec missing: {path}")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def validators() -> dict[str, Draft7Validator]:
    tickets, messages, events = _schema("tickets"), _schema("messages"), _schema("events")
    # "Retrieve a ticket" also returns the ticket's messages (api-notes.yaml objects.Ticket
    # fields); the tap's list-based schema has no such key, so allow exactly that one.
    with_messages = copy.deepcopy(tickets)
    with_messages["properties"]["messages"] = {"type": "array", "items": messages}
    return {name: Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
            for name, schema in (("ticket", tickets), ("ticket+messages", with_messages), ("message", messages),
                                 ("event", events))}


def assert_valid(validator: Draft7Validator, record: Any) -> None:
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[GorgiasSandbox]:
    sb = GorgiasSandbox(seed=3, clock=clock, seed_time=datetime.fromisoformat(SEED_TIME_ISO))
    with running(sb):
        yield sb


@pytest.fixture
def api(sandbox: GorgiasSandbox, clock: FakeClock) -> Iterator[httpx.Client]:
    creds = sandbox.credentials()

    def leak(_: httpx.Request) -> None:
        clock.sleep(0.5)  # one request's worth of drain: the bucket never fills in these tests

    with httpx.Client(base_url=sandbox.base_url, auth=(creds["email"], creds["api_key"]), timeout=10,
                      event_hooks={"request": [leak]}) as client:
        yield client


def read_all(api: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    query: dict[str, Any] = dict(params)
    while True:
        page = api.get(path, params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["object"] == "list" and body["uri"] == path
        records += body["data"]
        if not body["meta"]["next_cursor"]:
            return records
        query["cursor"] = body["meta"]["next_cursor"]


# --- record shapes -------------------------------------------------------------------------


def test_tickets_messages_and_events_validate_against_the_record_schemas(
        api: httpx.Client, validators: dict[str, Draft7Validator]) -> None:
    tickets = read_all(api, "/api/tickets")
    assert len(tickets) == 75
    for ticket in tickets:
        assert_valid(validators["ticket"], ticket)
    one = api.get(f"/api/tickets/{tickets[0]['id']}").json()
    assert_valid(validators["ticket+messages"], one)
    assert one["messages"] and one["messages_count"] == len(one["messages"])
    for message in read_all(api, f"/api/tickets/{tickets[0]['id']}/messages"):
        assert_valid(validators["message"], message)
    events = read_all(api, "/api/events", limit=100)
    assert {e["type"] for e in events} >= {"ticket-created", "ticket-message-created", "ticket-updated"}
    for event in events:
        assert_valid(validators["event"], event)


def test_api_created_ticket_reply_and_note_validate(api: httpx.Client, validators: dict[str, Draft7Validator]) -> None:
    created = api.post("/api/tickets", json={
        "channel": "email", "via": "api", "from_agent": False, "subject": "Zipper broke",
        "messages": [{"channel": "email", "via": "api", "from_agent": False,
                      "sender": {"email": "new.buyer@example.com", "name": "New Buyer"},
                      "body_text": "The zipper of my jacket broke after a week."}],
    })
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert_valid(validators["ticket+messages"], ticket)
    assert ticket["customer"]["email"] == "new.buyer@example.com"
    reply = api.post(f"/api/tickets/{ticket['id']}/messages", json={
        "channel": "email", "via": "api", "from_agent": True, "body_text": "Sorry! A replacement is on its way."})
    note = api.post(f"/api/tickets/{ticket['id']}/messages", json={
        "channel": "internal-note", "via": "api", "from_agent": True, "body_text": "Check batch 42."})
    assert reply.status_code == note.status_code == 201
    for message in (reply.json(), note.json()):
        assert_valid(validators["message"], message)
    assert reply.json()["public"] and reply.json()["receiver"]["email"] == "new.buyer@example.com"
    assert reply.json()["sent_datetime"] is not None
    assert note.json()["public"] is False and note.json()["receiver"] is None


# --- auth, errors, request rules -----------------------------------------------------------


def test_wrong_or_missing_credentials_get_gorgias_401(sandbox: GorgiasSandbox) -> None:
    creds = sandbox.credentials()
    for auth in ((creds["email"], "wrong-key"), ("someone@else.com", creds["api_key"]), None):
        response = httpx.get(f"{sandbox.base_url}/api/tickets", auth=auth, timeout=5)
        assert response.status_code == 401
        assert "msg" in response.json()["error"]


@pytest.mark.parametrize(("body", "field"), [
    ({"messages": []}, "messages"),
    ({"messages": [{"from_agent": False, "sender": {"email": "a@b.co"}, "body_text": "hi"}]}, "messages.0.channel"),
    ({"messages": [{"channel": "email", "sender": {"email": "a@b.co"}, "body_text": "hi"}]}, "messages.0.from_agent"),
    ({"messages": [{"channel": "email", "from_agent": False, "sender": {"email": "a@b.co"},
                    "receiver": {"email": "c@d.co"}, "body_text": "hi"}]}, "messages.0.receiver"),
    ({"messages": [{"channel": "email", "from_agent": False, "sender": {"email": "a@b.co"}, "body_text": "hi"}],
      "colour": "red"}, "colour"),
])
def test_create_ticket_rules(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = api.post("/api/tickets", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]["data"]


def test_cursor_pagination_shape_and_limits(api: httpx.Client) -> None:
    first = api.get("/api/tickets").json()
    assert len(first["data"]) == 30 and first["meta"]["prev_cursor"] is None  # default limit 30
    second = api.get("/api/tickets", params={"cursor": first["meta"]["next_cursor"]}).json()
    back = api.get("/api/tickets", params={"cursor": second["meta"]["prev_cursor"]}).json()
    assert [t["id"] for t in back["data"]] == [t["id"] for t in first["data"]]
    ordered = read_all(api, "/api/tickets", order_by="updated_datetime:asc", limit=7)
    stamps = [t["updated_datetime"] for t in ordered]
    assert len({t["id"] for t in ordered}) == 75 and stamps == sorted(stamps)
    assert api.get("/api/tickets", params={"limit": 101}).status_code == 400
    assert api.get("/api/tickets", params={"page": 2}).status_code == 400  # offset pagination is gone
    assert api.get("/api/tickets", params={"cursor": "garbage!"}).status_code == 400


# --- the rate limit ------------------------------------------------------------------------


def test_41_fast_requests_get_429_with_retry_after_and_call_limit(sandbox: GorgiasSandbox, clock: FakeClock) -> None:
    creds = sandbox.credentials()
    with httpx.Client(base_url=sandbox.base_url, auth=(creds["email"], creds["api_key"]), timeout=5) as raw:
        answers = [raw.get("/api/account") for _ in range(41)]  # the fake clock stands still
        assert [a.status_code for a in answers[:40]] == [200] * 40
        assert [a.headers["X-Gorgias-Account-Api-Call-Limit"] for a in answers[:3]] == ["1/40", "2/40", "3/40"]
        throttled = answers[40]
        assert throttled.status_code == 429
        assert throttled.headers["X-Gorgias-Account-Api-Call-Limit"] == "40/40"
        retry_after = float(throttled.headers["Retry-after"])
        assert retry_after >= 0.5  # one request drains in 0.5 s (40 per 20 s)
        clock.sleep(retry_after)
        again = raw.get("/api/account")
        assert again.status_code == 200
    assert httpx.get(f"{sandbox.base_url}/_sandbox/stats").json()["throttled"] == 1


def test_injected_429_carries_retry_after_and_call_limit(sandbox: GorgiasSandbox, api: httpx.Client) -> None:
    httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"fail_next": 1, "statuses": [429], "retry_after_s": 7})
    throttled = api.get("/api/tickets")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-after"] == "7"
    assert throttled.headers["X-Gorgias-Account-Api-Call-Limit"] == "40/40"
    assert throttled.json()["error"]["msg"]
    assert api.get("/api/tickets").status_code == 200


# --- HTTP integrations, the sidebar, the customer simulation ------------------------------


class Receiver:
    """A loopback endpoint standing in for an HTTP integration's target."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.calls: list[dict[str, Any]] = []

        async def hook(request: Request) -> JSONResponse:
            self.calls.append({"method": request.method, "headers": dict(request.headers),
                               "query": dict(request.query_params), "body": await request.body()})
            return JSONResponse(answer)

        self.server = LiveServer(Starlette(routes=[Route("/hook", hook, methods=["GET", "POST"])]))

    def wait_for(self, count: int, timeout_s: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.calls) >= count, self.calls
        return self.calls


def test_customer_message_fires_integrations_and_fills_the_sidebar(
        sandbox: GorgiasSandbox, api: httpx.Client) -> None:
    receiver = Receiver({"loyalty": {"tier": "gold", "orders": 7}})
    with receiver.server:
        hook = f"{receiver.server.url}/hook"
        post = api.post("/api/integrations", json={"name": "ops", "type": "http", "http": {
            "url": hook, "method": "POST", "request_content_type": "application/json",
            "response_content_type": "application/json",
            "headers": {"x-token": "t0k", "x-ticket": "{{ticket.id}}"},
            "form": {"ticket_id": "{{ticket.id}}", "email": "{{ticket.customer.email}}",
                     "text": "{{message.body_text}}"},
            "triggers": {"ticket_created": True, "ticket_message_created": True}}})
        assert post.status_code == 201, post.text
        lookup = api.post("/api/integrations", json={"name": "crm", "type": "http", "http": {
            "url": hook + "?email={{ticket.customer.email}}", "method": "GET",
            "triggers": {"ticket-created": True}}}).json()
        widget = api.post("/api/widgets", json={"context": "ticket", "type": "http", "integration_id": lookup["id"],
                                                "template": {"type": "wrapper", "widgets": [
                                                    {"path": "loyalty", "type": "card", "title": "Loyalty",
                                                     "widgets": [{"path": "tier", "type": "text", "title": "Tier"}]}]}})
        assert widget.status_code == 201, widget.text

        wrote = httpx.post(f"{sandbox.base_url}/_sandbox/customer-message", json={
            "customer": {"email": "kim+test@example.com", "name": "Kim Lee"}, "subject": "Late parcel",
            "body": "Where is my parcel?", "channel": "email"})
        assert wrote.status_code == 201 and wrote.json()["created"] is True
        ticket_id = wrote.json()["ticket_id"]
        calls = receiver.wait_for(2)
        posted = next(c for c in calls if c["method"] == "POST")
        fetched = next(c for c in calls if c["method"] == "GET")
        assert posted["headers"]["x-token"] == "t0k" and posted["headers"]["x-ticket"] == str(ticket_id)
        assert json.loads(posted["body"]) == {"ticket_id": str(ticket_id), "email": "kim+test@example.com",
                                              "text": "Where is my parcel?"}
        assert fetched["query"]["email"] == "kim+test@example.com"  # url-encoded, then decoded

        # A second message goes to the same open ticket and fires ticket-message-created only.
        again = httpx.post(f"{sandbox.base_url}/_sandbox/customer-message", json={
            "customer": {"email": "kim+test@example.com"}, "body": "Any news?"}).json()
        assert again == {**again, "ticket_id": ticket_id, "created": False}
        assert len(receiver.wait_for(3)) == 3

    state = httpx.get(f"{sandbox.base_url}/_sandbox/state").json()
    ticket = next(t for t in state["tickets"] if t["id"] == ticket_id)
    assert [m["body_text"] for m in ticket["messages"]] == ["Where is my parcel?", "Any news?"]
    sidebar = ticket["sidebar"]
    assert sidebar[0]["has_data"] is True
    card = sidebar[0]["view"]["widgets"][0]
    assert card["title"] == "Loyalty" and card["widgets"][0] == {"type": "text", "title": "Tier", "value": "gold"}
    customer = next(c for c in state["customers"] if c["id"] == ticket["customer"]["id"])
    assert customer["integrations"][str(lookup["id"])]["loyalty"]["orders"] == 7
    assert {c["trigger"] for c in state["integration_calls"]} == {"ticket-created", "ticket-message-created"}


def test_updates_assignment_priority_tags_and_snooze(api: httpx.Client, sandbox: GorgiasSandbox) -> None:
    ticket_id = api.get("/api/tickets", params={"limit": 1}).json()["data"][0]["id"]
    teams = {t["name"]: t["id"] for t in api.get("/api/teams").json()["data"]}
    assert set(teams) == {"Tier 1", "Returns", "VIP"}
    updated = api.put(f"/api/tickets/{ticket_id}", json={
        "assignee_team": {"id": teams["VIP"]}, "assignee_user": {"id": 2}, "priority": "critical",
        "status": "open", "tags": [{"name": "vip"}, {"name": "brand-new-tag"}]})
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["assignee_team"]["name"] == "VIP" and body["assignee_user"]["id"] == 2
    assert body["priority"] == "critical" and [t["name"] for t in body["tags"]] == ["vip", "brand-new-tag"]
    assert api.put(f"/api/tickets/{ticket_id}", json={"priority": "urgent"}).status_code == 400
    assert api.put(f"/api/tickets/{ticket_id}/tags", json={"names": ["returns"]}).json()["data"][0]["name"] == "returns"
    snoozed = api.put(f"/api/tickets/{ticket_id}", json={"snooze_datetime": "2000-01-01T00:00:00Z"}).json()
    assert snoozed["status"] == "closed"
    assert api.get(f"/api/tickets/{ticket_id}").json()["status"] == "open"  # the snooze time has passed
    assert api.get("/api/tickets/999999").status_code == 404


def test_reset_returns_to_the_seed(sandbox: GorgiasSandbox, api: httpx.Client) -> None:
    before = httpx.get(f"{sandbox.base_url}/_sandbox/state").json()
    api.post("/api/customers", json={"email": "extra@example.com", "name": "Extra"})
    assert api.post("/api/customers", json={"email": "extra@example.com"}).status_code == 409
    httpx.post(f"{sandbox.base_url}/_sandbox/reset")
    after = httpx.get(f"{sandbox.base_url}/_sandbox/state").json()
    assert len(after["customers"]) == len(before["customers"]) == 40
    assert [t["subject"] for t in after["tickets"]] == [t["subject"] for t in before["tickets"]]
