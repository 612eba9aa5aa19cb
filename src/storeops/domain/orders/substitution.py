"""Stock shortage: what to do when a warehouse is short of an ordered SKU. Pure functions.

The merchant's rules (stored per shop, see services.substitution_rules) are a small JSON:

    {"version": 3,
     "same_product_other_variant": false,   # default for every SKU
     "requires_consent": true,              # default: ask the customer before substituting
     "allow_partial": true,                 # ship what is there now, back-order the rest
     "variant_separator": "-",              # "MH01-XS-Orange" belongs to product "MH01"
     "skus": {"MH01-XS-Orange": {"substitutes": ["MH01-XS-Black"], "requires_consent": false,
                                 "same_product_other_variant": true}}}

plan_shortage(lines, stock, rules) decides, line by line: ship it (enough stock), substitute
it (the first listed substitute with stock, then, when allowed, another variant of the same
product with stock) or leave it short. The outcome for the order:

    consent      a substitution needs the customer's consent first (the exception waits)
    substitute   every line can ship now, some as substitutes
    partial      some lines ship now, the rest are back-ordered (allow_partial)
    backorder    nothing changes; the order waits in the warehouse for stock
    in_stock     every line has stock again (elsewhere): place it again as ordered
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from storeops.core.errors import InvalidInput

SHIP, SUBSTITUTE, SHORT = "ship", "substitute", "short"
CONSENT, SUBSTITUTED, PARTIAL, BACKORDER, IN_STOCK = "consent", "substitute", "partial", "backorder", "in_stock"

DEFAULT_RULES: dict[str, Any] = {"version": 0, "same_product_other_variant": False, "requires_consent": True,
                                 "allow_partial": False, "variant_separator": "-", "skus": {}}


@dataclass(frozen=True)
class SkuRule:
    substitutes: tuple[str, ...] = ()
    same_product_other_variant: bool = False
    requires_consent: bool = True


@dataclass(frozen=True)
class SubstitutionRules:
    version: int = 0
    same_product_other_variant: bool = False
    requires_consent: bool = True
    allow_partial: bool = False
    variant_separator: str = "-"
    skus: Mapping[str, SkuRule] = field(default_factory=dict)

    def for_sku(self, sku: str) -> SkuRule:
        return self.skus.get(sku) or SkuRule(same_product_other_variant=self.same_product_other_variant,
                                             requires_consent=self.requires_consent)

    def product_of(self, sku: str) -> str:
        return sku.split(self.variant_separator, 1)[0] if self.variant_separator else sku


def _flag(raw: Mapping[str, Any], name: str, default: bool, where: str) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}{name} must be true or false", field=name)
    return value


def parse_rules(raw: Mapping[str, Any] | None) -> SubstitutionRules:
    """Validate the merchant's JSON; a clear InvalidInput names the bad field."""
    raw = dict(DEFAULT_RULES if raw is None else raw)
    if not isinstance(raw.get("skus", {}), dict):
        raise InvalidInput("skus must be an object of SKU -> rule", field="skus")
    unknown = set(raw) - set(DEFAULT_RULES)
    if unknown:
        raise InvalidInput(f"unknown rule field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    version = raw.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise InvalidInput("version must be a whole number", field="version")
    separator = raw.get("variant_separator", "-")
    if not isinstance(separator, str):
        raise InvalidInput("variant_separator must be text", field="variant_separator")
    same = _flag(raw, "same_product_other_variant", False, "")
    consent = _flag(raw, "requires_consent", True, "")
    skus: dict[str, SkuRule] = {}
    for sku, rule in (raw.get("skus") or {}).items():
        if not isinstance(rule, dict):
            raise InvalidInput(f"skus.{sku} must be an object", field="skus")
        subs = rule.get("substitutes", [])
        if not isinstance(subs, list) or not all(isinstance(s, str) and s for s in subs):
            raise InvalidInput(f"skus.{sku}.substitutes must be a list of SKUs", field="substitutes")
        if sku in subs:
            raise InvalidInput(f"skus.{sku} cannot substitute itself", field="substitutes")
        extra = set(rule) - {"substitutes", "same_product_other_variant", "requires_consent"}
        if extra:
            raise InvalidInput(f"skus.{sku}: unknown field(s) {', '.join(sorted(extra))}", field="skus")
        skus[sku] = SkuRule(tuple(subs), _flag(rule, "same_product_other_variant", same, f"skus.{sku}."),
                            _flag(rule, "requires_consent", consent, f"skus.{sku}."))
    return SubstitutionRules(version=version, same_product_other_variant=same, requires_consent=consent,
                             allow_partial=_flag(raw, "allow_partial", False, ""), variant_separator=separator,
                             skus=skus)


@dataclass(frozen=True)
class PlannedLine:
    sku: str
    quantity: int
    action: str  # ship | substitute | short
    ship_sku: str | None  # what goes in the box (the substitute for "substitute"; None when short)
    needs_consent: bool = False
    source: str | None = None  # "listed" | "same_product" for substitutes

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "quantity": self.quantity, "action": self.action, "ship_sku": self.ship_sku,
                "needs_consent": self.needs_consent, "source": self.source}


@dataclass(frozen=True)
class ShortagePlan:
    outcome: str  # consent | substitute | partial | backorder
    lines: tuple[PlannedLine, ...]
    rule: str  # "substitution@<version>"
    reasons: tuple[str, ...] = ()

    @property
    def shippable(self) -> list[PlannedLine]:
        return [line for line in self.lines if line.ship_sku is not None]

    @property
    def short(self) -> list[PlannedLine]:
        return [line for line in self.lines if line.action == SHORT]

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "rule": self.rule, "reasons": list(self.reasons),
                "lines": [line.as_dict() for line in self.lines]}


def plan_shortage(lines: Sequence[tuple[str, int]], stock: Mapping[str, int],
                  rules: SubstitutionRules) -> ShortagePlan:
    """lines: (sku, quantity) as ordered; stock: fulfillable units per SKU (all warehouses)."""
    left = dict(stock)
    planned: list[PlannedLine] = []
    reasons: list[str] = []
    for sku, quantity in lines:
        if quantity <= 0:
            raise InvalidInput(f"line {sku}: quantity must be positive", field="quantity")
        if left.get(sku, 0) >= quantity:
            left[sku] -= quantity
            planned.append(PlannedLine(sku, quantity, SHIP, sku))
            continue
        rule = rules.for_sku(sku)
        candidates = [(s, "listed") for s in rule.substitutes]
        if rule.same_product_other_variant:
            product = rules.product_of(sku)
            candidates += [(s, "same_product") for s in sorted(left)
                           if s != sku and rules.product_of(s) == product and s not in rule.substitutes]
        chosen = next(((s, src) for s, src in candidates if left.get(s, 0) >= quantity), None)
        if chosen is None:
            planned.append(PlannedLine(sku, quantity, SHORT, None))
            reasons.append(f"{sku}: {left.get(sku, 0)} of {quantity} in stock and no substitute with stock")
            continue
        left[chosen[0]] -= quantity
        planned.append(PlannedLine(sku, quantity, SUBSTITUTE, chosen[0], rule.requires_consent, chosen[1]))
        reasons.append(f"{sku}: substitute {chosen[0]} ({chosen[1]})"
                       + (", customer consent required" if rule.requires_consent else ""))
    short = [p for p in planned if p.action == SHORT]
    ships = [p for p in planned if p.ship_sku is not None]
    if any(p.needs_consent for p in planned):
        outcome = CONSENT
    elif all(p.action == SHIP for p in planned):
        outcome = IN_STOCK
    elif not short:
        outcome = SUBSTITUTED
    elif ships and rules.allow_partial:
        outcome = PARTIAL
    else:
        outcome = BACKORDER
    return ShortagePlan(outcome, tuple(planned), f"substitution@{rules.version}", tuple(reasons))
