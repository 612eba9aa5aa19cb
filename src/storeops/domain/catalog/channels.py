"""Per-channel renditions compiled from the canonical record, each channel's rules, and diffs.

    render(product, channel, writer)  -> the fields that channel shows
    validate(channel, fields)         -> issues (empty: the channel accepts it)
    diff(old, new)                    -> changed fields, for the preview before publishing

The writer is any content generator (storeops.ai.content; flows pass one in): domain and
ai do not import each other, so the shape it must have is the Protocol below.

Channel rules, with their sources:
- Shopify: SEO title <= 70 and meta description <= 320 characters (what Shopify's admin
  counts and search engines show); title <= 255 (the product title limit).
- Amazon: Seller Central's limits, as the product-type definitions state them: item_name
  <= 200 characters, at most 5 bullet points of <= 500, description <= 2000, search terms
  (generic_keyword) < 250 bytes; brand, item_name, product_description and bullet_point
  required, and colour / size for apparel types (the sandbox's validation preview checks
  the same rules on the vendor side).
- Klaviyo catalog items: title, description and an absolute url are required; price >= 0.
- Email snippet: short enough for a product block (<= 600 characters), no template
  placeholders left.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from storeops.domain.catalog.records import ProductRecord, facts_of

CHANNELS = ("shopify", "amazon", "klaviyo", "email")
PUBLISHED_CHANNELS = ("shopify", "amazon", "klaviyo")

SHOPIFY_TITLE_MAX, SHOPIFY_SEO_TITLE_MAX, SHOPIFY_SEO_DESCRIPTION_MAX = 255, 70, 320
AMAZON_ITEM_NAME_MAX, AMAZON_BULLETS_MAX, AMAZON_BULLET_MAX = 200, 5, 500
AMAZON_DESCRIPTION_MAX, AMAZON_KEYWORDS_MAX_BYTES = 2000, 249
EMAIL_SNIPPET_MAX = 600

# Our product types -> Amazon product types (the same table the seller set up on Amazon).
AMAZON_PRODUCT_TYPES = {
    "Hoodies & Sweatshirts": "SWEATSHIRT", "Jackets": "COAT", "Tees": "SHIRT", "Tanks": "SHIRT",
    "Apparel": "SHIRT", "Pants": "PANTS", "Shorts": "SHORTS", "Bras & Tanks": "BRA",
    "Bags": "LUGGAGE", "Erin Recommends": "LUGGAGE", "New Luma Yoga Collection": "LUGGAGE",
    "Performance Fabrics": "LUGGAGE", "Fitness Equipment": "SPORTING_GOODS", "Watches": "WATCH",
    "Bracelet": "BRACELET", "Earrings": "EARRING", "Necklace": "NECKLACE", "Indoor": "HOME", "Outdoor": "HOME",
}
AMAZON_APPAREL = frozenset({"SHIRT", "PANTS", "SHORTS", "SWEATSHIRT", "COAT", "BRA"})
AMAZON_REQUIRED = ("brand", "product_description", "bullet_point")  # item_name: per listing


class Content(Protocol):
    """What a content generator writes for one product."""

    @property
    def description(self) -> str: ...
    @property
    def seo_title(self) -> str: ...
    @property
    def seo_description(self) -> str: ...
    @property
    def bullets(self) -> Sequence[str]: ...
    @property
    def keywords(self) -> Sequence[str]: ...
    @property
    def email_snippet(self) -> str: ...
    @property
    def generator(self) -> str: ...


class Writer(Protocol):
    def write(self, facts: Mapping[str, Any], limits: Mapping[str, int]) -> Content: ...


LIMITS = {"seo_title": SHOPIFY_SEO_TITLE_MAX, "seo_description": SHOPIFY_SEO_DESCRIPTION_MAX,
          "bullets": AMAZON_BULLETS_MAX, "bullet": AMAZON_BULLET_MAX, "description": AMAZON_DESCRIPTION_MAX,
          "keywords_bytes": AMAZON_KEYWORDS_MAX_BYTES, "email_snippet": EMAIL_SNIPPET_MAX}


def eligible_channels(product: ProductRecord) -> tuple[str, ...]:
    """The channels a product can have a rendition for. Amazon lists SKUs, so no SKU, no
    Amazon; apparel types need colour and size on every variant (the audit reports both)."""
    return tuple(c for c in CHANNELS if c != "amazon" or not amazon_blockers(product))


def amazon_blockers(product: ProductRecord) -> list[str]:
    """Why the product cannot be listed on Amazon as it stands ([] if it can)."""
    if not product.skus:
        return ["no variant has a SKU"]
    product_type = amazon_product_type(product)
    if product_type in AMAZON_APPAREL:
        lacking = [v.sku for v in product.variants if v.sku and not (
            (v.options.get("color") or v.options.get("colour")) and v.options.get("size"))]
        if lacking:
            return [f"{product_type} listings need color and size; {len(lacking)} variant(s) lack them"]
    return []


def amazon_product_type(product: ProductRecord) -> str:
    return AMAZON_PRODUCT_TYPES.get(product.product_type, "SPORTING_GOODS")


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary."""
    if len(text) <= limit:
        return text
    head = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return head or text[:limit]


def render_all(product: ProductRecord, writer: Writer,
               channels: Sequence[str] = CHANNELS) -> tuple[dict[str, dict[str, Any]], str]:
    """Every channel's fields from ONE generator call; returns (fields per channel, generator name)."""
    content = writer.write(facts_of(product), LIMITS)
    return {channel: compile_fields(product, channel, content) for channel in channels}, content.generator


def render(product: ProductRecord, channel: str, writer: Writer) -> dict[str, Any]:
    return compile_fields(product, channel, writer.write(facts_of(product), LIMITS))


def compile_fields(product: ProductRecord, channel: str, content: Content) -> dict[str, Any]:
    if channel == "shopify":
        bullets = "".join(f"<li>{html.escape(b)}</li>" for b in content.bullets)
        body = f"<p>{html.escape(content.description)}</p>" + (f"<ul>{bullets}</ul>" if bullets else "")
        return {"title": product.title[:SHOPIFY_TITLE_MAX], "descriptionHtml": body,
                "seo": {"title": content.seo_title, "description": content.seo_description}}
    if channel == "amazon":
        product_type = amazon_product_type(product)
        listings: dict[str, dict[str, Any]] = {}
        for v in product.variants:
            if not v.sku:
                continue  # no SKU, no listing (the audit reports it)
            suffix = "" if v.title == "Default Title" else f" - {v.title}"
            entry: dict[str, Any] = {"item_name": _cut(product.title, AMAZON_ITEM_NAME_MAX - len(suffix)) + suffix}
            colour, size = v.options.get("color") or v.options.get("colour"), v.options.get("size")
            if colour:
                entry["color"] = colour
            if size:
                entry["size"] = size
            listings[v.sku] = entry
        return {"product_type": product_type, "brand": product.vendor or "Generic",
                "bullet_point": [_cut(b, AMAZON_BULLET_MAX) for b in content.bullets][:AMAZON_BULLETS_MAX],
                "product_description": _cut(content.description, AMAZON_DESCRIPTION_MAX),
                "generic_keyword": _keywords(content.keywords), "listings": listings}
    if channel == "klaviyo":
        return {"external_id": product.external_id or product.handle, "title": product.title,
                "description": content.description, "url": f"{product.store_url}/products/{product.handle}",
                "price": str(product.min_price) if product.min_price is not None else None,
                "image_full_url": product.media[0] if product.media else None,
                "custom_metadata": {"handle": product.handle, "skus": product.skus,
                                    "email_snippet": content.email_snippet}}
    if channel == "email":
        return {"html": content.email_snippet}
    raise ValueError(f"unknown channel {channel!r}")


def _keywords(words: Sequence[str]) -> str:
    out: list[str] = []
    for word in words:
        candidate = " ".join([*out, word])
        if len(candidate.encode()) > AMAZON_KEYWORDS_MAX_BYTES:
            break
        out.append(word)
    return " ".join(out)


def validate(channel: str, fields: Mapping[str, Any]) -> list[dict[str, str]]:
    """The channel's rules; each issue is {"field", "message"}."""
    issues: list[dict[str, str]] = []

    def need(ok: bool, name: str, message: str) -> None:
        if not ok:
            issues.append({"field": name, "message": message})

    def text(name: str, value: Any, limit: int | None) -> None:
        need(isinstance(value, str) and bool(value.strip()), name, f"{name} is required")
        if isinstance(value, str) and limit is not None:
            need(len(value) <= limit, name, f"{name} has {len(value)} characters; the maximum is {limit}")

    if channel == "shopify":
        seo = fields.get("seo") or {}
        text("title", fields.get("title"), SHOPIFY_TITLE_MAX)
        text("descriptionHtml", fields.get("descriptionHtml"), None)
        text("seo.title", seo.get("title"), SHOPIFY_SEO_TITLE_MAX)
        text("seo.description", seo.get("description"), SHOPIFY_SEO_DESCRIPTION_MAX)
    elif channel == "amazon":
        for name in AMAZON_REQUIRED:
            need(bool(fields.get(name)), name, f"'{name}' is required but not supplied")
        bullets = fields.get("bullet_point") or []
        need(len(bullets) <= AMAZON_BULLETS_MAX, "bullet_point",
             f"bullet_point has {len(bullets)} values; the maximum is {AMAZON_BULLETS_MAX}")
        for b in bullets:
            text("bullet_point", b, AMAZON_BULLET_MAX)
        text("product_description", fields.get("product_description"), AMAZON_DESCRIPTION_MAX)
        keywords = str(fields.get("generic_keyword") or "")
        need(len(keywords.encode()) <= AMAZON_KEYWORDS_MAX_BYTES, "generic_keyword",
             f"generic_keyword has {len(keywords.encode())} bytes; the maximum is {AMAZON_KEYWORDS_MAX_BYTES}")
        apparel = fields.get("product_type") in AMAZON_APPAREL
        need(bool(fields.get("listings")), "listings", "no variant has a SKU: nothing to list")
        for sku, listing in (fields.get("listings") or {}).items():
            text(f"listings.{sku}.item_name", listing.get("item_name"), AMAZON_ITEM_NAME_MAX)
            if apparel:
                for name in ("color", "size"):
                    need(bool(listing.get(name)), f"listings.{sku}.{name}",
                         f"'{name}' is required for {fields.get('product_type')} but not supplied")
    elif channel == "klaviyo":
        text("title", fields.get("title"), None)
        text("description", fields.get("description"), None)
        need(str(fields.get("url") or "").startswith(("https://", "http://")), "url", "url must be absolute")
        need(fields.get("price") is None or not str(fields["price"]).startswith("-"), "price",
             "price must not be negative")
    elif channel == "email":
        body = str(fields.get("html") or "")
        text("html", body, EMAIL_SNIPPET_MAX)
        need("{{" not in body and "{%" not in body, "html", "the snippet has an unfilled placeholder")
    else:
        raise ValueError(f"unknown channel {channel!r}")
    return issues


def flatten(fields: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Changed leaf fields, sorted: [{"field", "old", "new"}] (old None: absent before)."""
    before, after = flatten(old or {}), flatten(new)
    return [{"field": name, "old": before.get(name), "new": after.get(name)}
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
