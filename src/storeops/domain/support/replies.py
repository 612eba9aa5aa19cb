"""Reply templates per routine intent, filled only from the customer's record.

A template receives the record, the shop's policy and the one order the ticket is
about (an order of this customer, never one named only by the message). Nothing from
the message text is copied into a reply. Each reply lists the facts it used, so the
decision record shows where every number came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storeops.domain.support.policy import SupportPolicy
from storeops.domain.support.records import CustomerRecord, OrderFact

SIGN_OFF = "Best regards,\nCustomer support"


@dataclass(frozen=True)
class ComposedReply:
    template: str
    body: str
    facts: dict[str, str] = field(default_factory=dict)
    promises: str | None = None  # an action the reply promises: cancel_order | change_address | start_return

    def as_dict(self) -> dict[str, object]:
        return {"template": self.template, "body": self.body, "facts": dict(self.facts), "promises": self.promises}


def _hello(record: CustomerRecord) -> str:
    name = (record.first_name or "").strip()
    # A name is shown only if it is plain letters: it came from the shop, but keep it tame.
    return f"Hi {name}," if name and all(ch.isalpha() or ch in " -'" for ch in name) and len(name) <= 40 else "Hi,"


def _money(order: OrderFact) -> str:
    return f"{order.total:.2f} {order.currency}"


def _tracking_lines(order: OrderFact, facts: dict[str, str]) -> list[str]:
    lines = []
    if order.tracking_number:
        carrier = f" ({order.tracking_company})" if order.tracking_company else ""
        lines.append(f"Tracking number: {order.tracking_number}{carrier}")
        facts["tracking_number"] = order.tracking_number
    if order.tracking_url:
        lines.append(f"Track it here: {order.tracking_url}")
        facts["tracking_url"] = order.tracking_url
    return lines


def order_status(record: CustomerRecord, policy: SupportPolicy, order: OrderFact) -> ComposedReply:
    facts = {"order": order.number}
    if order.cancelled:
        lines = [f"Order {order.number} was cancelled, so it will not ship."]
    elif order.status == "delivered":
        lines = [f"Good news: order {order.number} has been delivered.", *_tracking_lines(order, facts),
                 "If anything is wrong with it, just reply to this email."]
    elif order.shipped:
        lines = [f"Order {order.number} is on its way.", *_tracking_lines(order, facts)]
    else:
        facts["placed_on"] = order.placed_at.date().isoformat()
        lines = [f"Order {order.number}, placed on {facts['placed_on']}, is being prepared and has not shipped yet.",
                 "You will get an email with the tracking number as soon as it ships."]
    return ComposedReply("order_status", "\n".join([_hello(record), "", *lines, "", SIGN_OFF]), facts)


def return_policy(record: CustomerRecord, policy: SupportPolicy, order: OrderFact | None,
                  *, start_return: bool = False) -> ComposedReply:
    facts: dict[str, str] = {"return_window_days": str(policy.return_window_days)}
    lines = [f"You can return items within {policy.return_window_days} days of delivery, unworn and in their "
             "original packaging; the refund goes back to your original payment method once we receive them."]
    if policy.return_policy_url:
        lines.append(f"The full policy: {policy.return_policy_url}")
        facts["policy_url"] = policy.return_policy_url
    promises = None
    if start_return and order is not None:
        facts["order"] = order.number
        lines.append(f"We have started a return for order {order.number}; you will get an email with the "
                     "return label and instructions.")
        promises = "start_return"
    return ComposedReply("return_policy", "\n".join([_hello(record), "", *lines, "", SIGN_OFF]), facts, promises)


def cancellation(record: CustomerRecord, policy: SupportPolicy, order: OrderFact) -> ComposedReply:
    facts = {"order": order.number}
    promises = None
    if order.cancelled:
        lines = [f"Order {order.number} is already cancelled; there is nothing more you need to do."]
    elif order.shipped:
        lines = [f"Order {order.number} has already shipped, so it can no longer be cancelled.",
                 *_tracking_lines(order, facts),
                 f"Once it arrives you can return it within {policy.return_window_days} days of delivery."]
    else:
        lines = [f"We have asked for order {order.number} to be cancelled before it ships. You will get a "
                 "confirmation email once it is done."]
        promises = "cancel_order"
    return ComposedReply("cancellation", "\n".join([_hello(record), "", *lines, "", SIGN_OFF]), facts, promises)


def address_change(record: CustomerRecord, policy: SupportPolicy, order: OrderFact) -> ComposedReply:
    facts = {"order": order.number}
    promises = None
    if order.shipped:
        lines = [f"Order {order.number} has already shipped, so its delivery address can no longer be changed.",
                 *_tracking_lines(order, facts),
                 "The carrier's tracking page may let you redirect the parcel."]
    else:
        lines = [f"We have asked for the delivery address of order {order.number} to be updated before it "
                 "ships. You will get a confirmation email once it is done."]
        promises = "change_address"
    return ComposedReply("address_change", "\n".join([_hello(record), "", *lines, "", SIGN_OFF]), facts, promises)


def invoice(record: CustomerRecord, policy: SupportPolicy, order: OrderFact) -> ComposedReply:
    facts = {"order": order.number, "placed_on": order.placed_at.date().isoformat(), "total": _money(order),
             "email": record.email}
    lines = [f"Order {order.number} was placed on {facts['placed_on']} for {facts['total']}.",
             f"Its invoice is in the order confirmation email we sent to {record.email}. Reply to this message "
             "if you need it again and a colleague will send it as a PDF."]
    return ComposedReply("invoice", "\n".join([_hello(record), "", *lines, "", SIGN_OFF]), facts)


def substitution_consent(record: CustomerRecord, policy: SupportPolicy, order: OrderFact,
                         approved: bool) -> ComposedReply:
    """The answer to a customer who said yes or no to the substitute we offered for their order
    (the order flow has already carried out what it says)."""
    facts = {"order": order.number}
    if approved:
        lines = [f"Thank you for letting us know. We will ship order {order.number} with the substitute item "
                 "we offered, and you will get an email with the tracking number as soon as it ships."]
    else:
        lines = [f"Thank you for letting us know. We will not send a substitute: order {order.number} will wait "
                 "for the item to be back in stock, and you will get an email as soon as it ships."]
    return ComposedReply("substitution_consent", "\n".join([_hello(record), "", *lines, "", SIGN_OFF]), facts)
