"""Server-rendered dashboard. Sign-in stores the admin token in an HttpOnly cookie.

Every action here goes through the same code as its REST API call (storeops.web.api),
so the dashboard can never do something the API cannot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import func, select

from storeops import __version__
from storeops.core.errors import InvalidInput
from storeops.domain.shops import services as shops
from storeops.engine.models import FAILED, IGNORED, INVALID, PENDING, PROCESSED, InboxEvent
from storeops.web.api import ShopIn, register_shop
from storeops.web.deps import BoxDep, DbDep

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["version"] = __version__
router = APIRouter(include_in_schema=False)

COOKIE = "storeops_token"

# The overview's tiles, in the merchant's words: (inbox status, label, what it means).
EVENT_TILES = (
    (PENDING, "Waiting", "received, not handled yet"),
    (PROCESSED, "Processed", "handled by an automation"),
    (FAILED, "Failed", "gave up after retries; needs a look"),
    (INVALID, "Unreadable", "signed, but not valid data"),
    (IGNORED, "Ignored", "no automation for this topic"),
)


def _signed_in(request: Request) -> bool:
    return bool(request.app.state.tokens.valid(request.cookies.get(COOKIE)))


def _login_redirect() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def _render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200,
            signed_in: bool = True) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, name, {"signed_in": signed_in, "active": name.removesuffix(".html"), **context},
        status_code=status_code,
    )
    # Pages show shop data: keep them out of shared caches and the back/forward cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _validation_message(exc: ValidationError) -> str:
    labels = {"domain": "Shop domain", "name": "Name"}
    parts = []
    for error in exc.errors():
        field = str(error["loc"][-1]) if error["loc"] else ""
        parts.append(f"{labels.get(field, field)}: {error['msg'].lower()}")
    return "; ".join(parts)


@router.get("/login", response_class=HTMLResponse, response_model=None)
def login_form(request: Request) -> Any:
    if _signed_in(request):
        return RedirectResponse("/", status_code=303)
    return _render(request, "login.html", {"error": None}, signed_in=False)


@router.post("/login", response_model=None)
def login(request: Request, token: str = Form("")) -> Any:
    if not request.app.state.tokens.valid(token.strip()):
        return _render(request, "login.html", {"error": "That token is not valid."}, status_code=401,
                       signed_in=False)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    response = _login_redirect()
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response


@router.get("/", response_class=HTMLResponse, response_model=None)
def overview(request: Request, db: DbDep) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        # .all(): dict() of a Result would take it for a mapping (it has .keys()) and fail.
        counts = dict(
            session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).tuples().all()
        )
        recent = session.scalars(select(InboxEvent).order_by(InboxEvent.id.desc()).limit(25)).all()
        shop_list = shops.list_shops(session)
    return _render(request, "overview.html", {
        "counts": counts, "tiles": EVENT_TILES, "recent": recent, "shops": shop_list,
        "domains": {s.id: s.domain for s in shop_list},
    })


@router.get("/shops", response_class=HTMLResponse, response_model=None)
def shops_page(request: Request, db: DbDep) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_list = shops.list_shops(session)
    return _render(request, "shops.html", {"shops": shop_list, "error": None, "form": {}})


@router.post("/shops", response_class=HTMLResponse, response_model=None)
def shops_add(
    request: Request,
    db: DbDep,
    box: BoxDep,
    domain: str = Form(""),
    name: str = Form(""),
    shopify_secret: str = Form(""),
    shopify_token: str = Form(""),
) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    try:
        body = ShopIn(domain=domain, name=name, shopify_secret=shopify_secret or None,
                      shopify_token=shopify_token or None)
        register_shop(request, db, box, body)
    except (InvalidInput, ValidationError) as exc:
        error = _validation_message(exc) if isinstance(exc, ValidationError) else str(exc)
        with db.system_session() as session:
            shop_list = shops.list_shops(session)
        # The typed domain and name come back; secrets never do (they would sit in the HTML).
        return _render(request, "shops.html", {
            "shops": shop_list, "error": error, "form": {"domain": domain, "name": name},
        }, status_code=422)
    return RedirectResponse("/shops", status_code=303)
