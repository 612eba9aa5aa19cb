"""Orders: the decisions between "order placed" and "order released to a warehouse".

Pure functions over small dataclasses (no database, no HTTP); flows map vendor payloads in
and record the decisions they return.

    validate_address(address) -> AddressCheck        addresses.py
    score_order(order, history) -> RiskAssessment    risk.py
    route_order(order, fcs, stock) -> RoutingDecision  routing.py (+ routing_search, routing_cpsat)
    DEFAULT_RATES, RateCard                          shipping_rates.py
    plan_shortage(lines, stock, rules) -> ShortagePlan  substitution.py (stock-shortage rules)

The exceptions queue (a table and its services) is storeops.domain.orders.exceptions.
"""

from storeops.domain.orders.addresses import AddressCheck, AddressIssue, validate_address, zip_location
from storeops.domain.orders.error_codes import AddressErrorCode, RoutingErrorCode
from storeops.domain.orders.facts import Address, CustomerHistory, Line, OrderFacts
from storeops.domain.orders.risk import DEFAULT_RULES, RiskAssessment, RiskFlag, score_order, service_level_of
from storeops.domain.orders.routing import (
    Alternative,
    FulfillmentCenter,
    RoutingDecision,
    RoutingRule,
    Shipment,
    closest_fc_with_everything,
    route_order,
)
from storeops.domain.orders.shipping_rates import DEFAULT_RATES, RateCard, ServiceRates

__all__ = [
    "DEFAULT_RATES",
    "DEFAULT_RULES",
    "Address",
    "AddressCheck",
    "AddressErrorCode",
    "AddressIssue",
    "Alternative",
    "CustomerHistory",
    "FulfillmentCenter",
    "Line",
    "OrderFacts",
    "RateCard",
    "RiskAssessment",
    "RiskFlag",
    "RoutingDecision",
    "RoutingErrorCode",
    "RoutingRule",
    "ServiceRates",
    "Shipment",
    "closest_fc_with_everything",
    "route_order",
    "score_order",
    "service_level_of",
    "validate_address",
    "zip_location",
]
