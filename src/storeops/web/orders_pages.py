"""Server-rendered pages for the order automation: orders, one order's decisions, modes.

They read and write through the same domain services as the JSON API (storeops.web.orders_api),
so a page can never do something the API cannot. Sign-in is the dashboard's cookie.
"""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storeops.core.clock import as_utc, parse_time, utcnow
from storeops.core.errors import InvalidInput, NotFound
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import MODES, DecisionRecord
from storeops.domain.orders import exceptions
from storeops.domain.orders import services as orders
from storeops.domain.orders.models import HELD, Order
from storeops.domain.shops import services as shops
from storeops.engine import outbox
from storeops.engine.models import PENDING, OutboxMessage
from storeops.engine.outbox import FAILED
from storeops.flows import order_exceptions
from storeops.web.dashboard import _login_redirect, _render, _signed_in
from storeops.web.deps import DbDep

router = APIRouter(include_in_schema=False)

MODE_MEANINGS = {
    "off": "does nothing; orders wait for a person",
    "shadow": "decides and records what it would do, but acts nowhere",
    "live": "decides and acts: ShipBob, Shopify tags, Klaviyo",
}
STATUSES = ("new", "routed", "shadowed", "held", "backordered", "shipped", "delivered", "cancelled")


def _pick_shop(session: Session, shop: str | None) -> tuple[str | None, list[Any]]:
    """The shop a page shows (by id or domain; the first one when not named) and all shops."""
    shop_list = shops.list_shops(session)
    if shop:
        try:
            return shops.find_shop(session, shop).id, shop_list
        except NotFound:
            return None, shop_list
    return (shop_list[0].id if shop_list else None), shop_list


def _held_ever(records: list[DecisionRecord]) -> bool:
    return any(r.outputs.get("held") for r in records)


def _shipbob_created_at(records: list[DecisionRecord]) -> datetime | None:
    """When ShipBob reported the order created, if a finished action's result says so."""
    stamps = []
    for r in records:
        for action in r.actions_taken:
            result = action.get("result")
            if action.get("target") == "shipbob.create_order" and action.get("status") == "done" \
                    and isinstance(result, dict):
                stamp = parse_time(result.get("created_at"))
                if stamp is not None:
                    stamps.append(stamp)
    return min(stamps) if stamps else None


def kpis(order_list: list[Order], records: dict[str, list[DecisionRecord]],
         waiting: int | None = None) -> dict[str, Any]:
    """The KPI strip: touchless rate, orders waiting on a person, median minutes to ShipBob.

    Waiting on a person: the unresolved exceptions (`waiting`); held orders when not given.

    Touchless: decided, reached ShipBob, never held (a hold needs a person). Decided orders are
    the denominator. Minutes run from storeops' first sight of the order to the ShipBob order's
    creation as recorded in the decision's action result; unknown gives None."""
    decided = [o for o in order_list if o.decided_at is not None]
    touchless = [o for o in decided if o.shipbob_order_id and o.status != HELD
                 and not _held_ever(records.get(o.external_id, []))]
    minutes = []
    for o in order_list:
        created = _shipbob_created_at(records.get(o.external_id, []))
        if created is not None:
            minutes.append((as_utc(created) - as_utc(o.created_at)).total_seconds() / 60)
    return {
        "decided": len(decided), "touchless": len(touchless),
        "touchless_rate": (100 * len(touchless) / len(decided)) if decided else None,
        "held": waiting if waiting is not None else sum(1 for o in order_list if o.status == HELD),
        "median_minutes": median(minutes) if minutes else None, "timed": len(minutes),
    }


def _flags(order: Order) -> list[str]:
    checks = order.checks or {}
    found = [str(f.get("rule", "")).split("@")[0] for f in checks.get("flags") or [] if isinstance(f, dict)]
    address = checks.get("address")
    if isinstance(address, dict) and address.get("ok") is False:
        found.append("address")
    return found


@router.get("/orders", response_class=HTMLResponse, response_model=None)
def orders_page(request: Request, db: DbDep, shop: str | None = None, status: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop)
    status = status or None
    order_list: list[Order] = []
    strip = kpis([], {})
    if shop_id is not None:
        with db.session(shop_id) as session:
            every = list(session.scalars(select(Order).order_by(Order.id.desc())))
            records: dict[str, list[DecisionRecord]] = {}
            for r in session.scalars(select(DecisionRecord).where(DecisionRecord.subject.like("order:%"))
                                     .order_by(DecisionRecord.id)):
                records.setdefault(r.subject.removeprefix("order:"), []).append(r)
            strip = kpis(every, records, exceptions.count_unresolved(session))
            order_list = [o for o in every if status is None or o.status == status][:500]
            rows = [{"o": o, "flags": _flags(o)} for o in order_list]
            session.expunge_all()
    else:
        rows = []
    return _render(request, "orders.html", {
        "rows": rows, "kpi": strip, "status": status, "statuses": STATUSES, "shop_id": shop_id,
        "shops": shop_list, "unknown_shop": shop is not None and shop_id is None,
    })


@router.get("/orders/{order_id}", response_class=HTMLResponse, response_model=None)
def order_detail(request: Request, order_id: str, db: DbDep, shop: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, _ = _pick_shop(session, shop)
    order, records, order_exceptions = None, [], []
    if shop_id is not None:
        with db.session(shop_id) as session:
            order = orders.find(session, order_id)
            if order is not None:
                records = decisions.for_subject(session, f"order:{order_id}")
                order_exceptions = exceptions.list_exceptions(session, order=order_id)
            session.expunge_all()
    if order is None:
        return _render(request, "order_detail.html", {"order": None, "order_id": order_id, "records": [],
                                                      "flags": [], "shop_id": shop_id}, status_code=404)
    return _render(request, "order_detail.html", {"order": order, "order_id": order_id, "records": records,
                                                  "flags": _flags(order), "shop_id": shop_id,
                                                  "exceptions": order_exceptions})


def _automations_page(request: Request, db: Any, shop_id: str | None, shop_list: list[Any], *,
                      error: str | None = None, saved: str | None = None, status_code: int = 200) -> Any:
    current: dict[str, str] = {}
    if shop_id is not None:
        with db.session(shop_id) as session:
            current = decisions.modes(session, shop_id)
    return _render(request, "automations.html", {
        "modes": current, "choices": MODES, "meanings": MODE_MEANINGS, "error": error, "saved": saved,
        "shop_id": shop_id, "shops": shop_list,
    }, status_code=status_code)


@router.get("/automations", response_class=HTMLResponse, response_model=None)
def automations_page(request: Request, db: DbDep, shop: str | None = None, saved: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop)
    return _automations_page(request, db, shop_id, shop_list, saved=saved)


@router.post("/automations", response_class=HTMLResponse, response_model=None)
def automations_set(request: Request, db: DbDep, shop: str = Form(""), automation: str = Form(""),
                    mode: str = Form("")) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop or None)
    if shop_id is None:
        return _automations_page(request, db, None, shop_list, error="Choose a registered shop.", status_code=422)
    try:
        with db.session(shop_id) as session:
            decisions.set_mode(session, shop_id, automation, mode)
    except InvalidInput as exc:
        return _automations_page(request, db, shop_id, shop_list, error=str(exc), status_code=422)
    return RedirectResponse(f"/automations?shop={shop_id}&saved={automation}", status_code=303)


# --- the exceptions queue ----------------------------------------------------------------------

EXCEPTION_FILTERS = ("unresolved", "open", "waiting", "resolved")


def _exceptions_page(request: Request, db: Any, shop_id: str | None, shop_list: list[Any], status: str, *,
                     kind: str | None = None, error: str | None = None, error_for: int | None = None,
                     done: str | None = None, retried: int | None = None, status_code: int = 200) -> Any:
    rows: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    unresolved = retrying = 0
    now = utcnow()
    if shop_id is not None:
        with db.session(shop_id) as session:
            try:
                found = exceptions.list_exceptions(session, status=status, kind=kind, limit=500)
            except InvalidInput as exc:
                found, error, status_code = [], str(exc), 422
            unresolved = exceptions.count_unresolved(session)
            order_rows = {o.external_id: o for o in session.scalars(
                select(Order).where(Order.external_id.in_({r.order_external_id for r in found})))}
            for r in found:
                order = order_rows.get(r.order_external_id)
                rows.append({"x": r, "order": order, "age": _age(r.age(now).total_seconds()),
                             "overdue": r.overdue(now), "due_in": _age((r.sla_due_at - now).total_seconds())})
            session.expunge_all()
            failed = [{"id": m.id, "target": m.target, "error": m.error,
                       "age": _age((now - as_utc(m.created_at)).total_seconds()),
                       "decision_id": (m.payload or {}).get("decision_id"),
                       "order": (m.payload or {}).get("order_id") or (m.payload or {}).get("reference_id")}
                      for m in session.scalars(select(OutboxMessage).where(OutboxMessage.status == FAILED)
                                               .order_by(OutboxMessage.id.desc()).limit(100))]
            retrying = int(session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.shop_id == shop_id, OutboxMessage.status == PENDING,
                OutboxMessage.failing_since.is_not(None))) or 0)
    return _render(request, "exceptions.html", {
        "rows": rows, "status": status, "filters": EXCEPTION_FILTERS, "kind": kind, "kinds": exceptions.KINDS,
        "shop_id": shop_id, "shops": shop_list, "error": error, "error_for": error_for, "done": done,
        "unresolved": unresolved, "overrides": order_exceptions.OVERRIDES, "failed": failed if shop_id else [],
        "retried": retried, "retrying": retrying,
    }, status_code=status_code)


def _age(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@router.get("/exceptions", response_class=HTMLResponse, response_model=None)
def exceptions_page(request: Request, db: DbDep, shop: str | None = None, status: str = "unresolved",
                    kind: str | None = None, done: str | None = None, retried: int | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop)
    return _exceptions_page(request, db, shop_id, shop_list, status or "unresolved", kind=kind or None, done=done,
                            retried=retried)


@router.post("/exceptions/actions/{message_id}/retry", response_class=HTMLResponse, response_model=None)
def retry_action(request: Request, message_id: int, db: DbDep, shop: str = Form("")) -> Any:
    """Send a failed action again (its cause fixed): the API's POST /api/v1/outbox/retry."""
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop or None)
    if shop_id is None:
        return _exceptions_page(request, db, None, shop_list, "unresolved", error="Choose a registered shop.",
                                status_code=422)
    if not outbox.retry_failed_ids(db, [message_id], shop_id=shop_id):
        return _exceptions_page(request, db, shop_id, shop_list, "unresolved", status_code=409,
                                error=f"Action {message_id} is not failed (already retried or done).")
    return RedirectResponse(f"/exceptions?shop={shop_id}&retried={message_id}", status_code=303)


@router.post("/exceptions/{exception_id}/{verb}", response_class=HTMLResponse, response_model=None)
async def exceptions_act(request: Request, exception_id: int, verb: str, db: DbDep) -> Any:
    """The page's approve / fix / override forms: the same flow function as the API."""
    if not _signed_in(request):
        return _login_redirect()
    form = await request.form()
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, values.get("shop") or None)
    if shop_id is None:
        return _exceptions_page(request, db, None, shop_list, "unresolved", error="Choose a registered shop.",
                                status_code=422)
    address = {k.removeprefix("address_"): v for k, v in values.items() if k.startswith("address_") and v}
    try:
        if verb not in order_exceptions.VERBS:
            raise InvalidInput(f"no action {verb!r}", field="action")
        order_exceptions.act_on_exception(db, shop_id, exception_id, verb, by=values.get("by") or "dashboard",
                                    note=values.get("note") or None, address=address or None,
                                    override=values.get("override") or None, fc=values.get("fc") or None)
    except (InvalidInput, NotFound) as exc:
        return _exceptions_page(request, db, shop_id, shop_list, "unresolved", error=str(exc),
                                error_for=exception_id, status_code=404 if isinstance(exc, NotFound) else 422)
    return RedirectResponse(f"/exceptions?shop={shop_id}&done={exception_id}", status_code=303)
