"""The return policy and refund math: pure functions, exact Decimal amounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from storeops.core.errors import InvalidInput
from storeops.domain.returns.policy import (
    OrderLineFacts,
    OrderSnapshot,
    RequestedLine,
    ReturnHistory,
    ReturnPolicy,
    check_eligibility,
    quote_refund,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
D = Decimal


def order(*, shipped_days_ago: float | None = 5, delivered_days_ago: float | None = None, tags: tuple[str, ...] = (),
          returned: int = 0, extra: str = "7.50", cancelled: bool = False) -> OrderSnapshot:
    return OrderSnapshot(
        order_id="1001",
        lines=(OrderLineFacts("11", "TEE-M", 2, D("19.99"), returned=returned),
               OrderLineFacts("12", "MUG", 1, D("12.50"), tags=("final-sale",) if "line-final" in tags else ())),
        ordered_at=NOW - timedelta(days=40),
        shipped_at=None if shipped_days_ago is None else NOW - timedelta(days=shipped_days_ago),
        delivered_at=None if delivered_days_ago is None else NOW - timedelta(days=delivered_days_ago),
        tags=tuple(t for t in tags if t != "line-final"), extra_charges=D(extra), cancelled=cancelled)


def check(snapshot: OrderSnapshot, lines: list[RequestedLine], reason: str = "size_too_small",
          condition: str = "unopened", policy: ReturnPolicy | None = None,
          history: ReturnHistory | None = None) -> tuple[str, list[str]]:
    verdict = check_eligibility(policy or ReturnPolicy(), snapshot, lines, reason, condition,
                                history or ReturnHistory(), NOW)
    return verdict.outcome, [str(r.code) for r in verdict.reasons]


def test_inside_the_window_is_approved() -> None:
    assert check(order(), [RequestedLine("11", 1)]) == ("approved", [])


def test_the_window_counts_from_delivery_when_known_else_shipment() -> None:
    assert check(order(shipped_days_ago=31), [RequestedLine("11", 1)]) == ("rejected", ["outside_window"])
    # shipped 31 days ago but delivered 25 days ago: still inside a 30-day window
    assert check(order(shipped_days_ago=31, delivered_days_ago=25), [RequestedLine("11", 1)])[0] == "approved"
    assert check(order(shipped_days_ago=29.9), [RequestedLine("11", 1)])[0] == "approved"
    longer = ReturnPolicy(window_days=60)
    assert check(order(shipped_days_ago=45), [RequestedLine("11", 1)], policy=longer)[0] == "approved"
    verdict = check_eligibility(ReturnPolicy(), order(shipped_days_ago=31), [RequestedLine("11", 1)],
                                "unwanted", "unopened", ReturnHistory(), NOW)
    assert "30-day return window after shipment ended on 2026-11-26" in verdict.reasons[0].message


def test_unshipped_and_cancelled_orders_are_not_returns() -> None:
    assert check(order(shipped_days_ago=None), [RequestedLine("11", 1)]) == ("rejected", ["not_shipped"])
    assert check(order(cancelled=True), [RequestedLine("11", 1)]) == ("rejected", ["order_cancelled"])


def test_final_sale_by_order_tag_line_tag_or_sku() -> None:
    assert check(order(tags=("Final-Sale",)), [RequestedLine("11", 1)]) == ("rejected", ["final_sale"])
    assert check(order(tags=("line-final",)), [RequestedLine("12", 1)]) == ("rejected", ["final_sale"])
    assert check(order(tags=("line-final",)), [RequestedLine("11", 1)])[0] == "approved"  # other line is fine
    by_sku = ReturnPolicy(final_sale_skus=("MUG",))
    assert check(order(), [RequestedLine("12", 1)], policy=by_sku) == ("rejected", ["final_sale"])


def test_every_reason_is_kept_and_rejection_wins_over_review() -> None:
    outcome, codes = check(order(shipped_days_ago=40, tags=("final-sale",)), [RequestedLine("11", 1)],
                           condition="damaged")
    assert outcome == "rejected" and codes == ["outside_window", "final_sale", "condition_needs_review"]


def test_units_already_returned_cannot_come_back_twice() -> None:
    assert check(order(returned=1), [RequestedLine("11", 1)])[0] == "approved"
    assert check(order(returned=2), [RequestedLine("11", 1)]) == ("rejected", ["quantity_unavailable"])
    assert check(order(), [RequestedLine("11", 3)]) == ("rejected", ["quantity_unavailable"])


def test_conditions_and_history_send_it_to_a_person() -> None:
    assert check(order(), [RequestedLine("11", 1)], condition="used") == ("needs_review", ["condition_needs_review"])
    recent = ReturnHistory(requested_at=(NOW - timedelta(days=10), NOW - timedelta(days=50), NOW - timedelta(days=80)))
    assert check(order(), [RequestedLine("11", 1)], history=recent) == ("needs_review", ["return_history"])
    old = ReturnHistory(requested_at=(NOW - timedelta(days=100), NOW - timedelta(days=200), NOW - timedelta(days=10)))
    assert check(order(), [RequestedLine("11", 1)], history=old)[0] == "approved"  # only 1 inside 90 days
    strict = ReturnPolicy(max_returns=1)
    assert check(order(), [RequestedLine("11", 1)], policy=strict, history=old)[0] == "needs_review"


def test_a_refund_above_the_review_limit_goes_to_a_person() -> None:
    low = ReturnPolicy(review_above=D("30"))
    assert check(order(), [RequestedLine("11", 2)], policy=low) == ("needs_review", ["high_value"])
    assert check(order(), [RequestedLine("11", 1)], policy=low)[0] == "approved"


def test_bad_input_is_an_error_not_a_verdict() -> None:
    with pytest.raises(InvalidInput, match="reason must be one of"):
        check(order(), [RequestedLine("11", 1)], reason="meh")
    with pytest.raises(InvalidInput, match="condition must be one of"):
        check(order(), [RequestedLine("11", 1)], condition="shiny")
    with pytest.raises(InvalidInput, match="at least one line"):
        check(order(), [])
    with pytest.raises(InvalidInput, match="has no line '99'"):
        check(order(), [RequestedLine("99", 1)])
    with pytest.raises(InvalidInput, match="at least 1"):
        check(order(), [RequestedLine("11", 0)])
    with pytest.raises(InvalidInput, match="listed twice"):
        check(order(), [RequestedLine("11", 1), RequestedLine("11", 1)])


# --- refund math -------------------------------------------------------------------------


def test_partial_return_refunds_the_units_less_the_reason_fee() -> None:
    quote = quote_refund(ReturnPolicy(), order(), [RequestedLine("11", 1)], "unwanted")
    # 19.99 goods, 10% fee for "unwanted" = 1.999 -> 2.00 (half-up), no shipping on a partial return
    assert (quote.subtotal, quote.restocking_fee, quote.shipping, quote.total) == (D("19.99"), D("2.00"), D("0"),
                                                                                    D("17.99"))
    assert not quote.full_return and [(li.line_id, li.quantity, li.amount) for li in quote.lines] == [
        ("11", 1, D("19.99"))]


def test_no_fee_for_a_size_exchange_reason() -> None:
    quote = quote_refund(ReturnPolicy(), order(), [RequestedLine("11", 2)], "size_too_small")
    assert (quote.subtotal, quote.restocking_fee, quote.total) == (D("39.98"), D("0"), D("39.98"))


def test_full_return_for_our_fault_refunds_shipping_too() -> None:
    lines = [RequestedLine("11", 2), RequestedLine("12", 1)]
    quote = quote_refund(ReturnPolicy(), order(), lines, "defective")
    assert quote.full_return and (quote.subtotal, quote.shipping, quote.total) == (D("52.48"), D("7.50"), D("59.98"))
    # the customer changed their mind: goods less 10%, shipping kept
    mind = quote_refund(ReturnPolicy(), order(), lines, "unwanted")
    assert (mind.restocking_fee, mind.shipping, mind.total) == (D("5.25"), D("0"), D("47.23"))
    # what is left after an earlier return counts as "everything"
    rest = quote_refund(ReturnPolicy(), order(returned=1), [RequestedLine("11", 1), RequestedLine("12", 1)],
                        "wrong_item")
    assert rest.full_return and rest.shipping == D("7.50") and rest.total == D("39.99")


def test_percent_and_fixed_fees_combine_and_never_exceed_the_goods() -> None:
    policy = ReturnPolicy.from_json({"restocking_fee_percent": {"unwanted": "15"},
                                     "restocking_fee_fixed": {"unwanted": "4.00", "*": "1.25"}})
    quote = quote_refund(policy, order(), [RequestedLine("11", 2)], "unwanted")
    assert (quote.restocking_fee, quote.total) == (D("10.00"), D("29.98"))  # 5.997 -> 6.00, + 4.00
    other = quote_refund(policy, order(), [RequestedLine("12", 1)], "style")
    assert (other.restocking_fee, other.total) == (D("1.25"), D("11.25"))  # "*" fixed fee only
    steep = ReturnPolicy.from_json({"restocking_fee_fixed": {"unwanted": "50"}})
    capped = quote_refund(steep, order(), [RequestedLine("12", 1)], "unwanted")
    assert (capped.restocking_fee, capped.total) == (D("12.50"), D("0.00"))


def test_amounts_are_decimals_never_floats() -> None:
    quote = quote_refund(ReturnPolicy(), order(), [RequestedLine("11", 1)], "unwanted")
    assert all(isinstance(v, Decimal) for v in (quote.subtotal, quote.restocking_fee, quote.shipping, quote.total))
    assert quote.as_json()["total"] == "17.99"


# --- the stored policy -------------------------------------------------------------------


def test_policy_round_trips_through_json_and_keeps_defaults() -> None:
    policy = ReturnPolicy.from_json({"window_days": 14, "final_sale_skus": ["Clearance-1"],
                                     "review_above": None})
    assert policy.window_days == 14 and policy.final_sale_skus == ("Clearance-1",) and policy.review_above is None
    assert policy.max_returns == ReturnPolicy().max_returns
    assert ReturnPolicy.from_json(policy.as_json()) == policy
    assert ReturnPolicy.from_json(None) == ReturnPolicy()


@pytest.mark.parametrize(("data", "message"), [
    ({"window": 3}, "unknown return policy settings: window"),
    ({"window_days": -1}, "window_days must be a whole number of at least 0"),
    ({"window_days": 1.5}, "window_days must be a whole number"),
    ({"restocking_fee_percent": {"unwanted": "abc"}}, "must be a decimal amount"),
    ({"restocking_fee_percent": {"unwanted": "120"}}, "cannot exceed 100"),
    ({"restocking_fee_fixed": {"whim": "5"}}, "unknown return reason 'whim'"),
    ({"restocking_fee_fixed": {"unwanted": "-5"}}, "non-negative"),
    ({"max_returns": 0}, "max_returns must be a whole number of at least 1"),
    ({"final_sale_tags": "final-sale"}, "must be a list of strings"),
])
def test_bad_policy_settings_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        ReturnPolicy.from_json(data)
