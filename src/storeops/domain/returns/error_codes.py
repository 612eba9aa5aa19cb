"""Why a return was rejected or sent to a person (str enum: serializes as itself)."""

from __future__ import annotations

from enum import StrEnum


class ReturnReasonCode(StrEnum):
    ORDER_CANCELLED = "order_cancelled"
    NOT_SHIPPED = "not_shipped"
    OUTSIDE_WINDOW = "outside_window"
    FINAL_SALE = "final_sale"
    QUANTITY_UNAVAILABLE = "quantity_unavailable"
    CONDITION_NEEDS_REVIEW = "condition_needs_review"
    RETURN_HISTORY = "return_history"
    HIGH_VALUE = "high_value"
    DECIDED_BY_PERSON = "decided_by_person"
