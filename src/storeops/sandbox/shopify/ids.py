"""Ids, global ids, cursors, money and time as Shopify writes them.

Shopify ids are 64-bit integers; the REST webhook payloads carry them as JSON numbers
and GraphQL as `gid://shopify/<Type>/<id>` strings. The sandbox hands out ids above 2**53
on purpose: a client that squeezes them through a float (as a JavaScript JSON parser
does; see the rounded ids in shared/vendor-specs/shopify/webhooks-2026-07 examples) loses
the last digits, and the contract tests notice.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

ID_BASE = 2**53 + 1
CURRENCY = "USD"
CENT = Decimal("0.01")


class IdSequence:
    """Increasing 64-bit ids; restarts on reset so a seeded sandbox is reproducible."""

    def __init__(self) -> None:
        self.last = ID_BASE

    def next(self) -> int:
        self.last += 7  # gaps like the real thing: ids are not dense per resource
        return self.last


def gid(kind: str, id_: int, **query: int) -> str:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return f"gid://shopify/{kind}/{id_}{suffix}"


def parse_gid(value: str, kind: str | None = None) -> int | None:
    """The integer id in `gid://shopify/<kind>/<id>[?...]`, or None when it is not one."""
    if not isinstance(value, str) or not value.startswith("gid://shopify/"):
        return None
    parts = value[len("gid://shopify/"):].split("?")[0].split("/")
    if len(parts) != 2 or (kind is not None and parts[0] != kind):
        return None
    try:
        return int(parts[1])
    except ValueError:
        return None


def gid_kind(value: str) -> str | None:
    if not isinstance(value, str) or not value.startswith("gid://shopify/"):
        return None
    return value[len("gid://shopify/"):].split("/")[0]


def encode_cursor(key: list[Any]) -> str:
    """Opaque cursor, base64 JSON like Shopify's ({"last_id":..,"last_value":..})."""
    raw = json.dumps({"last_id": key[-1], "last_value": key[0] if len(key) > 1 else key[-1]},
                     separators=(",", ":"), default=str)
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> list[Any] | None:
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True))
        return [data["last_value"], data["last_id"]]
    except (ValueError, KeyError, TypeError):
        return None


def money(value: Decimal | str | int) -> Decimal:
    return Decimal(value).quantize(CENT)


def money_str(value: Decimal) -> str:
    """REST and the Money scalar: two decimals ("52.00")."""
    return str(money(value))


def decimal_str(value: Decimal) -> str:
    """The Decimal scalar (MoneyV2.amount): Shopify drops trailing zeros ("52.0")."""
    text = format(Decimal(value).normalize(), "f")
    return text if "." in text else text + ".0"


def money_v2(amount: Decimal) -> dict[str, Any]:
    return {"amount": money(amount), "currencyCode": CURRENCY}


def money_bag(amount: Decimal) -> dict[str, Any]:
    return {"shopMoney": money_v2(amount), "presentmentMoney": money_v2(amount)}


def rest_money_set(amount: Decimal) -> dict[str, Any]:
    one = {"amount": money_str(amount), "currency_code": CURRENCY}
    return {"shop_money": one, "presentment_money": dict(one)}


def now() -> datetime:
    """Wall time at second precision: Shopify timestamps have no fractions."""
    return datetime.now(UTC).replace(microsecond=0)


def iso_z(value: datetime | None) -> str | None:
    """GraphQL DateTime: 2026-07-01T12:00:00Z."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_rest(value: datetime | None) -> str | None:
    """REST payload times carry the shop's offset (this shop runs on UTC): ...T12:00:00+00:00."""
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def parse_time(value: str) -> datetime | None:
    text = value.strip().strip("'\"")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
