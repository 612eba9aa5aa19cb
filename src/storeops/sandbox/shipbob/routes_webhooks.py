"""Webhook subscriptions (ShipBob 2026-01: GET/POST /2026-01/webhook, DELETE /2026-01/webhook/{id})."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storeops.sandbox.shipbob import views
from storeops.sandbox.shipbob.http import ApiError, json_body, page, query_int
from storeops.sandbox.shipbob.records import Subscription, now

if TYPE_CHECKING:
    from storeops.sandbox.shipbob.app import ShipbobSandbox

# Webhooks.Topics in openapi-2026-01.json.
TOPICS = (
    "order.shipped", "order.shipment.delivered", "order.shipment.exception", "order.shipment.on_hold",
    "order.shipment.cancelled", "return.created", "return.updated", "return.completed",
    "billing.charge.created", "billing.refund.created", "billing.credit.created",
)
# Webhooks.V2.CreateSubscriptionRequest.secret.pattern
SECRET_PATTERN = re.compile(r"^whsec_[a-zA-Z0-9+/]{32}$")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _unprocessable(errors: dict[str, list[str]]) -> ApiError:
    """Webhooks.UnprocessableEntityObjectResult: ASP.NET's ObjectResult, serialised."""
    return ApiError(422, {"$type": "UnprocessableEntityObjectResult", "status_code": 422,
                          "value": {"errors": errors}})


def _validate(body: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    topics = body.get("topics")
    if not isinstance(topics, list) or not topics:
        errors["topics"] = ["At least one topic is required."]
    else:
        unknown = [t for t in topics if t not in TOPICS]
        if unknown:
            errors["topics"] = [f"Unknown topic '{t}'." for t in unknown]
    url = body.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or not parts.netloc or parts.scheme not in ("https", "http"):
        errors["url"] = ["The url field must be an absolute URL."]
    elif parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        # The spec: "The URL must use HTTPS". Plain HTTP is allowed on loopback only, where
        # tests and the demo receive deliveries.
        errors["url"] = ["The URL must use HTTPS."]
    secret = body.get("secret")
    if secret is not None and (not isinstance(secret, str) or not SECRET_PATTERN.match(secret)):
        errors["secret"] = ["The secret must match ^whsec_[a-zA-Z0-9+/]{32}$."]
    return errors


def webhook_routes(sb: ShipbobSandbox) -> list[Route]:
    async def list_subscriptions(request: Request) -> Response:
        size = query_int(request, "RecordsPerPage", 50, low=1, high=250)
        number = query_int(request, "Cursor", 1, low=1, high=10**6)
        subs = sorted(sb.store.subscriptions.values(), key=lambda s: int(s.id))
        chunk, links = page(subs, request, number=number, size=size)
        return JSONResponse({"items": [views.subscription(s) for s in chunk], "next": links["next"],
                             "prev": links["prev"]})

    async def create_subscription(request: Request) -> Response:
        body = await json_body(request)
        errors = _validate(body)
        if errors:
            raise _unprocessable(errors)
        # ShipBob issues a secret when the caller sends none; the sandbox's is the account
        # secret from credentials(), so storeops can verify without reading the answer.
        sub = Subscription(id=str(sb.store.next_id("webhook") + 12344), url=body["url"],
                           topics=list(dict.fromkeys(body["topics"])),
                           secret=body.get("secret") or sb.store.webhook_secret,
                           description=body.get("description"), created_at=now())
        sb.store.subscriptions[sub.id] = sub
        return JSONResponse(views.subscription(sub, with_secret=True), status_code=200)

    async def delete_subscription(request: Request) -> Response:
        if sb.store.subscriptions.pop(request.path_params["subscription_id"], None) is None:
            raise ApiError(404)
        return Response(status_code=204)

    return [
        Route("/2026-01/webhook", sb.api(list_subscriptions), methods=["GET"]),
        Route("/2026-01/webhook", sb.api(create_subscription), methods=["POST"]),
        Route("/2026-01/webhook/{subscription_id}", sb.api(delete_subscription), methods=["DELETE"]),
    ]
