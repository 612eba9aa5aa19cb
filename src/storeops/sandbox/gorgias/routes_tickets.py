"""Ticket, ticket-message and ticket-tag endpoints (api-notes.yaml endpoints; paths
named exactly as there, so the sandbox's per-route stats can be checked against them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from storeops.sandbox.gorgias.errors import not_found
from storeops.sandbox.gorgias.paging import paginate
from storeops.sandbox.gorgias.records import Ticket, User, tag_record
from storeops.sandbox.gorgias.routes_common import ApiRoute, Reply, int_param, read_json

if TYPE_CHECKING:
    from storeops.sandbox.gorgias.app import GorgiasSandbox

TICKET_SORT_KEYS: dict[str, Any] = {
    "created_datetime": lambda t: t.created,
    "updated_datetime": lambda t: t.updated,
    "last_message_datetime": lambda t: t.last_message,
}


def ticket_routes(sandbox: GorgiasSandbox) -> list[ApiRoute]:
    def ticket_of(request: Request, name: str) -> Ticket:
        ticket_id = int_param(request, name)
        if ticket_id is None or ticket_id not in sandbox.desk.tickets:
            raise not_found("Ticket", request.path_params[name])
        return sandbox.desk.tickets[ticket_id]

    async def list_tickets(request: Request, _: User) -> Reply:
        tickets = list(sandbox.desk.tickets.values())
        query = request.query_params
        if "customer_id" in query:
            tickets = [t for t in tickets if str(t.customer_id) == query["customer_id"]]
        if "external_id" in query:
            tickets = [t for t in tickets if t.external_id == query["external_id"]]
        return paginate(tickets, query, uri="/api/tickets", render=sandbox.desk.ticket_record,
                        sort_keys=TICKET_SORT_KEYS)

    async def create_ticket(request: Request, actor: User) -> Reply:
        ticket = sandbox.desk.create_ticket(await read_json(request), actor=actor)
        return 201, sandbox.desk.ticket_record(ticket, with_messages=True)

    async def get_ticket(request: Request, _: User) -> Reply:
        return sandbox.desk.ticket_record(ticket_of(request, "id"), with_messages=True)

    async def update_ticket(request: Request, actor: User) -> Reply:
        ticket = sandbox.desk.update_ticket(ticket_of(request, "id"), await read_json(request), actor=actor)
        return sandbox.desk.ticket_record(ticket)

    async def delete_ticket(request: Request, _: User) -> Reply:
        ticket = ticket_of(request, "id")
        del sandbox.desk.tickets[ticket.id]
        sandbox.desk.messages.pop(ticket.id, None)
        return 204, None

    async def list_messages(request: Request, _: User) -> Reply:
        ticket = ticket_of(request, "ticket_id")
        return paginate(sandbox.desk.messages.get(ticket.id, []), request.query_params,
                        uri=f"/api/tickets/{ticket.id}/messages", render=sandbox.desk.message_record,
                        sort_keys={"created_datetime": lambda m: m.created}, default_order="created_datetime:asc")

    async def create_message(request: Request, actor: User) -> Reply:
        ticket = ticket_of(request, "ticket_id")
        message = sandbox.desk.add_message(ticket, await read_json(request), actor=actor)
        return 201, sandbox.desk.message_record(message)

    async def list_ticket_tags(request: Request, _: User) -> Reply:
        ticket = ticket_of(request, "ticket_id")
        return {"data": [tag_record(sandbox.desk.tags[i]) for i in ticket.tag_ids], "object": "list",
                "uri": f"/api/tickets/{ticket.id}/tags", "meta": {"next_cursor": None, "prev_cursor": None}}

    def tags_writer(replace: bool) -> Any:
        async def write_tags(request: Request, actor: User) -> Reply:
            ticket = ticket_of(request, "ticket_id")
            sandbox.desk.set_ticket_tags(ticket, await read_json(request), replace=replace, actor=actor)
            return 201 if not replace else 200, {"data": [tag_record(sandbox.desk.tags[i]) for i in ticket.tag_ids]}

        return write_tags

    return [
        ApiRoute("/api/tickets", "GET", list_tickets),
        ApiRoute("/api/tickets", "POST", create_ticket),
        ApiRoute("/api/tickets/{id}", "GET", get_ticket),
        ApiRoute("/api/tickets/{id}", "PUT", update_ticket),
        ApiRoute("/api/tickets/{id}", "DELETE", delete_ticket),
        ApiRoute("/api/tickets/{ticket_id}/messages", "GET", list_messages),
        ApiRoute("/api/tickets/{ticket_id}/messages", "POST", create_message),
        ApiRoute("/api/tickets/{ticket_id}/tags", "GET", list_ticket_tags),
        ApiRoute("/api/tickets/{ticket_id}/tags", "POST", tags_writer(replace=False)),
        ApiRoute("/api/tickets/{ticket_id}/tags", "PUT", tags_writer(replace=True)),
    ]
