"""The Gorgias sidebar (customer 360 through a real HTTP integration) and the SLA sweep."""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import select

from flows.test_order_flow import checkout, stored_order, wait_for
from flows.test_support_flow import gorgias_ticket, write_in
from storeops.connectors.gorgias.client import GorgiasClient
from storeops.core.clock import utcnow
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.support.models import SupportTicket
from storeops.engine.models import OutboxMessage
from storeops.flows import support
from storeops.flows.demo import connector_for
from storeops.flows.runtime import Worker

from conftest import LiveServer


def test_the_sidebar_shows_the_customers_360_from_storeops(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker,
        live_app: LiveServer) -> None:
    [placed] = checkout(sandboxes, {"customer": {"email": "side@example.com", "first_name": "Sid"}})
    wait_for(lambda: stored_order(db, shop, placed["order_id"]), "order stored")
    with db.session(shop) as session:
        token = support.widget_token(session, box, shop)
    assert token
    url = f"{live_app.url}/integrations/gorgias/customer?shop=demo.myshopify.com"
    with closing(connector_for(db, box, shop, "gorgias")) as client:
        first = support.ensure_sidebar(cast(GorgiasClient, client), url, token)
        again = support.ensure_sidebar(cast(GorgiasClient, client), url, token)  # idempotent
        assert first["id"] == again["id"]
        assert sum(1 for i in cast(GorgiasClient, client).list_integrations()
                   if i["name"] == support.SIDEBAR_NAME) == 1
    created = write_in(sandboxes, "side@example.com", "Hello", "Where is my order?")

    def sidebar() -> dict[str, Any] | None:
        ticket = gorgias_ticket(sandboxes, created["ticket_id"])
        return next((w for w in ticket["sidebar"] if w["integration_id"] == first["id"] and w["has_data"]), None)

    widget = wait_for(sidebar, "the sidebar data")
    shown = str(widget["view"])
    assert placed["order_name"] in shown and "Lifetime value" in shown


def _ticket(db: Database, shop_id: str, gid: str, **values: Any) -> None:
    with db.session(shop_id) as session:
        session.add(SupportTicket(shop_id=shop_id, gorgias_ticket_id=gid, customer_email=f"{gid}@example.com",
                                  status="escalated", **values))


def test_the_sla_sweep_raises_unanswered_tickets_once(db: Database, shop_id: str) -> None:
    now = utcnow()
    _ticket(db, shop_id, "501", sla_due_at=now - timedelta(minutes=5))  # late, unanswered
    _ticket(db, shop_id, "502", sla_due_at=now - timedelta(minutes=5), first_response_at=now)  # answered
    _ticket(db, shop_id, "503", sla_due_at=now + timedelta(hours=1))  # not due yet
    assert support.sweep_sla(db, shop_id) == 1
    assert support.sweep_sla(db, shop_id) == 0  # once only
    with db.session(shop_id) as session:
        rows = {t.gorgias_ticket_id: t for t in session.scalars(select(SupportTicket))}
        assert rows["501"].sla_breached_at is not None and rows["501"].escalated
        assert "SLA passed" in (rows["501"].escalation_reason or "")
        assert rows["502"].sla_breached_at is None and rows["503"].sla_breached_at is None
        [record] = decisions.for_subject(session, "ticket:501")
        assert record.rules == ["support_sla@1"] and record.outputs["breached"]
    with db.system_session() as session:
        [message] = session.scalars(select(OutboxMessage)).all()
    assert message.target == "gorgias.update_ticket"
    assert message.payload["priority"] == "critical" and message.payload["tags"] == ["sla-breached"]


def test_the_sla_sweep_in_shadow_mode_records_but_emits_nothing(db: Database, shop_id: str) -> None:
    with db.session(shop_id) as session:
        support.set_mode(session, shop_id, "shadow")
    _ticket(db, shop_id, "601", sla_due_at=utcnow() - timedelta(minutes=1))
    assert support.sweep_sla(db, shop_id) == 1
    with db.system_session() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    with db.session(shop_id) as session:
        [record] = decisions.for_subject(session, "ticket:601")
        assert record.mode == "shadow" and record.intended_actions and record.actions_taken == []
