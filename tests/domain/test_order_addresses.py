"""Address checks: US ZIP/state/city/street, Canadian postal codes, other countries, phones."""

from __future__ import annotations

from dataclasses import replace

import pytest

from storeops.domain.orders import Address, AddressErrorCode, validate_address, zip_location

EMPIRE_STATE = Address(address1="350 5th Ave", city="New York", province_code="NY", zip="10118",
                       country_code="US", phone="+1 212-736-5000")
CN_TOWER = Address(address1="290 Bremner Blvd", city="Toronto", province_code="ON", zip="M5V 3L9", country_code="CA")


def test_valid_nyc_address_passes_and_is_normalized() -> None:
    check = validate_address(replace(EMPIRE_STATE, country_code="us", province_code="ny", zip=" 10118-0110 "))
    assert check.ok
    assert check.issues == []
    assert check.normalized is not None
    assert (check.normalized.country_code, check.normalized.province_code) == ("US", "NY")
    assert check.normalized.zip == "10118-0110"
    assert check.normalized.phone == "+12127365000"


def test_zip_in_another_state_is_an_error() -> None:
    check = validate_address(replace(EMPIRE_STATE, province_code="NJ"))
    assert not check.ok
    assert AddressErrorCode.POSTAL_CODE_PROVINCE_MISMATCH in check.codes


def test_unknown_zip_is_an_error() -> None:
    check = validate_address(replace(EMPIRE_STATE, zip="00000"))
    assert not check.ok
    assert check.codes == {AddressErrorCode.UNKNOWN_POSTAL_CODE}


def test_malformed_zip_is_an_error() -> None:
    assert AddressErrorCode.INVALID_POSTAL_CODE in validate_address(replace(EMPIRE_STATE, zip="1011")).codes


def test_street_without_house_number_is_an_error() -> None:
    check = validate_address(replace(EMPIRE_STATE, address1="Fifth Avenue"))
    assert not check.ok
    assert check.codes == {AddressErrorCode.MISSING_STREET_NUMBER}
    [issue] = check.issues
    assert issue.field == "address1"


def test_po_box_is_a_warning_not_an_error() -> None:
    check = validate_address(replace(EMPIRE_STATE, address1="PO Box 123"))
    assert check.ok
    assert check.codes == {AddressErrorCode.PO_BOX}


def test_city_alias_is_normalized_to_the_usps_city() -> None:
    check = validate_address(replace(EMPIRE_STATE, city="Manhattan"))
    assert check.ok
    assert check.codes == {AddressErrorCode.CITY_NOT_PREFERRED}
    assert check.normalized is not None and check.normalized.city == "New York"


def test_city_spelling_variants_match() -> None:
    saint_louis = Address("1 S Memorial Dr", "St. Louis", "MO", "63102", "US")
    assert validate_address(saint_louis).issues == []


def test_city_of_the_same_state_far_from_the_zip_is_an_error() -> None:
    check = validate_address(replace(EMPIRE_STATE, city="Buffalo"))
    assert not check.ok
    assert AddressErrorCode.CITY_POSTAL_CODE_MISMATCH in check.codes


def test_unknown_city_name_is_only_a_warning() -> None:
    check = validate_address(replace(EMPIRE_STATE, city="Midtown"))
    assert check.ok
    assert check.codes == {AddressErrorCode.CITY_POSTAL_CODE_MISMATCH}


def test_missing_fields_are_reported_per_field() -> None:
    check = validate_address(Address(country_code="US"))
    assert not check.ok
    assert {(i.code, i.field) for i in check.issues} >= {
        (AddressErrorCode.REQUIRED, "zip"), (AddressErrorCode.REQUIRED, "province_code"),
        (AddressErrorCode.REQUIRED, "address1"),
    }


def test_invalid_phone_is_flagged_and_kept_as_given() -> None:
    check = validate_address(replace(EMPIRE_STATE, phone="12345"))
    assert AddressErrorCode.INVALID_PHONE in check.codes
    [issue] = check.issues
    assert issue.severity == "warning"  # carriers want a phone; a bad one does not stop delivery
    assert check.normalized is not None and check.normalized.phone == "12345"


def test_canadian_address_passes_and_postal_code_is_formatted() -> None:
    check = validate_address(replace(CN_TOWER, zip="m5v3l9"))
    assert check.ok, check.issues
    assert check.normalized is not None and check.normalized.zip == "M5V 3L9"


@pytest.mark.parametrize("postal", ["12345", "M5V 3L", "D5V 3L9", "M5V-3L9X"])
def test_bad_canadian_postal_code(postal: str) -> None:
    check = validate_address(replace(CN_TOWER, zip=postal))
    assert not check.ok
    assert AddressErrorCode.INVALID_POSTAL_CODE in check.codes


def test_canadian_postal_code_from_another_province() -> None:
    check = validate_address(replace(CN_TOWER, zip="V6B 1A1"))  # V: British Columbia
    assert not check.ok
    assert check.codes == {AddressErrorCode.POSTAL_CODE_PROVINCE_MISMATCH}


def test_canadian_province_must_exist() -> None:
    assert AddressErrorCode.INVALID_PROVINCE in validate_address(replace(CN_TOWER, province_code="ZZ")).codes


def test_unknown_country() -> None:
    check = validate_address(Address("1 Main St", "Nowhere", "", "12345", "XX"))
    assert not check.ok
    assert AddressErrorCode.INVALID_COUNTRY in check.codes


def test_other_countries_need_a_postal_code_only_where_they_use_one() -> None:
    downing = Address("10 Downing St", "London", "", "SW1A 2AA", "GB")
    assert validate_address(downing).ok
    assert AddressErrorCode.REQUIRED in validate_address(replace(downing, zip="")).codes
    assert AddressErrorCode.INVALID_POSTAL_CODE in validate_address(replace(downing, zip="12345")).codes
    dubai = Address("1 Sheikh Zayed Rd", "Dubai", "", "", "AE")  # the UAE has no postal codes
    assert validate_address(dubai).ok


def test_country_name_is_normalized_to_its_code() -> None:
    check = validate_address(replace(EMPIRE_STATE, country_code="United States"))
    assert check.ok
    assert check.normalized is not None and check.normalized.country_code == "US"


def test_zip_location() -> None:
    location = zip_location("10118")
    assert location is not None
    assert location == pytest.approx((40.75, -73.99), abs=0.1)
    assert zip_location("10118-0110") == location
    assert zip_location("00000") is None
    assert zip_location("not a zip") is None
