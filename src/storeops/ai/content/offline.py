"""The built-in offline content generator: deterministic templates over the record's own values.

Every sentence is either the record's own description (split into sentences) or a
"Name: value" line built from an attribute, option or the vendor, so every claim can be
traced to a field. No adjective is added: the templates contain only connecting words
("by", "Available in", "Price from"), which state no fact.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from storeops.ai.content.types import GeneratedContent

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\s*•\s*")
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
_STOP = frozenset(["a", "an", "and", "the", "of", "for", "with", "to", "in", "on", "by", "or", "at", "from", "your",
                   "you", "our", "is", "are", "it", "this", "that"])


def sentences(text: str) -> list[str]:
    return [s.strip(" .") + "." for s in _SENTENCE.split(text or "") if len(s.strip(" .")) > 1]


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-") or text[:limit]


def _value(value: Any) -> str:
    return ", ".join(part.strip() for part in str(value).split("|") if part.strip())


def _label(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def fact_lines(facts: Mapping[str, Any]) -> list[str]:
    """'Name: value' lines for every attribute and option, in the record's order."""
    lines = [f"{_label(k)}: {_value(v)}" for k, v in (facts.get("attributes") or {}).items() if _value(v)]
    for name, values in (facts.get("options") or {}).items():
        if values:
            lines.append(f"Available {name.lower()}s: {', '.join(map(str, values))}" if len(values) > 1
                         else f"{_label(name)}: {values[0]}")
    return lines


class OfflineGenerator:
    """Default generator: no network, no model, same output for the same record."""

    name = "offline@1"

    def write(self, facts: Mapping[str, Any], limits: Mapping[str, int]) -> GeneratedContent:
        title, vendor = str(facts.get("title") or "").strip(), str(facts.get("vendor") or "").strip()
        own = sentences(str(facts.get("description") or ""))
        lines = fact_lines(facts)
        intro = f"{title} by {vendor}." if vendor else f"{title}."
        body = " ".join(own) if own else " ".join([intro, *(f"{line}." for line in lines)])
        description = _cut(body, limits.get("description", 2000))

        seo_title = f"{title} | {vendor}" if vendor and len(title) + len(vendor) + 3 <= limits.get("seo_title", 70) \
            else _cut(title, limits.get("seo_title", 70))
        seo_description = _cut(" ".join(own[:2]) if own else " ".join([intro, *(f"{x}." for x in lines[:3])]),
                               limits.get("seo_description", 320))

        bullets: list[str] = []
        for candidate in [*lines, *own]:
            text = _cut(candidate.rstrip("."), limits.get("bullet", 500))
            if text and text not in bullets:
                bullets.append(text)
            if len(bullets) >= limits.get("bullets", 5):
                break
        if not bullets:
            bullets = [_cut(title, limits.get("bullet", 500))]

        keywords: list[str] = []
        sources = [title, str(facts.get("product_type") or ""), *map(str, facts.get("tags") or []),
                   *(_value(v) for v in (facts.get("attributes") or {}).values()),
                   *(str(v) for values in (facts.get("options") or {}).values() for v in values)]
        for word in _KEYWORD.findall(" ".join(sources).lower()):
            if word not in _STOP and word not in keywords and len(word) > 1:
                keywords.append(word)

        prices = list(facts.get("prices") or [])
        lead = own[0] if own else (f"{lines[0]}." if lines else intro)
        snippet = f"<h3>{html.escape(title)}</h3><p>{html.escape(_cut(lead, 300))}</p>"
        if prices:
            snippet += f"<p>Price from {html.escape(min(prices, key=_price_key))}</p>"
        return GeneratedContent(description=description, seo_title=seo_title, seo_description=seo_description,
                                bullets=tuple(bullets), keywords=tuple(keywords),
                                email_snippet=_cut(snippet, limits.get("email_snippet", 600)), generator=self.name)


def _price_key(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        return Decimal(0)
