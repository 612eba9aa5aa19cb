"""The store's shoppers: who they are, where they live, and the addresses they mistype.

Cities are real city / state / ZIP triples (downtown ZIPs) across the four US Census
regions, plus a few Canadian cities with real postal codes, weighted roughly by the
regions' share of US population (Census 2020: South 38 %, West 24 %, Midwest 21 %,
Northeast 17 %) so order routing sees the spread a US store sees. Every draw comes
from the simulator's seeded random source, so a seed names one population.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

SHOPPER_EMAIL_DOMAIN = "example.com"  # RFC 2606: never a real mailbox


@dataclass(frozen=True)
class City:
    name: str
    province_code: str  # US state or Canadian province
    zip: str
    region: str  # west | midwest | south | northeast | canada
    country_code: str = "US"

    @property
    def country(self) -> str:
        return "Canada" if self.country_code == "CA" else "United States"


CITIES: tuple[City, ...] = (
    # West
    City("Los Angeles", "CA", "90012", "west"), City("San Francisco", "CA", "94103", "west"),
    City("San Diego", "CA", "92101", "west"), City("Seattle", "WA", "98101", "west"),
    City("Portland", "OR", "97204", "west"), City("Denver", "CO", "80202", "west"),
    City("Phoenix", "AZ", "85004", "west"), City("Salt Lake City", "UT", "84111", "west"),
    City("Las Vegas", "NV", "89101", "west"), City("Boise", "ID", "83702", "west"),
    City("Albuquerque", "NM", "87102", "west"), City("Honolulu", "HI", "96813", "west"),
    # Midwest
    City("Chicago", "IL", "60601", "midwest"), City("Minneapolis", "MN", "55401", "midwest"),
    City("Columbus", "OH", "43215", "midwest"), City("Detroit", "MI", "48226", "midwest"),
    City("Milwaukee", "WI", "53202", "midwest"), City("Kansas City", "MO", "64105", "midwest"),
    City("Indianapolis", "IN", "46204", "midwest"), City("Omaha", "NE", "68102", "midwest"),
    City("Des Moines", "IA", "50309", "midwest"), City("St. Louis", "MO", "63101", "midwest"),
    # South
    City("Austin", "TX", "78701", "south"), City("Houston", "TX", "77002", "south"),
    City("Dallas", "TX", "75201", "south"), City("Miami", "FL", "33131", "south"),
    City("Orlando", "FL", "32801", "south"), City("Atlanta", "GA", "30303", "south"),
    City("Nashville", "TN", "37203", "south"), City("Charlotte", "NC", "28202", "south"),
    City("New Orleans", "LA", "70112", "south"), City("Richmond", "VA", "23219", "south"),
    City("Birmingham", "AL", "35203", "south"), City("Louisville", "KY", "40202", "south"),
    # Northeast
    City("New York", "NY", "10001", "northeast"), City("Brooklyn", "NY", "11201", "northeast"),
    City("Boston", "MA", "02108", "northeast"), City("Philadelphia", "PA", "19103", "northeast"),
    City("Pittsburgh", "PA", "15222", "northeast"), City("Newark", "NJ", "07102", "northeast"),
    City("Providence", "RI", "02903", "northeast"), City("Hartford", "CT", "06103", "northeast"),
    City("Portland", "ME", "04101", "northeast"), City("Burlington", "VT", "05401", "northeast"),
    # Canada
    City("Toronto", "ON", "M5V 2T6", "canada", "CA"), City("Vancouver", "BC", "V6B 1A1", "canada", "CA"),
    City("Montreal", "QC", "H3B 2Y5", "canada", "CA"), City("Calgary", "AB", "T2P 1J9", "canada", "CA"),
)
REGION_WEIGHTS = {"south": 37, "west": 23, "midwest": 20, "northeast": 16, "canada": 4}

FIRST_NAMES = ("Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Ines", "Omar", "Lena", "Kai", "Rosa", "Theo",
               "Mila", "Jonas", "Priya", "Diego", "Hana", "Felix", "Nora", "Sam", "Aisha", "Mateo", "Chloe",
               "Arjun", "Grace", "Lucas", "Yuki", "Elena", "Malik", "Sofia", "Ben", "Fatima", "Owen", "Leah",
               "Andre", "Mei", "Isaac", "Camila", "Ravi", "Julia")
LAST_NAMES = ("Garcia", "Smith", "Chen", "Okafor", "Rossi", "Nguyen", "Kowalski", "Haddad", "Silva", "Novak",
              "Brown", "Ivanova", "Sato", "Jensen", "Moreau", "Khan", "Lopez", "Weber", "Cohen", "Park",
              "Johnson", "Williams", "Martinez", "Davis", "Patel", "Kim", "Anderson", "Thomas", "Jackson",
              "Rivera", "Walker", "Young", "Hernandez", "Wright", "Hill", "Scott", "Adams", "Baker", "Nelson",
              "Carter")
STREETS = ("Oak", "Pine", "Main", "Elm", "Cedar", "Maple", "Washington", "Lake", "Hill", "Park", "Sunset",
           "Lincoln", "Jackson", "River", "Church", "Highland", "Willow", "Chestnut")
SUFFIXES = ("St", "Ave", "Blvd", "Rd", "Ln", "Dr", "Way", "Ct")
UNITS = ("Apt 2B", "Apt 4", "Unit 12", "Suite 200", "Apt 3F", "#7")

VIP_TAG = "VIP"
VIP_SHARE = 0.06  # about one shopper in sixteen is a regular big spender the staff tags


@dataclass
class Shopper:
    """One person buying (or trying to) from the store, as the simulator remembers them."""

    key: int
    first_name: str
    last_name: str
    email: str
    phone: str
    city: City
    address1: str
    address2: str | None
    vip: bool
    accepts_marketing: bool
    shopify_id: int | None = None
    tagged: bool = False
    orders: list[str] = field(default_factory=list)  # Shopify order names ("#1013")

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def customer_spec(self) -> dict[str, Any]:
        """The `customer` override of POST /_sandbox/checkouts."""
        return {"email": self.email, "first_name": self.first_name, "last_name": self.last_name,
                "phone": self.phone, "accepts_marketing": self.accepts_marketing}

    def address_spec(self) -> dict[str, Any]:
        """The shopper's real address, as the `address` override."""
        return {"address1": self.address1, "address2": self.address2, "city": self.city.name,
                "province_code": self.city.province_code, "zip": self.city.zip, "country": self.city.country,
                "country_code": self.city.country_code}


def new_shopper(rng: random.Random, key: int) -> Shopper:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    regions = sorted(REGION_WEIGHTS)
    region = rng.choices(regions, weights=[REGION_WEIGHTS[r] for r in regions])[0]
    city = rng.choice([c for c in CITIES if c.region == region])
    address2 = rng.choice(UNITS) if rng.random() < 0.25 else None
    # 555-01xx is reserved for fiction (NANPA), so no real phone is ever invented.
    phone = f"+1{rng.randrange(201, 990)}5550{rng.randrange(100, 200)}"
    return Shopper(key=key, first_name=first, last_name=last,
                   email=f"{first}.{last}.{key}@{SHOPPER_EMAIL_DOMAIN}".lower(), phone=phone, city=city,
                   address1=f"{rng.randrange(1, 9900)} {rng.choice(STREETS)} {rng.choice(SUFFIXES)}",
                   address2=address2, vip=rng.random() < VIP_SHARE, accepts_marketing=rng.random() < 0.45)


BAD_ADDRESS_KINDS = ("wrong_zip", "missing_street_number", "unknown_city")


def bad_address(rng: random.Random, shopper: Shopper) -> tuple[str, dict[str, Any]]:
    """The shopper's address with one mistake a real checkout lets through.

    wrong_zip: a real ZIP of another state; missing_street_number: "Oak St" with no
    number; unknown_city: the city name mistyped (two letters swapped), which no
    address book knows."""
    kind = rng.choice(BAD_ADDRESS_KINDS)
    spec = shopper.address_spec()
    if kind == "wrong_zip":
        others = [c for c in CITIES if c.province_code != shopper.city.province_code
                  and c.country_code == shopper.city.country_code]
        spec["zip"] = rng.choice(others).zip
    elif kind == "missing_street_number":
        spec["address1"] = shopper.address1.split(" ", 1)[1]
    else:
        spec["city"] = _typo(rng, shopper.city.name)
    return kind, spec


def _typo(rng: random.Random, word: str) -> str:
    letters = [i for i in range(len(word) - 1) if word[i].isalpha() and word[i + 1].isalpha()
               and word[i] != word[i + 1]]
    if not letters:
        return word + "ville"
    i = rng.choice(letters)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


FIXED_SHIPPING = {
    # Shopify's sandbox storefront knows standard and express by name; overnight is sent as
    # a custom shipping line with its own price, as a carrier-calculated rate would be.
    "overnight": {"title": "Overnight Shipping", "code": "OVERNIGHT", "price": "29.99"},
}


def shipping_choice(rng: random.Random, shopper: Shopper) -> tuple[str, Any]:
    """(method name, the checkout's `shipping` override): VIPs pay for speed more often."""
    weights = (50, 35, 15) if shopper.vip else (72, 21, 7)
    method = rng.choices(("standard", "express", "overnight"), weights=weights)[0]
    return method, FIXED_SHIPPING.get(method, method)
