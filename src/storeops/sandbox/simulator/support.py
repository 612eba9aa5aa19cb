"""What shoppers write to support, taken from the shipped Bitext sample.

src/storeops/sandbox/data/support_messages.json (scripts/build_support_sample.py) holds a
few hundred Bitext utterances over its 27 intents, licensed CDLA-Sharing-1.0 (attribution
and licence text in the file). The utterances name no order: where a message is about an
order, the shopper's real Shopify order number is substituted for an {{Order Number}}
placeholder if the text has one, and otherwise added the way customers add it (a subject
line and an "Order number:" line), so tickets can be matched to orders.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

# How often each intent is written, per 100 spontaneous messages. Order-status questions
# dominate a store's inbox ("where is my order" is the most common ticket reason in
# Gorgias's and Zendesk's e-commerce benchmarks); account chores are rare.
INTENT_WEIGHTS: dict[str, int] = {
    "track_order": 18, "delivery_period": 6, "change_order": 5, "cancel_order": 5, "get_refund": 5,
    "change_shipping_address": 4, "delivery_options": 4, "payment_issue": 4, "complaint": 4,
    "check_refund_policy": 4, "review": 3, "get_invoice": 3, "contact_customer_service": 3,
    "contact_human_agent": 3, "check_invoice": 2, "track_refund": 2, "check_payment_methods": 2,
    "place_order": 2, "create_account": 2, "recover_password": 2, "newsletter_subscription": 2,
    "check_cancellation_fee": 1, "delete_account": 1, "edit_account": 1, "registration_problems": 1,
    "switch_account": 1, "set_up_shipping_address": 1,
}
# Intents that are about one order the shopper placed: they cite its number.
ORDER_INTENTS = frozenset({"track_order", "delivery_period", "change_order", "cancel_order", "get_refund",
                           "change_shipping_address", "complaint", "review", "get_invoice", "check_invoice",
                           "track_refund"})
# Intents a visitor who never bought may write.
PROSPECT_INTENTS = frozenset({"delivery_options", "check_payment_methods", "place_order", "create_account",
                              "check_refund_policy", "newsletter_subscription", "registration_problems",
                              "contact_customer_service"})
SUBJECTS: dict[str, str] = {
    "track_order": "Where is my order {order}?", "delivery_period": "When will order {order} arrive?",
    "change_order": "Change to order {order}", "cancel_order": "Cancel order {order}",
    "get_refund": "Return and refund for order {order}", "change_shipping_address": "New address for order {order}",
    "complaint": "Complaint about order {order}", "review": "My order {order}", "get_invoice": "Invoice for {order}",
    "check_invoice": "Invoice question, order {order}", "track_refund": "Refund status for {order}",
    "payment_issue": "Payment problem", "delivery_options": "Shipping options",
    "check_payment_methods": "Payment methods", "check_refund_policy": "Return policy",
    "check_cancellation_fee": "Cancellation fee", "place_order": "Placing an order",
    "newsletter_subscription": "Newsletter", "contact_customer_service": "Question",
    "contact_human_agent": "Talk to a person",
}
CHANNELS = ("email", "email", "email", "chat", "contact_form")
_PLACEHOLDER = re.compile(r"\{\{\s*order[ _-]?(number|id)\s*\}\}", re.IGNORECASE)


@dataclass(frozen=True)
class Utterance:
    id: str
    intent: str
    category: str
    text: str


@lru_cache(maxsize=1)
def load_sample() -> dict[str, Any]:
    raw = resources.files("storeops.sandbox").joinpath("data/support_messages.json").read_text(encoding="utf-8")
    return json.loads(raw)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def utterances_by_intent() -> dict[str, tuple[Utterance, ...]]:
    grouped: dict[str, list[Utterance]] = {}
    for row in load_sample()["messages"]:
        grouped.setdefault(row["intent"], []).append(
            Utterance(row["id"], row["intent"], row["category"], row["text"]))
    return {intent: tuple(rows) for intent, rows in sorted(grouped.items())}


def pick_intent(rng: random.Random, *, has_order: bool) -> str:
    intents = [i for i in sorted(INTENT_WEIGHTS) if has_order or i not in ORDER_INTENTS]
    return rng.choices(intents, weights=[INTENT_WEIGHTS[i] for i in intents])[0]


def compose(rng: random.Random, intent: str, *, name: str, order: str | None) -> dict[str, Any]:
    """The body of Gorgias's POST /_sandbox/customer-message, minus the customer, plus
    `intent` and `utterance_id` for the simulator's own records."""
    utterance = rng.choice(utterances_by_intent()[intent])
    text = utterance.text
    if order is not None:
        cited = _PLACEHOLDER.sub(order, text)
        text = cited if cited != text else f"{text}\n\nOrder number: {order}"
    if rng.random() < 0.6:  # most people sign their emails, chat users rarely
        text = f"{text}\n\n{name.split(' ')[0]}"
    subject = SUBJECTS.get(intent, "Question about my account").format(order=order or "").replace("  ", " ")
    return {"subject": subject.strip(), "body": text, "channel": rng.choice(CHANNELS), "intent": intent,
            "utterance_id": utterance.id}
