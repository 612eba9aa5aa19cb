"""Server-rendered pages for returns: the list (status, verdict, amounts) and one return with
its lines, decision records and, while it waits for a person, the approve / reject form.

They go through the same flow functions as the JSON API (storeops.web.returns_api), so a page
can never do something the API cannot. Sign-in is the dashboard's cookie.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from storeops.core.errors import InvalidInput, NotFound
from storeops.domain.decisions import services as decisions
from storeops.domain.returns import services as returns
from storeops.domain.returns.models import NEEDS_REVIEW, STATUSES
from storeops.flows import returns as returns_flow
from storeops.web.dashboard import _login_redirect, _render, _signed_in
from storeops.web.deps import DbDep
from storeops.web.orders_pages import _pick_shop

router = APIRouter(include_in_schema=False)


@router.get("/returns", response_class=HTMLResponse, response_model=None)
def returns_page(request: Request, db: DbDep, shop: str | None = None, status: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop)
    status = status if status in STATUSES else None
    rows: list[Any] = []
    waiting = 0
    if shop_id is not None:
        with db.session(shop_id) as session:
            rows = returns.list_requests(session, status=status, limit=500)
            waiting = len(returns.list_requests(session, status=NEEDS_REVIEW, limit=10_000))
            session.expunge_all()
    return _render(request, "returns.html", {
        "rows": rows, "status": status, "statuses": STATUSES, "shop_id": shop_id, "shops": shop_list,
        "waiting": waiting, "unknown_shop": shop is not None and shop_id is None,
    })


def _detail(request: Request, db: Any, shop_id: str | None, return_id: int, *, error: str | None = None,
            saved: str | None = None, status_code: int = 200) -> Any:
    found, lines, records = None, [], []
    if shop_id is not None:
        with db.session(shop_id) as session:
            found = returns.find(session, return_id)
            if found is not None:
                lines = returns.lines_of(session, return_id)
                records = decisions.for_subject(session, f"return:{return_id}")
            session.expunge_all()
    if found is None:
        status_code = 404
    return _render(request, "return_detail.html", {
        "r": found, "return_id": return_id, "lines": lines, "records": records, "shop_id": shop_id,
        "error": error, "saved": saved, "needs_review": NEEDS_REVIEW,
    }, status_code=status_code)


@router.get("/returns/{return_id}", response_class=HTMLResponse, response_model=None)
def return_detail(request: Request, return_id: int, db: DbDep, shop: str | None = None,
                  saved: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, _ = _pick_shop(session, shop)
    return _detail(request, db, shop_id, return_id, saved=saved)


@router.post("/returns/{return_id}/decision", response_class=HTMLResponse, response_model=None)
def return_decision(request: Request, return_id: int, db: DbDep, shop: str = Form(""),
                    decision: str = Form(""), note: str = Form("")) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, _ = _pick_shop(session, shop or None)
    if shop_id is None:
        return _detail(request, db, None, return_id, error="Choose a registered shop.", status_code=422)
    if decision not in ("approve", "reject"):
        return _detail(request, db, shop_id, return_id, error="Choose approve or reject.", status_code=422)
    if len(note) > 500:
        return _detail(request, db, shop_id, return_id, error="The note is longer than 500 characters.",
                       status_code=422)
    try:
        with db.session(shop_id) as session:
            returns_flow.decide_by_person(session, shop_id, return_id, approve=decision == "approve",
                                          actor="dashboard", note=note.strip() or None)
    except NotFound:
        return _detail(request, db, shop_id, return_id, status_code=404)
    except InvalidInput as exc:
        return _detail(request, db, shop_id, return_id, error=str(exc),
                       status_code=409 if exc.field == "status" else 422)
    done = "approved" if decision == "approve" else "rejected"
    return RedirectResponse(f"/returns/{return_id}?shop={shop_id}&saved={done}", status_code=303)
