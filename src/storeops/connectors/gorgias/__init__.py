"""Gorgias connector."""
