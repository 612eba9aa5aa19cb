"""storeops: an operations system for online stores."""

__version__ = "0.1.0"
