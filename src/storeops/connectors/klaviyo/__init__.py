"""Klaviyo connector."""
