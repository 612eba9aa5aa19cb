"""Server-rendered support pages: the ticket triage view with its KPIs, and the triage
model's evaluation. They read through the same services as storeops.web.support_api."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from storeops.domain.decisions import services as decisions
from storeops.domain.support import services as support
from storeops.domain.support.models import SupportTicket
from storeops.flows import support as support_flow
from storeops.web.dashboard import _login_redirect, _render, _signed_in
from storeops.web.deps import DbDep
from storeops.web.orders_pages import _pick_shop
from storeops.web.support_api import evaluation, ticket_view

router = APIRouter(include_in_schema=False)
FILTERS = ("escalated", "replied", "drafted", "new")


@router.get("/support", response_class=HTMLResponse, response_model=None)
def support_page(request: Request, db: DbDep, shop: str | None = None, status: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop)
    rows: list[dict[str, Any]] = []
    strip = support.kpis([])
    mode = None
    if shop_id is not None:
        with db.session(shop_id) as session:
            every = list(session.scalars(select(SupportTicket).order_by(SupportTicket.id.desc())))
            strip = support.kpis(every)
            mode = decisions.mode_for(session, shop_id, support_flow.AUTOMATION)
            rows = [ticket_view(t) for t in every if not status or t.status == status][:500]
    return _render(request, "support.html", {
        "rows": rows, "kpi": strip, "status": status or None, "filters": FILTERS, "shop_id": shop_id,
        "shops": shop_list, "mode": mode, "unknown_shop": shop is not None and shop_id is None})


@router.get("/support/evaluation", response_class=HTMLResponse, response_model=None)
def evaluation_page(request: Request) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    found = evaluation()
    per_intent = sorted(found["intent"]["per_intent_f1"].items(), key=lambda kv: kv[1])
    return _render(request, "support_evaluation.html", {"ev": found, "per_intent": per_intent})
