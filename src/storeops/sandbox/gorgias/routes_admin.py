"""Account, customers, tags, users, teams, integrations, widgets and events endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from storeops.sandbox.gorgias.errors import ApiError, invalid, not_found, reject_unknown, require_object
from storeops.sandbox.gorgias.helpdesk import parse_dt
from storeops.sandbox.gorgias.http_integrations import METHODS, REQUEST_CONTENT_TYPES, TRIGGERS, trigger_key
from storeops.sandbox.gorgias.paging import paginate
from storeops.sandbox.gorgias.records import (
    Integration,
    User,
    Widget,
    customer_record,
    event_record,
    integration_record,
    iso,
    tag_record,
    team_record,
    user_record,
    widget_record,
)
from storeops.sandbox.gorgias.routes_common import ApiRoute, Reply, int_param, read_json

if TYPE_CHECKING:
    from storeops.sandbox.gorgias.app import GorgiasSandbox

_CUSTOMER_FIELDS = frozenset({"name", "email", "channels", "data", "external_id", "language", "timezone"})
_INTEGRATION_FIELDS = frozenset({"name", "type", "description", "http", "deactivated_datetime"})
_HTTP_FIELDS = frozenset({"id", "url", "method", "headers", "form", "request_content_type", "response_content_type",
                          "triggers"})
_WIDGET_FIELDS = frozenset({"context", "type", "template", "integration_id", "app_id", "order",
                            "deactivated_datetime"})
_WIDGET_CONTEXTS = frozenset({"ticket", "customer", "user"})  # "user" is deprecated (api-notes objects.Widget)
_BY_CREATED: dict[str, Any] = {"created_datetime": lambda r: r.created}
_BY_ID: dict[str, Any] = {"id": lambda r: r.id}


def admin_routes(sandbox: GorgiasSandbox) -> list[ApiRoute]:
    def record_of(table: dict[int, Any], request: Request, kind: str) -> Any:
        record_id = int_param(request, "id")
        if record_id is None or record_id not in table:
            raise not_found(kind, request.path_params.get("id"))
        return table[record_id]

    async def account(_: Request, __: User) -> Reply:
        desk = sandbox.desk
        return {"domain": desk.domain, "created_datetime": iso(sandbox.seed_time), "status": {"status": "active"},
                "settings": [], "meta": {"support_email": desk.support_email}}

    # --- customers -------------------------------------------------------------------
    async def list_customers(request: Request, _: User) -> Reply:
        customers = list(sandbox.desk.customers.values())
        query = request.query_params
        if "email" in query:
            customers = [c for c in customers if c.email.lower() == query["email"].strip().lower()]
        if "external_id" in query:
            customers = [c for c in customers if c.external_id == query["external_id"]]
        return paginate(customers, query, uri="/api/customers", render=customer_record,
                        sort_keys={**_BY_CREATED, "updated_datetime": lambda c: c.updated, "name": lambda c: c.name})

    async def create_customer(request: Request, _: User) -> Reply:
        body = require_object(await read_json(request))
        reject_unknown(body, _CUSTOMER_FIELDS)
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise invalid("email", "A valid email is required.")
        customer = sandbox.desk.create_customer(email, str(body.get("name") or ""))
        _update_customer_fields(customer, body)
        return 201, customer_record(customer)

    async def get_customer(request: Request, _: User) -> Reply:
        return customer_record(record_of(sandbox.desk.customers, request, "Customer"))

    async def update_customer(request: Request, _: User) -> Reply:
        customer = record_of(sandbox.desk.customers, request, "Customer")
        body = require_object(await read_json(request))
        reject_unknown(body, _CUSTOMER_FIELDS)
        if "email" in body:
            other = sandbox.desk.customer_by_email(str(body["email"]))
            if other is not None and other.id != customer.id:
                raise ApiError(409, "A customer with this email already exists", {"email": ["Already used."]})
            customer.email = str(body["email"])
        if "name" in body:
            customer.name = str(body["name"] or "")
        _update_customer_fields(customer, body)
        customer.updated = sandbox.desk.now()
        return customer_record(customer)

    def _update_customer_fields(customer: Any, body: dict[str, Any]) -> None:
        if "data" in body:
            if body["data"] is not None and not isinstance(body["data"], dict):
                raise invalid("data", "Expected an object.")
            customer.data = body["data"]
        if "channels" in body:
            if not isinstance(body["channels"], list):
                raise invalid("channels", "Expected a list.")
            customer.channels = body["channels"]
        for name in ("external_id", "language", "timezone"):
            if name in body:
                setattr(customer, name, body[name])

    # --- tags, users, teams --------------------------------------------------------------
    async def list_tags(request: Request, _: User) -> Reply:
        return paginate(list(sandbox.desk.tags.values()), request.query_params, uri="/api/tags", render=tag_record,
                        sort_keys={**_BY_CREATED, "name": lambda t: t.name})

    async def create_tag(request: Request, _: User) -> Reply:
        body = require_object(await read_json(request))
        reject_unknown(body, frozenset({"name", "description", "decoration"}))
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise invalid("name", "Missing data for required field.")
        if any(t.name.lower() == body["name"].strip().lower() for t in sandbox.desk.tags.values()):
            raise ApiError(409, "A tag with this name already exists", {"name": ["Already used."]})
        tag = sandbox.desk.tag_by_name(body["name"])
        tag.description = body.get("description")
        tag.color = (body.get("decoration") or {}).get("color")
        return 201, tag_record(tag)

    async def list_users(request: Request, _: User) -> Reply:
        return paginate(list(sandbox.desk.users.values()), request.query_params, uri="/api/users", render=user_record,
                        sort_keys=_BY_ID, default_order="id:asc")

    async def get_user(request: Request, actor: User) -> Reply:
        if request.path_params.get("id") == "0":  # /api/users/0 is the authenticated user
            return user_record(actor)
        return user_record(record_of(sandbox.desk.users, request, "User"))

    async def list_teams(request: Request, _: User) -> Reply:
        return paginate(list(sandbox.desk.teams.values()), request.query_params, uri="/api/teams",
                        render=lambda t: team_record(t, sandbox.desk.users), sort_keys=_BY_ID, default_order="id:asc")

    async def get_team(request: Request, _: User) -> Reply:
        return team_record(record_of(sandbox.desk.teams, request, "Team"), sandbox.desk.users)

    # --- integrations and widgets --------------------------------------------------------
    async def list_integrations(request: Request, _: User) -> Reply:
        items = list(sandbox.desk.integrations.values())
        if "type" in request.query_params:
            items = [i for i in items if i.type == request.query_params["type"]]
        return paginate(items, request.query_params, uri="/api/integrations", render=integration_record,
                        sort_keys={**_BY_CREATED, **_BY_ID})

    async def create_integration(request: Request, actor: User) -> Reply:
        body = require_object(await read_json(request))
        reject_unknown(body, _INTEGRATION_FIELDS)
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise invalid("name", "Missing data for required field.")
        if body.get("type") != "http":
            raise invalid("type", "Only HTTP integrations can be created through the API.")
        now = sandbox.desk.now()
        http = _http_config(body.get("http"), sandbox.desk.next_id("http", 900))
        integration = Integration(id=sandbox.desk.next_id("integration"), name=body["name"], type="http",
                                  http=http, user_id=actor.id,
                                  created=now, updated=now, description=body.get("description"),
                                  deactivated=parse_dt(body.get("deactivated_datetime"), "deactivated_datetime"))
        sandbox.desk.integrations[integration.id] = integration
        return 201, integration_record(integration)

    async def get_integration(request: Request, _: User) -> Reply:
        return integration_record(record_of(sandbox.desk.integrations, request, "Integration"))

    async def update_integration(request: Request, _: User) -> Reply:
        integration = record_of(sandbox.desk.integrations, request, "Integration")
        body = require_object(await read_json(request))
        reject_unknown(body, _INTEGRATION_FIELDS - {"type"})
        if "http" in body:
            integration.http = _http_config(body["http"], integration.http["id"] if integration.http else 0)
        for name in ("name", "description"):
            if name in body:
                setattr(integration, name, body[name])
        if "deactivated_datetime" in body:
            integration.deactivated = parse_dt(body["deactivated_datetime"], "deactivated_datetime")
            integration.failures_in_a_row = 0
        integration.updated = sandbox.desk.now()
        return integration_record(integration)

    async def delete_integration(request: Request, _: User) -> Reply:
        integration = record_of(sandbox.desk.integrations, request, "Integration")
        del sandbox.desk.integrations[integration.id]
        return 204, None

    async def list_widgets(request: Request, _: User) -> Reply:
        return paginate(list(sandbox.desk.widgets.values()), request.query_params, uri="/api/widgets",
                        render=widget_record, sort_keys={**_BY_CREATED, **_BY_ID, "order": lambda w: w.order})

    async def create_widget(request: Request, _: User) -> Reply:
        body = require_object(await read_json(request))
        reject_unknown(body, _WIDGET_FIELDS)
        now = sandbox.desk.now()
        widget = Widget(id=sandbox.desk.next_id("widget"), context="", type="", template={}, created=now, updated=now)
        _update_widget(widget, body, creating=True)
        sandbox.desk.widgets[widget.id] = widget
        return 201, widget_record(widget)

    async def get_widget(request: Request, _: User) -> Reply:
        return widget_record(record_of(sandbox.desk.widgets, request, "Widget"))

    async def update_widget(request: Request, _: User) -> Reply:
        widget = record_of(sandbox.desk.widgets, request, "Widget")
        body = require_object(await read_json(request))
        reject_unknown(body, _WIDGET_FIELDS)
        _update_widget(widget, body, creating=False)
        widget.updated = sandbox.desk.now()
        return widget_record(widget)

    async def delete_widget(request: Request, _: User) -> Reply:
        widget = record_of(sandbox.desk.widgets, request, "Widget")
        del sandbox.desk.widgets[widget.id]
        return 204, None

    def _update_widget(widget: Widget, body: dict[str, Any], *, creating: bool) -> None:
        for name in ("context", "type", "template"):
            if creating and name not in body:
                raise invalid(name, "Missing data for required field.")
        if "context" in body:
            if body["context"] not in _WIDGET_CONTEXTS:
                raise invalid("context", f"Must be one of {sorted(_WIDGET_CONTEXTS)}.")
            widget.context = body["context"]
        if "type" in body:
            widget.type = str(body["type"])
        if "template" in body:
            widget.template = require_object(body["template"], "template")
        if body.get("integration_id") is not None and body["integration_id"] not in sandbox.desk.integrations:
            raise invalid("integration_id", "No such integration.")
        if "integration_id" in body:
            widget.integration_id = body["integration_id"]
        if "app_id" in body:
            widget.app_id = body["app_id"]
        if "order" in body:
            widget.order = int(body["order"])
        if "deactivated_datetime" in body:
            widget.deactivated = parse_dt(body["deactivated_datetime"], "deactivated_datetime")

    # --- events ----------------------------------------------------------------------------
    async def list_events(request: Request, _: User) -> Reply:
        query = request.query_params
        events = list(sandbox.desk.events)
        if "object_type" in query:
            events = [e for e in events if e.object_type == query["object_type"]]
        if "object_id" in query:
            events = [e for e in events if str(e.object_id) == query["object_id"]]
        if "types" in query:
            wanted = set(query["types"].split(","))
            events = [e for e in events if e.type in wanted]
        since = parse_dt(query.get("created_datetime[gte]"), "created_datetime[gte]")
        until = parse_dt(query.get("created_datetime[lte]"), "created_datetime[lte]")
        if since is not None:
            events = [e for e in events if e.created >= since]
        if until is not None:
            events = [e for e in events if e.created <= until]
        return paginate(events, query, uri="/api/events", render=event_record, sort_keys={**_BY_CREATED, **_BY_ID})

    return [
        ApiRoute("/api/account", "GET", account),
        ApiRoute("/api/customers", "GET", list_customers),
        ApiRoute("/api/customers", "POST", create_customer),
        ApiRoute("/api/customers/{id}", "GET", get_customer),
        ApiRoute("/api/customers/{id}", "PUT", update_customer),
        ApiRoute("/api/tags", "GET", list_tags),
        ApiRoute("/api/tags", "POST", create_tag),
        ApiRoute("/api/users", "GET", list_users),
        ApiRoute("/api/users/{id}", "GET", get_user),
        ApiRoute("/api/teams", "GET", list_teams),
        ApiRoute("/api/teams/{id}", "GET", get_team),
        ApiRoute("/api/integrations", "GET", list_integrations),
        ApiRoute("/api/integrations", "POST", create_integration),
        ApiRoute("/api/integrations/{id}", "GET", get_integration),
        ApiRoute("/api/integrations/{id}", "PUT", update_integration),
        ApiRoute("/api/integrations/{id}", "DELETE", delete_integration),
        ApiRoute("/api/widgets", "GET", list_widgets),
        ApiRoute("/api/widgets", "POST", create_widget),
        ApiRoute("/api/widgets/{id}", "GET", get_widget),
        ApiRoute("/api/widgets/{id}", "PUT", update_widget),
        ApiRoute("/api/widgets/{id}", "DELETE", delete_widget),
        ApiRoute("/api/events", "GET", list_events),
    ]


def _http_config(raw: Any, http_id: int) -> dict[str, Any]:
    http = require_object(raw, "http")
    reject_unknown(http, _HTTP_FIELDS)
    url = http.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid("http.url", "Missing or invalid URL.")
    method = str(http.get("method") or "GET").upper()
    if method not in METHODS:
        raise invalid("http.method", f"Must be one of {list(METHODS)}.")
    request_type = http.get("request_content_type") or "application/json"
    if request_type not in REQUEST_CONTENT_TYPES:
        raise invalid("http.request_content_type", f"Must be one of {list(REQUEST_CONTENT_TYPES)}.")
    if (http.get("response_content_type") or "application/json") != "application/json":
        raise invalid("http.response_content_type", "Must be application/json.")
    headers = http.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise invalid("http.headers", "Expected an object of header name -> string value.")
    form = http.get("form")
    if form is not None and not isinstance(form, dict):
        raise invalid("http.form", "Expected an object.")
    raw_triggers = http.get("triggers", {"ticket_created": True})
    if not isinstance(raw_triggers, dict):
        raise invalid("http.triggers", "Expected an object of trigger -> boolean.")
    known = {trigger_key(t) for t in TRIGGERS}
    triggers = {key: False for key in sorted(known)}
    for name, enabled in raw_triggers.items():
        if trigger_key(name) not in known or not isinstance(enabled, bool):
            raise invalid("http.triggers", f"Unknown trigger {name!r} (known: {sorted(known)}).")
        triggers[trigger_key(name)] = enabled
    return {"id": http_id, "url": url, "method": method, "headers": dict(headers), "form": form,
            "request_content_type": request_type, "response_content_type": "application/json",
            "triggers": triggers}
