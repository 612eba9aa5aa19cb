"""JSON:API plumbing shared by the Klaviyo sandbox's routes: errors, filters, pages.

Klaviyo's shapes, from vendor-specs/klaviyo/openapi-stable.json and its API overview
(https://developers.klaviyo.com/en/reference/api_overview):
- bodies are `application/vnd.api+json`;
- errors are {"errors": [{"id", "status", "code", "title", "detail", "source": {"pointer" |
  "parameter"}}]} (components/responses/ClientError);
- `filter` takes `op(field,value)` terms joined by commas or wrapped in `and(...)`, with
  quoted strings, unquoted dates / numbers / booleans, and `[...]` lists;
- collections page with an opaque `page[cursor]`, `page[size]`, and `links.next`.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import URL, QueryParams
from starlette.responses import JSONResponse

MEDIA_TYPE = "application/vnd.api+json"


def _default(value: object) -> object:
    # Money is Decimal inside the sandbox; the wire format is a JSON number.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent == 0 else float(value)
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class VndJSON(JSONResponse):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class KlaviyoError(Exception):
    """Raised by a handler; answered as Klaviyo's error document."""

    def __init__(self, status: int, code: str, title: str, detail: str, *, pointer: str | None = None,
                 parameter: str | None = None, meta: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.meta = meta
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"id": str(uuid.uuid4()), "status": self.status, "code": self.code,
                                 "title": self.title, "detail": self.detail, "source": {}}
        if self.pointer is not None:
            error["source"]["pointer"] = self.pointer
        if self.parameter is not None:
            error["source"]["parameter"] = self.parameter
        if self.meta:
            error["meta"] = self.meta
        return {"errors": [error]}

    def response(self) -> VndJSON:
        return VndJSON(self.body(), status_code=self.status, headers=self.headers)


def invalid(detail: str, *, pointer: str | None = None, parameter: str | None = None) -> KlaviyoError:
    return KlaviyoError(400, "invalid", "Invalid input.", detail, pointer=pointer, parameter=parameter)


def not_found(detail: str) -> KlaviyoError:
    return KlaviyoError(404, "not_found", "Not found.", detail)


# --- filter ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Term:
    op: str
    field: str
    value: Any = None


class _FilterParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> KlaviyoError:
        return invalid(f"Invalid filter: {why} at position {self.pos}", parameter="filter")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        self.skip_spaces()
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def name(self) -> str:
        self.skip_spaces()
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() in "-_.$"):
            self.pos += 1
        if start == self.pos:
            raise self.fail("expected a name")
        return self.text[start:self.pos]

    def terms(self) -> list[Term]:
        found: list[Term] = []
        while True:
            op = self.name()
            self.expect("(")
            if op == "and":
                found.extend(self.terms())
            else:
                field = self.name()
                value: Any = None
                self.skip_spaces()
                if self.peek() == ",":
                    self.pos += 1
                    value = self.value()
                found.append(Term(op, field, value))
            self.expect(")")
            self.skip_spaces()
            if self.peek() != ",":
                return found
            self.pos += 1

    def value(self) -> Any:
        self.skip_spaces()
        char = self.peek()
        if not char:
            raise self.fail("expected a value")
        if char in "\"'":
            end = self.text.find(char, self.pos + 1)
            if end < 0:
                raise self.fail("unterminated string")
            text = self.text[self.pos + 1:end]
            self.pos = end + 1
            return text
        if char == "[":
            self.pos += 1
            items: list[Any] = []
            while True:
                self.skip_spaces()
                if self.peek() == "]":
                    self.pos += 1
                    return items
                items.append(self.value())
                self.skip_spaces()
                if self.peek() == ",":
                    self.pos += 1
        start = self.pos
        while self.peek() and self.peek() not in ",)]":
            self.pos += 1
        token = self.text[start:self.pos].strip()
        if token in ("true", "false"):
            return token == "true"
        if token == "null":
            return None
        try:
            return Decimal(token) if token.replace(".", "", 1).lstrip("-").isdigit() else parse_datetime(token)
        except ValueError:
            raise self.fail(f"cannot read value {token!r}") from None


def parse_filter(text: str | None, allowed: Mapping[str, set[str]]) -> list[Term]:
    """Terms of a `filter` parameter; fields and operators outside `allowed` answer 400."""
    if not text:
        return []
    parser = _FilterParser(text)
    terms = parser.terms()
    if parser.pos != len(text):
        raise parser.fail("unexpected text")
    for term in terms:
        if term.field not in allowed:
            raise invalid(f"'{term.field}' is not a valid field for the resource", parameter="filter")
        if term.op not in allowed[term.field]:
            raise invalid(f"'{term.op}' is not a valid operator for '{term.field}'", parameter="filter")
    return terms


def lower_emails(terms: Sequence[Term]) -> list[Term]:
    """Email filters match case-insensitively (Klaviyo stores addresses in lower case)."""
    def lower(value: Any) -> Any:
        if isinstance(value, list):
            return [lower(v) for v in value]
        return value.lower() if isinstance(value, str) else value

    return [Term(t.op, t.field, lower(t.value)) if t.field == "email" else t for t in terms]


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, datetime) and isinstance(right, str):
        return left, parse_datetime(right)
    if isinstance(left, int | float | Decimal) and not isinstance(left, bool):
        return Decimal(str(left)), Decimal(str(right))
    return left, right


def matches(term: Term, actual: Any) -> bool:
    wanted = term.value
    if term.op == "has":
        return actual is not None
    if term.op == "equals":
        if isinstance(wanted, list):  # the "list" flavour of equals means "one of"
            return actual in wanted
        if actual is None:
            return wanted is None
        left, right = _comparable(actual, wanted)
        return bool(left == right)
    if term.op == "any":
        return actual in (wanted if isinstance(wanted, list) else [wanted])
    if term.op == "contains":
        return isinstance(actual, str) and str(wanted).lower() in actual.lower()
    if actual is None:
        return False
    left, right = _comparable(actual, wanted)
    if term.op == "greater-than":
        return bool(left > right)
    if term.op == "greater-or-equal":
        return bool(left >= right)
    if term.op == "less-than":
        return bool(left < right)
    if term.op == "less-or-equal":
        return bool(left <= right)
    raise invalid(f"unsupported operator {term.op}", parameter="filter")


def apply_filter(records: Iterable[Any], terms: Sequence[Term], field_of: Callable[[Any, str], Any]) -> list[Any]:
    try:
        return [r for r in records if all(matches(t, field_of(r, t.field)) for t in terms)]
    except (TypeError, ValueError, ArithmeticError):  # e.g. a date compared with a number
        raise invalid("A filter value does not fit its field's type.", parameter="filter") from None


# --- pages ----------------------------------------------------------------------------------
def page_size(query: QueryParams, *, default: int, maximum: int) -> int:
    raw = query.get("page[size]")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise invalid("page[size] must be an integer", parameter="page[size]") from None
    if not 1 <= size <= maximum:
        raise invalid(f"page[size] must be between 1 and {maximum}", parameter="page[size]")
    return size


SortKey = tuple[int | str, int]


def stamp(value: datetime | None) -> int:
    """A datetime as integer microseconds, for sort keys and cursors (None sorts first)."""
    return -1 if value is None else int(value.timestamp() * 1_000_000)


def _encode_cursor(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise invalid("Invalid page cursor", parameter="page[cursor]") from None
    if not isinstance(values, list) or len(values) != 2:
        raise invalid("Invalid page cursor", parameter="page[cursor]")
    return values


def paginate(records: Sequence[Any], *, sort_key: Callable[[Any], SortKey], descending: bool,
             query: QueryParams, url: URL, size: int) -> tuple[list[Any], dict[str, str]]:
    """One page of `records` by keyset (sort value, sequence number), and the collection links.

    A keyset cursor neither skips nor repeats records when others are added between pages,
    which is what Klaviyo's opaque cursors promise."""
    ordered = sorted(records, key=sort_key, reverse=descending)
    cursor = query.get("page[cursor]")
    if cursor:
        after = _decode_cursor(cursor)
        try:
            ordered = [r for r in ordered if (list(sort_key(r)) < after if descending else list(sort_key(r)) > after)]
        except TypeError:
            raise invalid("Invalid page cursor", parameter="page[cursor]") from None
    page = ordered[:size]
    links = {"self": str(url)}
    if len(ordered) > size:
        next_query = [(k, v) for k, v in query.multi_items() if k != "page[cursor]"]
        next_query.append(("page[cursor]", _encode_cursor(sort_key(page[-1]))))
        links["next"] = str(url.replace(query=urlencode(next_query)))
    return page, links


def sparse(resource: dict[str, Any], query: QueryParams) -> dict[str, Any]:
    """Apply `fields[<type>]=a,b` to one resource object (Klaviyo's sparse fieldsets)."""
    wanted = query.get(f"fields[{resource['type']}]")
    if not wanted:
        return resource
    keep = {name.split(".")[0] for name in wanted.split(",")}
    attributes = {k: v for k, v in resource.get("attributes", {}).items() if k in keep}
    return {**resource, "attributes": attributes}
