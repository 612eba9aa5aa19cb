"""Feeds API 2021-06-30 routes (feeds_2021-06-30.json) and the "S3" bucket behind
the pre-signed document URLs.

The bucket (/_s3/tortuga/{documentId}) is not SP-API: it takes no access token, only the
URL's signature, and fails like S3 does (403 with an XML <Error>), e.g. when the upload's
Content-Type differs from the contentType given to createFeedDocument (it is one of the
signed headers) or the URL is older than five minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from storeops.sandbox.amazon.feeds import FEED_TYPE, URL_TTL_S, Document, Feed, signature
from storeops.sandbox.amazon.http import BadRequest, NotFoundError, json_body
from storeops.sandbox.amazon.listings import iso

if TYPE_CHECKING:
    from storeops.sandbox.amazon.app import AmazonSandbox

AMZ_DATE = "%Y%m%dT%H%M%SZ"


def presigned_url(sb: AmazonSandbox, request: Request, document: Document, method: str) -> str:
    issued = sb.now_dt().strftime(AMZ_DATE)
    signed_headers = "content-type;host" if method == "PUT" else "host"
    query = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": issued, "X-Amz-Expires": f"{URL_TTL_S:.0f}",
             "X-Amz-SignedHeaders": signed_headers,
             "X-Amz-Signature": signature(document, method, _epoch(issued))}
    base = str(request.base_url).rstrip("/")
    return f"{base}/_s3/tortuga/{document.document_id}?{urlencode(query)}"


def _epoch(amz_date: str) -> float:
    return datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=UTC).timestamp()


def _s3_error(code: str, message: str, status: int = 403) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


def _s3_check(sb: AmazonSandbox, request: Request, method: str) -> tuple[Document | None, Response | None]:
    document = sb.documents.get(request.path_params["documentId"])
    if document is None:
        return None, _s3_error("NoSuchKey", "The specified key does not exist.", 404)
    issued = request.query_params.get("X-Amz-Date", "")
    try:
        issued_at = datetime.strptime(issued, AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        return None, _s3_error("AccessDenied", "Query-string authentication requires X-Amz-Date.")
    expected = signature(document, method, issued_at.timestamp())
    if request.query_params.get("X-Amz-Signature") != expected:
        return None, _s3_error("SignatureDoesNotMatch", "The request signature we calculated does not match "
                                                        "the signature you provided.")
    if sb.now_dt() > issued_at + timedelta(seconds=URL_TTL_S):
        return None, _s3_error("AccessDenied", "Request has expired")
    return document, None


async def s3_put(sb: AmazonSandbox, request: Request) -> Response:
    document, refused = _s3_check(sb, request, "PUT")
    if refused is not None:
        return refused
    assert document is not None
    if document.is_result:
        return _s3_error("AccessDenied", "Access Denied")
    if request.headers.get("content-type", "") != document.content_type:
        # content-type is a signed header: S3 refuses a different one.
        return _s3_error("SignatureDoesNotMatch", "The Content-Type does not match the signed contentType.")
    document.content = await request.body()
    return Response(status_code=200, headers={"ETag": f'"{sb.new_uuid().replace("-", "")}"'})


async def s3_get(sb: AmazonSandbox, request: Request) -> Response:
    document, refused = _s3_check(sb, request, "GET")
    if refused is not None:
        return refused
    assert document is not None
    if document.content is None:
        return _s3_error("NoSuchKey", "The specified key does not exist.", 404)
    return Response(document.content, media_type=document.content_type)


async def create_document(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    body = await json_body(request)
    content_type = body.get("contentType")
    if not isinstance(content_type, str) or not content_type:
        raise BadRequest("'contentType' is required.")
    document = sb.new_document(content_type, seller_id)
    return JSONResponse({"feedDocumentId": document.document_id,
                         "url": presigned_url(sb, request, document, "PUT")}, status_code=201)


async def get_document(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    document = sb.documents.get(request.path_params["feedDocumentId"])
    if document is None or document.owner != seller_id:
        raise NotFoundError("The feed document does not exist.")
    body = {"feedDocumentId": document.document_id, "url": presigned_url(sb, request, document, "GET")}
    if document.compression:
        body["compressionAlgorithm"] = document.compression
    return JSONResponse(body)


async def create_feed(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    body = await json_body(request)
    feed_type, marketplaces, document_id = body.get("feedType"), body.get("marketplaceIds"), \
        body.get("inputFeedDocumentId")
    if not isinstance(feed_type, str) or not isinstance(document_id, str):
        raise BadRequest("'feedType' and 'inputFeedDocumentId' are required strings.")
    if (not isinstance(marketplaces, list) or not 1 <= len(marketplaces) <= 25
            or not all(isinstance(m, str) for m in marketplaces)):
        raise BadRequest("'marketplaceIds' must list 1 to 25 marketplace IDs.")
    if sb.marketplace_id not in marketplaces or len(set(marketplaces)) > 1:
        raise BadRequest(f"Invalid marketplaceIds: this seller sells in {sb.marketplace_id} only.")
    if feed_type != FEED_TYPE:
        raise BadRequest(f"Feed type '{feed_type}' is not supported by this sandbox (only {FEED_TYPE}).")
    if document_id not in sb.documents or sb.documents[document_id].owner != seller_id:
        raise BadRequest(f"inputFeedDocumentId '{document_id}' does not exist.")
    feed = sb.new_feed(seller_id, feed_type, list(marketplaces), document_id)
    return JSONResponse({"feedId": feed.feed_id}, status_code=202)


def feed_body(feed: Feed) -> dict[str, object]:
    body: dict[str, object] = {"feedId": feed.feed_id, "feedType": feed.feed_type,
                               "marketplaceIds": feed.marketplace_ids, "createdTime": iso(feed.created),
                               "processingStatus": feed.status}
    if feed.started:
        body["processingStartTime"] = iso(feed.started)
    if feed.ended:
        body["processingEndTime"] = iso(feed.ended)
    if feed.result_document_id:
        body["resultFeedDocumentId"] = feed.result_document_id
    return body


def _own_feed(sb: AmazonSandbox, request: Request, seller_id: str) -> Feed:
    feed = sb.feeds.get(request.path_params["feedId"])
    if feed is None or feed.seller_id != seller_id:
        raise NotFoundError("The feed does not exist.")
    return feed


async def get_feed(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    return JSONResponse(feed_body(_own_feed(sb, request, seller_id)))


async def cancel_feed(sb: AmazonSandbox, request: Request, seller_id: str) -> Response:
    feed = _own_feed(sb, request, seller_id)
    if feed.status != "IN_QUEUE":
        raise BadRequest(f"Only IN_QUEUE feeds can be cancelled; this one is {feed.status}.")
    feed.status = "CANCELLED"
    return Response(status_code=200)
