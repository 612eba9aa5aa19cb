"""Shopify connector."""
