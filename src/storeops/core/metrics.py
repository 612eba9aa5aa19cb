"""Prometheus metrics (one registry per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOKS = Counter(
    "storeops_webhooks_total",
    "Inbound webhooks by vendor and outcome (stored, duplicate, rejected, too_large, error)",
    ["vendor", "outcome"],
    registry=REGISTRY,
)
INBOX_OUTCOMES = Counter(
    "storeops_inbox_events_total",
    "Inbox events handled by workers, by vendor and outcome (processed, invalid, ignored, retried, failed)",
    ["vendor", "outcome"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "storeops_inbox_pending", "Inbox events waiting for a worker (read at scrape time)", registry=REGISTRY
)
WORKFLOWS = Gauge(
    "storeops_workflows", "Durable workflows by status (read at scrape time)", ["status"], registry=REGISTRY
)
