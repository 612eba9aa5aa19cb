"""Server-rendered dashboard. Sign-in stores the admin token in an HttpOnly cookie."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from storeops.core.errors import InvalidInput
from storeops.domain.shops import services as shops
from storeops.engine.models import InboxEvent
from storeops.web.api import ShopIn, register_shop
from storeops.web.deps import BoxDep, DbDep

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


def _signed_in(request: Request) -> bool:
    return bool(request.app.state.tokens.valid(request.cookies.get("storeops_token")))


def _login_redirect() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/login", response_model=None)
def login(request: Request, token: str = Form(...)) -> Any:
    if not request.app.state.tokens.valid(token):
        return templates.TemplateResponse(request, "login.html", {"error": "That token is not valid."},
                                          status_code=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie("storeops_token", token, httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    response = _login_redirect()
    response.delete_cookie("storeops_token")
    return response


@router.get("/", response_class=HTMLResponse, response_model=None)
def overview(request: Request, db: DbDep) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        counts = dict(session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).tuples())
        recent = session.scalars(select(InboxEvent).order_by(InboxEvent.id.desc()).limit(25)).all()
        shop_list = shops.list_shops(session)
    return templates.TemplateResponse(
        request, "overview.html", {"counts": counts, "recent": recent, "shops": shop_list}
    )


@router.get("/shops", response_class=HTMLResponse, response_model=None)
def shops_page(request: Request, db: DbDep) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_list = shops.list_shops(session)
    return templates.TemplateResponse(request, "shops.html", {"shops": shop_list, "error": None, "form": {}})


@router.post("/shops", response_class=HTMLResponse, response_model=None)
def shops_add(
    request: Request,
    db: DbDep,
    box: BoxDep,
    domain: str = Form(...),
    name: str = Form(""),
    shopify_secret: str = Form(""),
    shopify_token: str = Form(""),
) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    body = ShopIn(domain=domain, name=name, shopify_secret=shopify_secret or None,
                  shopify_token=shopify_token or None)
    try:
        register_shop(request, db, box, body)
    except InvalidInput as exc:
        with db.system_session() as session:
            shop_list = shops.list_shops(session)
        return templates.TemplateResponse(
            request, "shops.html", {"shops": shop_list, "error": str(exc), "form": {"domain": domain, "name": name}},
            status_code=422,
        )
    return RedirectResponse("/shops", status_code=303)
