"""The `query:` argument: Shopify's search syntax, the parts storeops uses.

Supported (shopify.dev "Search syntax"): space- or AND-separated terms, `field:value`,
range comparisons `field:>value` `>=` `<` `<=` (times as ISO-8601, quoted or not), a
leading `-` or NOT to negate, and bare words (matched against the resource's default
text). OR and parentheses are not emulated: those terms are ignored, as Shopify ignores
filters it does not know (it reports them in extensions.search warnings).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from storeops.sandbox.shopify.ids import parse_time

T = TypeVar("T")
Getter = Callable[[Any], Any]
_TERM = re.compile(r"^(?P<neg>-)?(?P<field>[a-z_]+):(?P<op>>=|<=|>|<)?(?P<value>.*)$")


@dataclass(frozen=True)
class Term:
    field: str | None
    op: str
    value: str
    negate: bool = False


def parse(query: str | None) -> list[Term]:
    if not query:
        return []
    try:
        tokens = shlex.split(query)
    except ValueError:
        tokens = query.split()
    terms: list[Term] = []
    negate_next = False
    for token in tokens:
        if token.upper() == "AND":
            continue
        if token.upper() == "NOT":
            negate_next = True
            continue
        match = _TERM.match(token)
        if match:
            terms.append(Term(match["field"], match["op"] or "=", match["value"].strip("'\""),
                              negate=bool(match["neg"]) or negate_next))
        elif token.upper() != "OR" and not token.startswith("("):
            terms.append(Term(None, "~", token, negate=negate_next))
        negate_next = False
    return terms


def _compare(actual: Any, op: str, wanted: str) -> bool:
    if isinstance(actual, list):  # tags and the like: membership
        return any(str(a).lower() == wanted.lower() for a in actual)
    if isinstance(actual, datetime):
        when = parse_time(wanted)
        if when is None:
            return False
        return {"=": actual == when, ">": actual > when, ">=": actual >= when, "<": actual < when,
                "<=": actual <= when}[op]
    if isinstance(actual, int) and not isinstance(actual, bool):
        try:
            number = int(wanted.rsplit("/", 1)[-1])  # ids may be given as gids
        except ValueError:
            return False
        return {"=": actual == number, ">": actual > number, ">=": actual >= number, "<": actual < number,
                "<=": actual <= number}[op]
    text = "" if actual is None else str(actual).lower()
    if wanted.endswith("*"):
        return text.startswith(wanted[:-1].lower())
    return text == wanted.lower()


def apply(items: Iterable[T], query: str | None, fields: dict[str, Getter], default_text: Getter) -> list[T]:
    terms = [t for t in parse(query) if t.field is None or t.field in fields]
    out = []
    for item in items:
        ok = True
        for term in terms:
            if term.field is None:
                hit = term.value.lower() in str(default_text(item) or "").lower()
            else:
                hit = _compare(fields[term.field](item), term.op, term.value)
            if hit == term.negate:
                ok = False
                break
        if ok:
            out.append(item)
    return out
