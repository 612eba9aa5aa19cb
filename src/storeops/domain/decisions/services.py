"""Modes per shop and decision records. Every call takes the caller's session (its transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeops.core.errors import InvalidInput
from storeops.domain.decisions.models import LIVE, MODES, OFF, AutomationMode, DecisionRecord

# Every automation a shop can switch (off / shadow / live), and its mode until the shop does.
# inventory_sync is opt-in: its polling spends the shop's ShipBob API quota.
DEFAULT_MODES: dict[str, str] = {"order_routing": LIVE, "returns": LIVE, "inventory_sync": OFF,
                                 "catalog_publish": LIVE, "support_replies": LIVE}


def mode_for(session: Session, shop_id: str, automation: str) -> str:
    """The automation's mode for the shop, read once per transaction: the inbox handles a
    batch of events in one, and every order event asked again (~4% of a saturated worker's
    CPU). A mode set in another transaction applies from this one's end."""
    cache: dict[tuple[str, str], str] = session.info.setdefault("automation_modes", {})
    if (shop_id, automation) not in cache:
        row = session.scalar(select(AutomationMode).where(AutomationMode.shop_id == shop_id,
                                                          AutomationMode.automation == automation))
        cache[(shop_id, automation)] = row.mode if row is not None else DEFAULT_MODES.get(automation, LIVE)
    return cache[(shop_id, automation)]


def modes(session: Session, shop_id: str) -> dict[str, str]:
    return {name: mode_for(session, shop_id, name) for name in DEFAULT_MODES}


def set_mode(session: Session, shop_id: str, automation: str, mode: str) -> None:
    if automation not in DEFAULT_MODES:
        raise InvalidInput(f"no automation named {automation!r}", field="automation")
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}", field="mode")
    row = session.scalar(select(AutomationMode).where(AutomationMode.shop_id == shop_id,
                                                      AutomationMode.automation == automation))
    if row is None:
        session.add(AutomationMode(shop_id=shop_id, automation=automation, mode=mode))
    else:
        row.mode = mode
    session.info.setdefault("automation_modes", {})[(shop_id, automation)] = mode


def record(session: Session, shop_id: str, *, subject: str, automation: str, mode: str,
           inputs: dict[str, Any], rules: list[str], outputs: dict[str, Any],
           intended_actions: list[dict[str, Any]], actions_taken: list[dict[str, Any]],
           cause: str | None) -> DecisionRecord:
    row = DecisionRecord(shop_id=shop_id, subject=subject, automation=automation, mode=mode, inputs=inputs,
                         rules=rules, outputs=outputs, intended_actions=intended_actions,
                         actions_taken=actions_taken, cause=cause)
    session.add(row)
    session.flush()
    return row


def for_subject(session: Session, subject: str) -> list[DecisionRecord]:
    return list(session.scalars(select(DecisionRecord).where(DecisionRecord.subject == subject)
                                .order_by(DecisionRecord.id)))


def note_emitted_result(session: Session, payload: dict[str, Any], key: str, result: dict[str, Any],
                        status: str = "done") -> None:
    """An outbox action's outcome, on the decision named in its payload (engine.outbox's
    emit_actions puts `decision_id` there); nothing when the payload names none."""
    if payload.get("decision_id") is not None:
        note_action_result(session, int(payload["decision_id"]), key, status, result)


def note_action_result(session: Session, decision_id: int, key: str, status: str, result: dict[str, Any]) -> None:
    """Record an action's outcome on the decision that emitted it.

    A decision's actions finish in parallel (one queue per vendor) and each rewrites the
    JSON list, so the row is locked first (FOR UPDATE; SQLite has one writer anyway) or
    one outcome would overwrite another."""
    row = session.scalar(select(DecisionRecord).where(DecisionRecord.id == decision_id).with_for_update())
    if row is None:
        return
    taken = [dict(a) for a in row.actions_taken]
    for entry in taken:
        if entry.get("key") == key:
            entry["status"], entry["result"] = status, result
    row.actions_taken = taken
