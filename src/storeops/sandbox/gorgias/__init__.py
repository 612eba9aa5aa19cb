"""Gorgias sandbox: the helpdesk REST API (tickets, messages, customers, tags, users,
teams, HTTP integrations, widgets, events) on a loopback port. See app.py."""

from storeops.sandbox.gorgias.app import GorgiasSandbox

__all__ = ["GorgiasSandbox"]
