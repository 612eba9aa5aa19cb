"""Grounding check: which facts in a text the product record does not support.

A generated text may only state what the record says. Checked mechanically:
- every number (with or without a unit: "52", "12 oz", "100%") must appear among the
  record's own numbers (prices, weights, attribute values, the description...);
- every word from a lexicon of checkable claims (materials, colours, certifications,
  superlatives such as "best" or "premium") must appear in the record's own text.
Words outside the lexicon (connectives, "available", "in") carry no checkable fact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_NUMBER = re.compile(r"(?<![\w.#])\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z][a-z'\-]*")



def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MATERIALS = _words("""
cotton wool merino cashmere silk linen hemp polyester nylon spandex elastane lycra rayon viscose acrylic fleece
denim leather suede canvas rubber plastic silicone steel stainless aluminum aluminium titanium copper brass bronze
gold silver platinum sterling wood wooden bamboo oak walnut glass ceramic porcelain stone marble clay cork down
feather jersey velvet satin tweed corduroy microfiber mesh neoprene gore-tex kevlar carbon
""")
COLOURS = _words("""
black white red blue green yellow orange purple pink brown gray grey beige navy teal turquoise maroon burgundy
ivory cream gold silver khaki olive lavender violet magenta coral tan charcoal indigo
""")
CLAIMS = _words("""
best premium luxury luxurious finest superior ultimate perfect exclusive bestselling best-selling award-winning
top-rated #1 waterproof water-resistant windproof fireproof hypoallergenic antibacterial organic natural vegan
handmade handcrafted artisan eco-friendly sustainable recycled biodegradable certified guaranteed guarantee warranty
lifetime durable unbreakable breathable lightweight non-toxic bpa-free clinically proven patented official genuine
authentic imported
""")
LEXICON = MATERIALS | COLOURS | CLAIMS


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def _number(text: str) -> str:
    cleaned = text.replace(",", "")
    try:
        return format(Decimal(cleaned).normalize(), "f")
    except InvalidOperation:
        return cleaned


def _stem(word: str) -> str:
    word = word.strip("'-")
    for suffix in ("es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)]
    return word


def record_vocabulary(facts: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(words, numbers) the record states."""
    corpus = " ".join(_strings(facts)).lower()
    words = {_stem(w) for w in _WORD.findall(corpus)}
    words |= {w for w in _WORD.findall(corpus)}
    numbers = {_number(n) for n in _NUMBER.findall(corpus)}
    return words, numbers


def grounding_check(text: str, facts: Mapping[str, Any]) -> list[str]:
    """The facts `text` states that `facts` (a product's own values) does not; [] if grounded."""
    words, numbers = record_vocabulary(facts)
    unsupported: list[str] = []
    for raw in _NUMBER.findall(text):
        if _number(raw) not in numbers and raw not in unsupported:
            unsupported.append(raw)
    lowered = text.lower()
    for word in _WORD.findall(lowered):
        word = word.strip("'-")
        if (word in LEXICON or _stem(word) in LEXICON) and word not in words and _stem(word) not in words \
                and word not in unsupported:
            unsupported.append(word)
    if "#1" in lowered and "#1" not in " ".join(_strings(facts)).lower():
        unsupported.append("#1")
    return unsupported
