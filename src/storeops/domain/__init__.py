"""Business domains: catalog, inventory, orders, returns, support, marketing, customers.

Domains refer to each other by id only and never import each other.
"""
