"""Shops (tenants) and their connector credentials."""
