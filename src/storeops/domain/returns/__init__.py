"""Returns: from a customer's request to a refund, and the shop's return policy.

    policy.py       ReturnPolicy, check_eligibility, quote_refund (pure, no database)
    models.py       ReturnRequest (+ ReturnLine), ReturnPolicySetting (migration 0004)
    services.py     requests and the per-shop policy in the database
    error_codes.py  why a request was rejected or sent to a person
"""
