"""Customers as storeops knows them, and the privacy duties that come with them."""
