"""Error and issue codes of the orders domain (str enums, so they serialize as themselves)."""

from __future__ import annotations

from enum import StrEnum


class AddressErrorCode(StrEnum):
    REQUIRED = "required"
    INVALID_COUNTRY = "invalid_country"
    INVALID_PROVINCE = "invalid_province"
    INVALID_POSTAL_CODE = "invalid_postal_code"
    UNKNOWN_POSTAL_CODE = "unknown_postal_code"
    INACTIVE_POSTAL_CODE = "inactive_postal_code"
    POSTAL_CODE_PROVINCE_MISMATCH = "postal_code_province_mismatch"
    CITY_POSTAL_CODE_MISMATCH = "city_postal_code_mismatch"
    CITY_NOT_PREFERRED = "city_not_preferred"
    MISSING_STREET_NUMBER = "missing_street_number"
    PO_BOX = "po_box"
    INVALID_PHONE = "invalid_phone"


class RoutingErrorCode(StrEnum):
    INVALID_ORDER = "invalid_order"
    INSUFFICIENT_STOCK = "insufficient_stock"
    NO_ELIGIBLE_FC = "no_eligible_fc"
    FORCED_FC_LACKS_STOCK = "forced_fc_lacks_stock"
