"""Feeds 2021-06-30: feed documents on a pre-signed "S3" URL, the feed lifecycle, and
JSON_LISTINGS_FEED processing.

Flow (feeds_2021-06-30.json): createFeedDocument -> {feedDocumentId, url}; the client PUTs
the content to `url` with the same Content-Type; createFeed {feedType,
marketplaceIds, inputFeedDocumentId} -> {feedId}; getFeed shows processingStatus
IN_QUEUE -> IN_PROGRESS -> DONE (or FATAL) and then resultFeedDocumentId; getFeedDocument
gives a download URL for the processing report.

The feed document is checked here by hand against the rules of
listings-feed-schema-v2.json (the sandbox does not read the spec files: tests compare
these checks with the real schema). A document that breaks the top level (header,
messages) is FATAL; a message that breaks its item schema is reported and skipped,
the rest are applied like the Listings Items API would (see listings.py).
The report follows listings-feed-processing-report-schema-v2.json.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storeops.sandbox.amazon.listings import ListingStore

FEED_TYPE = "JSON_LISTINGS_FEED"
LISTINGS_API_VERSION = "2021-08-01"
IN_QUEUE_S = 30.0  # vendor seconds a feed waits, then works (divided by time_scale)
IN_PROGRESS_S = 30.0
URL_TTL_S = 300.0  # Amazon's pre-signed document URLs expire after five minutes
INCLUDED_DATA = ("summaries", "attributes", "issues", "offers", "fulfillmentAvailability", "procurement",
                 "relationships", "productTypes")
OPERATION_TYPES = ("UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE")
REQUIREMENTS = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")
PATCH_OPS = ("add", "replace", "merge", "delete")
MAX_MESSAGES = 25_000
MAX_MESSAGE_ID = 2_147_483_647
# Which optional members each operationType forbids / requires (the schema's oneOf).
FORBIDDEN = {"UPDATE": ("patches",), "DELETE": ("requirements", "attributes", "productType", "patches"),
             "PARTIAL_UPDATE": ("requirements", "patches"), "PATCH": ("requirements", "attributes")}
REQUIRED = {"UPDATE": ("productType", "attributes"), "DELETE": (),
            "PARTIAL_UPDATE": ("productType", "attributes"), "PATCH": ("productType", "patches")}


@dataclass
class Document:
    document_id: str
    content_type: str
    content: bytes | None = None
    compression: str | None = None
    signature_key: bytes = b""
    owner: str = ""  # seller id
    is_result: bool = False  # a processing report: readable, never writable


@dataclass
class Feed:
    feed_id: str
    seller_id: str
    feed_type: str
    marketplace_ids: list[str]
    input_document_id: str
    created_s: float
    created: datetime
    status: str = "IN_QUEUE"
    started: datetime | None = None
    ended: datetime | None = None
    result_document_id: str | None = None


def signature(document: Document, method: str, expires_s: float) -> str:
    message = f"{method}\n{document.document_id}\n{document.content_type}\n{expires_s:.3f}".encode()
    return hmac.new(document.signature_key, message, hashlib.sha256).hexdigest()


# --- the document checks (listings-feed-schema-v2.json semantics) -----------------------
def _is_int(value: Any) -> bool:
    # JSON Schema's "integer" also admits 2.0; so do we, to agree with validators.
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 1


def check_header(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return "The feed document must be a JSON object."
    header = doc.get("header")
    if not isinstance(header, dict):
        return "The feed document needs a 'header' object."
    if not isinstance(header.get("sellerId"), str):
        return "header.sellerId is required and must be a string."
    if header.get("version") != "2.0":
        return "header.version is required and must be \"2.0\"."
    if "issueLocale" in header and not isinstance(header["issueLocale"], str):
        return "header.issueLocale must be a string."
    if "report" in header:
        report = header["report"]
        if not isinstance(report, dict):
            return "header.report must be an object."
        included = report.get("includedData")
        if not isinstance(included, list) or not included or any(i not in INCLUDED_DATA for i in included):
            return f"header.report.includedData must be a non-empty list of {', '.join(INCLUDED_DATA)}."
        if report.get("apiVersion") != LISTINGS_API_VERSION:
            return f"header.report.apiVersion must be \"{LISTINGS_API_VERSION}\"."
    messages = doc.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return f"The feed document needs 'messages': an array of 1 to {MAX_MESSAGES} messages."
    return None


def check_message(message: Any) -> list[str]:
    """Problems of one message against the schema's message item (empty = valid)."""
    if not isinstance(message, dict):
        return ["A message must be a JSON object."]
    problems = []
    message_id: Any = message.get("messageId")
    if not _is_int(message_id) or not 1 <= message_id <= MAX_MESSAGE_ID:
        problems.append(f"messageId is required and must be an integer from 1 to {MAX_MESSAGE_ID}.")
    if not _nonempty_str(message.get("sku")):
        problems.append("sku is required and must be a non-empty string.")
    operation = message.get("operationType")
    if operation not in OPERATION_TYPES:
        problems.append(f"operationType is required and must be one of {', '.join(OPERATION_TYPES)}.")
    if "productType" in message and not _nonempty_str(message["productType"]):
        problems.append("productType must be a non-empty string.")
    if "requirements" in message and message["requirements"] not in REQUIREMENTS:
        problems.append(f"requirements must be one of {', '.join(REQUIREMENTS)}.")
    if "attributes" in message and (not isinstance(message["attributes"], dict) or not message["attributes"]):
        problems.append("attributes must be an object with at least one attribute.")
    if "patches" in message:
        problems += _check_patches(message["patches"])
    if operation in OPERATION_TYPES:
        problems += [f"'{name}' is not applicable to {operation} messages."
                     for name in FORBIDDEN[operation] if name in message]
        problems += [f"{operation} messages require '{name}'." for name in REQUIRED[operation]
                     if name not in message]
    return problems


def _check_patches(patches: Any) -> list[str]:
    if not isinstance(patches, list) or not patches:
        return ["patches must be a non-empty array."]
    problems = []
    for patch in patches:
        if not isinstance(patch, dict) or patch.get("op") not in PATCH_OPS or not isinstance(patch.get("path"), str):
            problems.append(f"Every patch needs 'op' ({', '.join(PATCH_OPS)}) and a string 'path'.")
        elif "value" in patch and (not isinstance(patch["value"], list)
                                   or not all(isinstance(e, dict) for e in patch["value"])):
            problems.append("A patch 'value' must be an array of objects.")
    return problems


# --- processing ---------------------------------------------------------------------------
def process_listings_feed(store: ListingStore, content: bytes | None, *, seller_id: str,
                          feed_id: str) -> tuple[str, dict[str, Any]]:
    """Apply a JSON_LISTINGS_FEED; returns (processingStatus, processing report)."""
    header_out: dict[str, Any] = {"sellerId": seller_id, "version": "2.0", "feedId": feed_id}
    try:
        doc = json.loads(content or b"")
    except (ValueError, UnicodeDecodeError):
        doc = None
        fatal: str | None = "The feed document is missing or is not valid JSON."
    else:
        fatal = check_header(doc)
    if fatal is None and doc["header"]["sellerId"] != seller_id:
        fatal = "header.sellerId does not match the selling partner that submitted the feed."
    if fatal is not None:
        return "FATAL", _report(header_out, [{"code": "InvalidFeedDocument", "severity": "ERROR", "message": fatal}],
                                processed=0, accepted=0, invalid=0, items=None)
    report_spec = doc["header"].get("report")
    if report_spec:
        header_out["report"] = report_spec
    issues: list[dict[str, Any]] = []
    accepted = invalid = 0
    seen_ids: set[Any] = set()
    touched: list[str] = []
    for message in doc["messages"]:
        problems = check_message(message)
        message_id = message.get("messageId") if isinstance(message, dict) else None
        if not problems and message_id in seen_ids:
            problems = [f"messageId {message_id} is used by an earlier message in this feed."]
        if problems:
            invalid += 1
            issues += [_report_issue(message, "InvalidMessage", p) for p in problems]
            continue
        seen_ids.add(message_id)
        result = _apply(store, message)
        issues += [_report_issue(message, i["code"], i["message"], i) for i in result.issues]
        if result.accepted:
            accepted += 1
            touched.append(message["sku"])
        else:
            invalid += 1
    items = None
    if report_spec:
        included = list(report_spec["includedData"])
        items = [store.render(store.items[sku], included) for sku in dict.fromkeys(touched) if sku in store.items]
    return "DONE", _report(header_out, issues, processed=len(doc["messages"]), accepted=accepted,
                           invalid=invalid, items=items)


def _apply(store: ListingStore, message: dict[str, Any]) -> Any:
    sku, operation = message["sku"], message["operationType"]
    if operation == "UPDATE":
        return store.put(sku, message["productType"], message.get("requirements", "LISTING"), message["attributes"])
    if operation == "PARTIAL_UPDATE":
        patches = [{"op": "replace", "path": f"/attributes/{name}", "value": value}
                   for name, value in message["attributes"].items()]
        return store.patch(sku, message["productType"], patches)
    if operation == "PATCH":
        return store.patch(sku, message["productType"], message["patches"])
    return store.delete(sku)


def _report_issue(message: Any, code: str, text: str, source: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(message, dict):
        if _is_int(message.get("messageId")) and message["messageId"] >= 1:
            out["messageId"] = int(message["messageId"])
        if _nonempty_str(message.get("sku")):
            out["sku"] = message["sku"]
    out.update({"code": code, "severity": (source or {}).get("severity", "ERROR"), "message": text})
    names = (source or {}).get("attributeNames")
    if names:
        out["attributeName"] = names[0]
    return out


def _report(header: dict[str, Any], issues: list[dict[str, Any]], *, processed: int, accepted: int, invalid: int,
            items: list[dict[str, Any]] | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "errors": sum(1 for i in issues if i["severity"] == "ERROR"),
        "warnings": sum(1 for i in issues if i["severity"] == "WARNING"),
        "messagesProcessed": processed, "messagesAccepted": accepted, "messagesInvalid": invalid,
    }
    report: dict[str, Any] = {"header": header, "issues": issues, "summary": summary}
    if items is not None:
        item_issues = [i for item in items for i in item.get("issues", [])]
        summary["itemSummary"] = {"items": len(items),
                                  "errors": sum(1 for i in item_issues if i.get("severity") == "ERROR"),
                                  "warnings": sum(1 for i in item_issues if i.get("severity") == "WARNING")}
        report["items"] = items
    return report


def encode_report(report: dict[str, Any]) -> bytes:
    """Result documents are served GZIP-compressed (the model's compressionAlgorithm)."""
    return gzip.compress(json.dumps(report).encode(), mtime=0)
