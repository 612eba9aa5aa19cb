"""Clients for the vendors' real APIs. One package per vendor; they never import each other."""
