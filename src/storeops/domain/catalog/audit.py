"""Data-quality audit of the canonical catalog, before any automation publishes it.

Kinds (a str enum, as error codes are per domain): missing SKU / barcode / weight,
duplicate SKU / barcode (across the whole catalog), price problems (zero or negative,
compare-at not above price, one option set priced differently across variants that
differ only by colour), empty description, missing media. Errors block publishing to the
channels that need the field; warnings are reported only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from storeops.domain.catalog.channels import amazon_blockers
from storeops.domain.catalog.records import ProductRecord

ERROR, WARNING = "error", "warning"


class IssueKind(StrEnum):
    MISSING_SKU = "missing_sku"
    DUPLICATE_SKU = "duplicate_sku"
    MISSING_BARCODE = "missing_barcode"
    DUPLICATE_BARCODE = "duplicate_barcode"
    MISSING_WEIGHT = "missing_weight"
    PRICE_NOT_POSITIVE = "price_not_positive"
    COMPARE_AT_NOT_ABOVE_PRICE = "compare_at_not_above_price"
    PRICE_INCONSISTENT = "price_inconsistent"
    EMPTY_DESCRIPTION = "empty_description"
    MISSING_MEDIA = "missing_media"
    NOT_LISTABLE_ON_AMAZON = "not_listable_on_amazon"


SEVERITY = {
    IssueKind.MISSING_SKU: ERROR, IssueKind.DUPLICATE_SKU: ERROR, IssueKind.MISSING_BARCODE: WARNING,
    IssueKind.DUPLICATE_BARCODE: ERROR, IssueKind.MISSING_WEIGHT: WARNING, IssueKind.PRICE_NOT_POSITIVE: ERROR,
    IssueKind.COMPARE_AT_NOT_ABOVE_PRICE: WARNING, IssueKind.PRICE_INCONSISTENT: WARNING,
    IssueKind.EMPTY_DESCRIPTION: WARNING, IssueKind.MISSING_MEDIA: WARNING,
    IssueKind.NOT_LISTABLE_ON_AMAZON: WARNING,
}


@dataclass(frozen=True)
class AuditIssue:
    kind: IssueKind
    handle: str
    message: str
    sku: str | None = None

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "severity": self.severity, "handle": self.handle, "sku": self.sku,
                "message": self.message}


@dataclass
class AuditReport:
    products: int
    variants: int
    issues: list[AuditIssue] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(str(i.kind) for i in self.issues).items()))

    @property
    def by_severity(self) -> dict[str, int]:
        found = Counter(i.severity for i in self.issues)
        return {ERROR: found[ERROR], WARNING: found[WARNING]}

    def for_product(self, handle: str) -> list[AuditIssue]:
        return [i for i in self.issues if i.handle == handle]

    def as_dict(self) -> dict[str, Any]:
        return {"products": self.products, "variants": self.variants, "counts": self.counts,
                "by_severity": self.by_severity, "issues": [i.as_dict() for i in self.issues]}


def audit(products: Iterable[ProductRecord]) -> AuditReport:
    products = list(products)
    report = AuditReport(products=len(products), variants=sum(len(p.variants) for p in products))
    add = report.issues.append
    skus: dict[str, list[str]] = defaultdict(list)
    barcodes: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for p in products:
        if not p.description.strip():
            add(AuditIssue(IssueKind.EMPTY_DESCRIPTION, p.handle, "the product has no description"))
        if not p.media:
            add(AuditIssue(IssueKind.MISSING_MEDIA, p.handle, "the product has no image"))
        for v in p.variants:
            label = v.sku or f"{p.handle} / {v.title}"
            if not v.sku:
                add(AuditIssue(IssueKind.MISSING_SKU, p.handle, f"variant {v.title!r} has no SKU"))
            else:
                skus[v.sku].append(p.handle)
            if not v.barcode:
                add(AuditIssue(IssueKind.MISSING_BARCODE, p.handle, f"{label} has no barcode", v.sku))
            else:
                barcodes[v.barcode].append((p.handle, v.sku))
            if not v.weight_grams:
                add(AuditIssue(IssueKind.MISSING_WEIGHT, p.handle, f"{label} has no weight", v.sku))
            if v.price <= 0:
                add(AuditIssue(IssueKind.PRICE_NOT_POSITIVE, p.handle, f"{label} is priced {v.price}", v.sku))
            if v.compare_at_price is not None and v.compare_at_price <= v.price:
                add(AuditIssue(IssueKind.COMPARE_AT_NOT_ABOVE_PRICE, p.handle,
                               f"{label}: compare-at {v.compare_at_price} is not above the price {v.price}", v.sku))
        _colour_prices(p, add)
        for reason in amazon_blockers(p):
            add(AuditIssue(IssueKind.NOT_LISTABLE_ON_AMAZON, p.handle, f"not listed on Amazon: {reason}"))
    for sku, handles in skus.items():
        if len(handles) > 1:
            for handle in sorted(set(handles)):
                add(AuditIssue(IssueKind.DUPLICATE_SKU, handle, f"SKU {sku} is used {len(handles)} times", sku))
    for code, owners in barcodes.items():
        if len(owners) > 1:
            for owner, owner_sku in owners:
                add(AuditIssue(IssueKind.DUPLICATE_BARCODE, owner,
                               f"barcode {code} is shared by {len(owners)} variants", owner_sku))
    return report


def _colour_prices(p: ProductRecord, add: Any) -> None:
    """Variants that differ only by colour should cost the same; a different price for one
    colour is usually a typo in the import (a warning: it can be on purpose)."""
    groups: dict[tuple[tuple[str, str], ...], set[Any]] = defaultdict(set)
    for v in p.variants:
        key = tuple(sorted((k, val) for k, val in v.options.items() if k not in ("color", "colour")))
        if len(key) != len(v.options):
            groups[key].add(v.price)
    for key, prices in groups.items():
        if len(prices) > 1:
            where = ", ".join(f"{k} {val}" for k, val in key) or "every variant"
            add(AuditIssue(IssueKind.PRICE_INCONSISTENT, p.handle,
                           f"{where}: colours are priced differently ({', '.join(sorted(map(str, prices)))})"))
