"""Durable machinery: inbox, outbox, workflows over DBOS, retry policy, error table."""

from storeops.engine.errors import Action, FailureType, Resolution, classify
from storeops.engine.inbox import EventContext, InboxPump, InboxWriter, NewEvent
from storeops.engine.retry import DEFAULT_POLICY, GaveUp, RetryPolicy
from storeops.engine.workflows import Engine, QueueSpec, define_queue, schedule, sleep, step, workflow

__all__ = [
    "DEFAULT_POLICY",
    "Action",
    "Engine",
    "EventContext",
    "FailureType",
    "GaveUp",
    "InboxPump",
    "InboxWriter",
    "NewEvent",
    "QueueSpec",
    "Resolution",
    "RetryPolicy",
    "classify",
    "define_queue",
    "schedule",
    "sleep",
    "step",
    "workflow",
]
