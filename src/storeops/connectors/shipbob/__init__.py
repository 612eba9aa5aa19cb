"""ShipBob connector."""
