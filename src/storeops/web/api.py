"""REST API v1 (admin token). Every dashboard action is also an API call here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from storeops.core.errors import InvalidInput, NotFound
from storeops.domain.customers.models import DataRequest
from storeops.domain.shops import services as shops
from storeops.engine import inbox, outbox
from storeops.engine.models import InboxEvent, newest_with_counts
from storeops.flows.demo import forget_connectors
from storeops.web.deps import Admin, BoxDep, DbDep, shop_id_for

router = APIRouter(prefix="/api/v1", dependencies=[Admin])


class ShopIn(BaseModel):
    domain: str = Field(examples=["example.myshopify.com"])
    # shops.name is VARCHAR(255): longer names must be refused here, not crash PostgreSQL
    name: str = Field(default="", max_length=255)
    shopify_secret: str | None = Field(default=None, description="Shopify app API secret (signs webhooks)")
    shopify_token: str | None = Field(default=None, description="Admin API access token")


class CredentialIn(BaseModel):
    value: str = Field(min_length=1)


class RequeueIn(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=10_000)


# shop_credentials.name is VARCHAR(40); names are identifiers like webhook_secret, api_key.
CredentialName = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,40}$", examples=["access_token"],
                                     description="lower-case identifier, e.g. webhook_secret or api_key")]


def _bad(exc: InvalidInput) -> HTTPException:
    return HTTPException(422, {"error": str(exc), "field": exc.field})


def register_shop(request: Request, db: Any, box: Any, body: ShopIn) -> dict[str, Any]:
    credentials: dict[tuple[str, str], str] = {}
    if body.shopify_secret:
        credentials[("shopify", "webhook_secret")] = body.shopify_secret
    if body.shopify_token:
        credentials[("shopify", "access_token")] = body.shopify_token
    with db.system_session() as session:
        view = shops.add_shop(session, box, domain=body.domain, name=body.name, credentials=credentials)
    request.app.state.shops.invalidate()
    return view.as_dict()


@router.get("/shops")
def list_shops(db: DbDep) -> list[dict[str, Any]]:
    with db.system_session() as session:
        return [v.as_dict() for v in shops.list_shops(session)]


@router.post("/shops", status_code=201)
def add_shop(request: Request, body: ShopIn, db: DbDep, box: BoxDep) -> dict[str, Any]:
    try:
        return register_shop(request, db, box, body)
    except InvalidInput as exc:
        raise _bad(exc) from exc


@router.put("/shops/{shop}/credentials/{vendor}/{name}", status_code=204)
def set_credential(request: Request, shop: str, vendor: str, name: CredentialName, body: CredentialIn,
                   db: DbDep, box: BoxDep) -> None:
    try:
        with db.system_session() as session:
            found = shops.find_shop(session, shop)
            shops.set_credential(session, box, shop_id=found.id, vendor=vendor, name=name, value=body.value)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except InvalidInput as exc:
        raise _bad(exc) from exc
    request.app.state.shops.invalidate()
    forget_connectors()


@router.get("/inbox")
def list_inbox(
    db: DbDep,
    vendor: str | None = None,
    status: str | None = None,
    shop: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop) if shop else None
    with db.system_session() as session:
        rows, by_status = newest_with_counts(session, InboxEvent, shop_id=shop_id, limit=limit, vendor=vendor,
                                             status=status)
        events = [
            {
                "id": e.id, "shop_id": e.shop_id, "vendor": e.vendor, "event_id": e.event_id, "topic": e.topic,
                "status": e.status, "attempts": e.attempts, "received_at": e.received_at.isoformat(),
                "processed_at": e.processed_at.isoformat() if e.processed_at else None, "error": e.error,
            }
            for e in rows
        ]
    return {"counts": by_status, "events": events}


@router.post("/inbox/requeue")
def requeue(body: RequeueIn, db: DbDep) -> dict[str, int]:
    return {"requeued": inbox.requeue(db, body.ids)}


@router.get("/outbox")
def list_outbox(
    db: DbDep,
    status: str | None = None,
    target: str | None = None,
    shop: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The outbound actions (vendor calls) and their state; `status=failed` lists what gave up
    (a 4xx the vendor will keep refusing, or a vendor down for longer than the retry window)
    with the vendor's error. A pending message with `retry_at` waits for a later round."""
    shop_id = shop_id_for(db, shop) if shop else None
    return outbox.list_messages(db, status=status, target=target, shop_id=shop_id, limit=limit)


@router.post("/outbox/retry")
def retry_outbox(body: RequeueIn, db: DbDep, shop: str | None = None) -> dict[str, int]:
    """Send failed actions again once their cause is fixed (the same idempotency key: a vendor
    that did act the first time is not called twice for it). Others are left as they are."""
    shop_id = shop_id_for(db, shop) if shop else None
    return {"retried": outbox.retry_failed_ids(db, body.ids, shop_id=shop_id)}


@router.get("/sandboxes")
def sandboxes(request: Request) -> dict[str, str]:
    """vendor -> base URL of the vendor sandboxes this demo talks to (`storeops up --demo`)."""
    found = getattr(request.app.state, "sandboxes", None)
    if not found:
        raise HTTPException(404, "not running with --demo: no vendor sandboxes")
    return dict(found)


@router.get("/shops/{shop}/data-requests")
def data_requests(shop: str, db: DbDep) -> list[dict[str, Any]]:
    """Exports prepared for Shopify's customers/data_request, for the merchant to send on."""
    with db.system_session() as session:
        try:
            shop_id = shops.find_shop(session, shop).id
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
    with db.session(shop_id) as session:
        return [
            {"request_id": r.request_id, "created_at": r.created_at.isoformat(), "export": r.export}
            for r in session.scalars(select(DataRequest).order_by(DataRequest.id))
        ]


def _engine(request: Request) -> Any:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise HTTPException(503, "no workflow engine runs in this process (storeops serve); ask a worker")
    return engine


@router.get("/workflows")
def list_workflows(request: Request, status: str | None = None,
                   limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    return [w.as_dict() for w in _engine(request).list(status=status, limit=limit)]


@router.post("/workflows/{workflow_id}/resume")
def resume_workflow(request: Request, workflow_id: str) -> dict[str, str]:
    _engine(request).resume(workflow_id)
    return {"resumed": workflow_id}


@router.post("/workflows/{workflow_id}/fork")
def fork_workflow(request: Request, workflow_id: str, start_step: int = Query(1, ge=1)) -> dict[str, str]:
    return {"forked": _engine(request).fork(workflow_id, start_step)}
