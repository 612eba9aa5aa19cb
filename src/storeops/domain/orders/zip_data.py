"""US ZIP code facts from the `zipcodes` package (data ships inside the wheel; no network).

`zipcodes.matching` scans its whole table on every call (about 4 ms measured here), too slow
for a routing decision, so the table is indexed once per process (about 0.3 s) and kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import zipcodes

_ZIP_RE = re.compile(r"^\s*(\d{5})(?:[\s-]?(\d{4}))?\s*$")


@dataclass(frozen=True, slots=True)
class ZipInfo:
    zip: str
    kind: str  # STANDARD, PO BOX, UNIQUE, MILITARY
    active: bool
    city: str
    acceptable_cities: tuple[str, ...]
    unacceptable_cities: tuple[str, ...]
    state: str
    lat: float | None
    lon: float | None


def split_zip(value: str) -> tuple[str, str] | None:
    """("10001", "1234") for "10001-1234", ("10001", "") for "10001", None when not a ZIP."""
    match = _ZIP_RE.match(value or "")
    if match is None:
        return None
    return match.group(1), match.group(2) or ""


def _coordinate(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if number != 0.0 else None


@lru_cache(maxsize=1)
def zip_table() -> dict[str, ZipInfo]:
    table: dict[str, ZipInfo] = {}
    for row in zipcodes.list_all():  # type: ignore[no-untyped-call]
        table[row["zip_code"]] = ZipInfo(
            zip=row["zip_code"],
            kind=row["zip_code_type"],
            active=bool(row["active"]),
            city=row["city"],
            acceptable_cities=tuple(row["acceptable_cities"]),
            unacceptable_cities=tuple(row["unacceptable_cities"]),
            state=row["state"],
            lat=_coordinate(row["lat"]),
            lon=_coordinate(row["long"]),
        )
    return table


@lru_cache(maxsize=1)
def zips_by_state() -> dict[str, tuple[ZipInfo, ...]]:
    by_state: dict[str, list[ZipInfo]] = {}
    for info in zip_table().values():
        by_state.setdefault(info.state, []).append(info)
    return {state: tuple(rows) for state, rows in by_state.items()}


def zip_info(value: str) -> ZipInfo | None:
    parts = split_zip(value)
    if parts is None:
        return None
    return zip_table().get(parts[0])


def zip_location(value: str) -> tuple[float, float] | None:
    """(lat, lon) of the ZIP's centroid, or None for an unknown ZIP or one without a position."""
    info = zip_info(value)
    if info is None or info.lat is None or info.lon is None:
        return None
    return info.lat, info.lon
