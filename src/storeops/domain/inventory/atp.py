"""Available-to-promise, allocation, coalescing and compare-and-set decisions: pure functions.

ATP of a channel at a location = what the channel may offer of the units that are on hand
and not promised to an open order:

    free      = max(0, on_hand - reserved)
    allocated = floor(free * share_pct / 100)       allocation: the channel's share of the pool
    atp       = max(0, allocated - safety_buffer)   a buffer held back for counting errors,
                                                    orders in flight, damaged units
    atp       = 0 if atp < floor                    a floor: below it the channel shows none
                                                    (a listing with 1 unit left oversells)

Shopify shows stock per location (one Shopify location per ShipBob FC), Amazon one number
per SKU (the sum over locations, each location computed as above).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True)
class Policy:
    safety_buffer: int = 0
    floor: int = 0
    share_pct: int = 100

    def __post_init__(self) -> None:
        if self.safety_buffer < 0 or self.floor < 0:
            raise ValueError("safety buffer and floor cannot be negative")
        if not 0 <= self.share_pct <= 100:
            raise ValueError("share_pct must be between 0 and 100")


DEFAULT_POLICY = Policy()


def atp(on_hand: int, reserved: int, policy: Policy = DEFAULT_POLICY) -> int:
    """What one channel may offer at one location."""
    free = max(0, on_hand - reserved)
    allocated = free * policy.share_pct // 100
    offered = max(0, allocated - policy.safety_buffer)
    return 0 if offered < policy.floor else offered


def atp_by_channel(on_hand: int, reserved: int, policies: Mapping[str, Policy]) -> dict[str, int]:
    """ATP per channel for one (SKU, location)."""
    return {channel: atp(on_hand, reserved, policy) for channel, policy in policies.items()}


def channel_targets(on_hand: Mapping[str, int], reserved: Mapping[str, int],
                    policies: Mapping[str, Policy]) -> dict[tuple[str, str], int]:
    """Targets of one SKU: {("shopify", location): n, ..., ("amazon", ""): total}.

    `on_hand` and `reserved` are by location. Amazon's number is the sum of its per-location
    ATP, so the buffer and floor apply where the units are."""
    out: dict[tuple[str, str], int] = {}
    locations = sorted(set(on_hand) | set(reserved))
    for channel, policy in policies.items():
        per_location = {loc: atp(on_hand.get(loc, 0), reserved.get(loc, 0), policy) for loc in locations}
        if channel == "amazon":
            out[(channel, "")] = sum(per_location.values())
        else:
            out.update({(channel, loc): qty for loc, qty in per_location.items()})
    return out


def oversold(on_hand: int, reserved: int) -> int:
    """Units promised beyond what is on hand (0 when all is well)."""
    return max(0, reserved - on_hand)


@dataclass(frozen=True)
class StockChange:
    sku: str
    location: str
    on_hand: int
    stamp: str  # ISO-8601 UTC: changes compare by it (newer wins)


def coalesce(changes: Iterable[StockChange]) -> dict[tuple[str, str], StockChange]:
    """A burst of changes -> the latest per (SKU, location): one push per SKU, not per change.

    Equal stamps: the later one in the burst wins (the order it was read in)."""
    latest: dict[tuple[str, str], StockChange] = {}
    for change in changes:
        key = (change.sku, change.location)
        held = latest.get(key)
        if held is None or change.stamp >= held.stamp:
            latest[key] = change
    return latest


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items (Shopify: 250 quantities per call)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass(frozen=True)
class Resolution:
    """What to do with a channel level whose compare-and-set failed."""

    quantity: int | None  # the quantity to set, None: leave the channel as it is
    compare: int  # the channel's current quantity: the next compare-and-set expects it
    reason: str


def resolve_conflict(target: int, last_seen: int | None, current: int) -> Resolution:
    """The channel holds `current`, not `last_seen` as we expected: someone else changed it.

    - already at the target: nothing to write;
    - lower than we left it: the channel sold (or someone removed) units we may not have
      reserved yet, so never raise it above what it shows now: min(target, current);
      the next push, once the order reached us, converges;
    - higher than we left it: units appeared there (a manual edit, a restock) that the
      truth does not know: the truth wins, set the target.
    """
    if current == target:
        return Resolution(None, current, "already_at_target")
    if last_seen is not None and current < last_seen:
        quantity = min(target, current)
        if quantity == current:
            return Resolution(None, current, "channel_lower_kept")
        return Resolution(quantity, current, "channel_lower_capped")
    return Resolution(target, current, "truth_wins")


def low_stock(total_atp: int, threshold: int) -> bool:
    return threshold > 0 and total_atp <= threshold
