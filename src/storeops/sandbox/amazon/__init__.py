"""Amazon Selling Partner API sandbox (Login with Amazon, Listings Items 2021-08-01,
FBA Inventory v1, Feeds 2021-06-30 with JSON_LISTINGS_FEED). See app.py for the gate
every request passes and the control routes."""

from storeops.sandbox.amazon.app import AmazonSandbox

__all__ = ["AmazonSandbox"]
