"""Typed dependencies shared by API and dashboard routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from storeops.core.errors import NotFound
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.shops import services as shops


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_box(request: Request) -> SecretBox:
    return request.app.state.box  # type: ignore[no-any-return]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get("storeops_token")


def require_admin(request: Request) -> None:
    if not request.app.state.tokens.valid(_bearer(request)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "admin token required (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": "Bearer"},
        )


DbDep = Annotated[Database, Depends(get_db)]
BoxDep = Annotated[SecretBox, Depends(get_box)]
Admin = Depends(require_admin)


def shop_id_for(db: Database, shop: str | None) -> str:
    """The shop an API call means: `?shop=` (id or domain), or the only shop there is."""
    with db.system_session() as session:
        if shop is None:
            found = shops.list_shops(session)
            if len(found) != 1:
                raise HTTPException(422, {"error": "name the shop (?shop=<id or domain>)", "field": "shop"})
            return str(found[0].id)
        try:
            return shops.find_shop(session, shop).id
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
