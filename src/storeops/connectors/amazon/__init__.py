"""Amazon Selling Partner API connector (polled: Amazon does not push HTTP webhooks)."""
