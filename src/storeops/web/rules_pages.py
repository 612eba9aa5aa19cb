"""Server-rendered page "Order rules": a business user reads and edits the shop's order rules.

Three rule sets, each shown in plain words and editable as JSON: routing rules (which
fulfillment centers ship which orders), the unpaid-order (payment) policy, and the
stock-shortage (substitution) rules. Saving goes through the same domain services as the
JSON API (storeops.web.orders_api), so invalid rules are refused the same way and nothing
is stored then. Sign-in is the dashboard's cookie.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from storeops.core.errors import InvalidInput
from storeops.domain.orders import services as orders
from storeops.domain.orders.routing_rules import routing_rules_view
from storeops.flows import order_lifecycle as lifecycle
from storeops.flows import orders as order_flow
from storeops.web.dashboard import _login_redirect, _render, _signed_in
from storeops.web.deps import DbDep
from storeops.web.orders_api import rules_view
from storeops.web.orders_pages import _pick_shop

router = APIRouter(include_in_schema=False)

KINDS = ("routing", "payment", "substitution")
TITLES = {"routing": "Routing rules", "payment": "Unpaid orders (payment policy)",
          "substitution": "Stock shortages (substitution)"}
SAVED_NAMES = {"routing": "routing rules", "payment": "payment policy", "substitution": "substitution rules"}

ROUTING_EXAMPLE = {"rules": [
    {"name": "canada-from-toronto", "action": "force", "fc_ids": ["156"], "countries": ["CA"], "fallback": True},
    {"name": "no-express-from-reno", "action": "exclude", "fc_ids": ["77"], "service_levels": ["express"]},
    {"name": "west-coast-prefers-la", "action": "prefer", "fc_ids": ["12"], "countries": ["US"],
     "states": ["CA", "OR", "WA"], "credit": "2.00"},
]}


def _number(value: float) -> float | int:
    """3600.0 -> 3600: whole seconds read better in the editor."""
    return int(value) if float(value).is_integer() else value


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{round(seconds, 2):g} s"
    if seconds < 3600:
        return f"{round(seconds / 60, 2):g} min"
    return f"{round(seconds / 3600, 2):g} h"


def _pretty(body: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in body.items() if k != "version"}, indent=2, ensure_ascii=False)


def _routing_panel(session: Session) -> dict[str, Any]:
    rules, version = orders.routing_rules(session)
    rows = []
    for r in rules:
        conditions = [(label, ", ".join(values)) for label, values in (
            ("countries", r.countries), ("states", r.states), ("tags", r.tags),
            ("service levels", r.service_levels), ("shipping method contains", r.shipping_methods)) if values]
        if r.action == "prefer":
            conditions.append(("credit", str(r.credit)))
        if r.action == "force":
            conditions.append(("fallback", "other FCs may step in" if r.fallback else "no (a person decides)"))
        rows.append({"name": r.name, "action": r.action, "fcs": ", ".join(r.fc_ids), "conditions": conditions,
                     "any_order": not any((r.countries, r.states, r.tags, r.service_levels, r.shipping_methods))})
    return {"version": version, "rows": rows, "text": _pretty(routing_rules_view(rules, version))}


def _payment_panel(session: Session) -> dict[str, Any]:
    policy, version = lifecycle.payment_policy(session)
    final = "cancel" if policy.final == lifecycle.CANCEL_FINAL else "hand the order to a person"
    summary = (f"reminders after {', '.join(_duration(s) for s in policy.intervals_s)}, "
               f"then {final} after {_duration(policy.grace_s)}")
    body = policy.as_dict()
    body["intervals_s"] = [_number(s) for s in policy.intervals_s]
    body["grace_s"] = _number(policy.grace_s)
    return {"version": version, "summary": summary, "final": policy.final, "restock": policy.restock,
            "text": _pretty(body)}


def _substitution_panel(session: Session) -> dict[str, Any]:
    rules = orders.substitution_rules(session)
    view = rules_view(rules)
    return {"version": rules.version, "rules": rules, "text": _pretty(view)}


def _order_rules_page(request: Request, db: Any, shop_id: str | None, shop_list: list[Any], *,
                      kind: str | None = None, typed: str | None = None, started_from: int | None = None,
                      error: str | None = None, field: str | None = None, saved: str | None = None,
                      status_code: int = 200) -> Any:
    panels: dict[str, dict[str, Any]] = {}
    if shop_id is not None:
        with db.session(shop_id) as session:
            panels = {"routing": _routing_panel(session), "payment": _payment_panel(session),
                      "substitution": _substitution_panel(session)}
        if kind in panels and typed is not None:
            panels[kind]["text"] = typed  # what the user typed stays in the editor
            # ...still based on the version it was started from, unless that is what failed
            # (someone saved since): then saving again knowingly replaces the newer version.
            panels[kind]["started_from"] = started_from
    return _render(request, "order_rules.html", {
        "panels": panels, "titles": TITLES, "shop_id": shop_id, "shops": shop_list, "kind": kind,
        "error": error, "field": field, "saved": saved if saved in KINDS else None, "saved_names": SAVED_NAMES,
        "example": json.dumps(ROUTING_EXAMPLE, indent=2),
    }, status_code=status_code)


@router.get("/order-rules", response_class=HTMLResponse, response_model=None)
def order_rules_page(request: Request, db: DbDep, shop: str | None = None, saved: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop)
    return _order_rules_page(request, db, shop_id, shop_list, saved=saved)


def _save(session: Session, shop_id: str, kind: str, body: dict[str, Any], started_from: int | None) -> None:
    """One rule set through its domain service; InvalidInput: nothing stored."""
    body = {k: v for k, v in body.items() if k != "version"}
    if kind == "routing":
        orders.save_routing_rules(session, shop_id, body, "dashboard", expected_version=started_from,
                                  known_fcs=order_flow.known_fc_ids(session, shop_id))
    elif kind == "payment":
        policy = lifecycle.PaymentPolicy.parse(body)
        lifecycle.set_payment_policy(session, shop_id, policy, "dashboard", expected_version=started_from)
    else:
        orders.save_substitution_rules(session, shop_id, body, "dashboard", expected_version=started_from)


@router.post("/order-rules", response_class=HTMLResponse, response_model=None)
def order_rules_save(request: Request, db: DbDep, shop: str = Form(""), kind: str = Form(""),
                     body: str = Form(""), version: str = Form("")) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop or None)
    if shop_id is None:
        return _order_rules_page(request, db, None, shop_list, error="Choose a registered shop.", status_code=422)
    if kind not in KINDS:
        return _order_rules_page(request, db, shop_id, shop_list, error=f"No rules named {kind!r}.",
                                 status_code=422)

    started_from = int(version) if version.isdigit() else None

    def again(error: str, field: str | None = None, status_code: int = 422) -> Any:
        conflict = status_code == 409
        return _order_rules_page(request, db, shop_id, shop_list, kind=kind, typed=body, error=error,
                                 field=field, started_from=None if conflict else started_from,
                                 status_code=status_code)

    try:
        parsed = json.loads(body)
    except json.JSONDecodeError as exc:
        return again(f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    if not isinstance(parsed, dict):
        return again("The rules must be one JSON object, in curly braces { ... }.")
    try:
        with db.session(shop_id) as session:
            _save(session, shop_id, kind, parsed, started_from)
    except InvalidInput as exc:
        if exc.field == "version":
            return again(f"{exc} The editor still holds your text: saving it again replaces that version.",
                         exc.field, status_code=409)
        return again(str(exc), exc.field)
    return RedirectResponse(f"/order-rules?shop={shop_id}&saved={kind}", status_code=303)
