"""Places on the Earth: the ``near`` filter's circle, its bounding box, great-circle distance.

A record's place is its top-level ``lat`` and ``lon`` metadata (decimal degrees,
south and west negative), as image ingest writes them from GPS EXIF
(``imaging.exif``). Distances are haversine on a sphere of radius
``EARTH_RADIUS_KM``: within about 0.5% of the ellipsoid, plenty for "photos near
here". Every store computes the same function (SQLite registers it as
``DISTANCE_FUNCTION``), so answers agree to the last bit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInputError

EARTH_RADIUS_KM = 6371.0088
"""The mean Earth radius (IUGG)."""
MAX_NEAR_KM = math.pi * EARTH_RADIUS_KM
"""Half the Earth's circumference: every place is at most this far from any other."""
NEAR_KEYS = ("lat", "lon", "km")
DISTANCE_FUNCTION = "same_same_distance_km"
"""SQL name of ``distance_km`` in the SQLite store (4 arguments; NULL for non-numbers)."""


@dataclass(frozen=True)
class Circle:
    """Places within ``km`` kilometres of ``lat``/``lon`` (the edge included)."""

    lat: float
    lon: float
    km: float

    def contains(self, lat: Any, lon: Any) -> bool:
        """Whether ``lat``/``lon`` (metadata values of any type) lie in the circle."""
        distance = distance_between(lat, lon, self.lat, self.lon)
        return distance is not None and distance <= self.km

    def bounding_box(self) -> tuple[tuple[float, float], tuple[float, float] | None]:
        """``((lat_low, lat_high), (lon_low, lon_high))`` holding the whole circle; the
        longitude range is None when the box would wrap (a pole or the antimeridian)."""
        spread = math.degrees(self.km / EARTH_RADIUS_KM)
        # a hair wider than exact, so rounding never drops a place on the edge
        margin = 1e-9 + spread * 1e-9
        lat_low, lat_high = self.lat - spread - margin, self.lat + spread + margin
        if lat_low <= -90.0 or lat_high >= 90.0:
            return (max(lat_low, -90.0), min(lat_high, 90.0)), None
        angle = self.km / EARTH_RADIUS_KM
        if angle >= math.pi / 2:
            return (lat_low, lat_high), None
        widest = math.radians(max(abs(lat_low), abs(lat_high)))
        lon_spread = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(widest))))
        lon_low = self.lon - lon_spread - margin
        lon_high = self.lon + lon_spread + margin
        if lon_low <= -180.0 or lon_high >= 180.0:
            return (lat_low, lat_high), None
        return (lat_low, lat_high), (lon_low, lon_high)


def parse_circle(spec: Mapping[str, Any]) -> Circle:
    """The circle of a ``near`` filter's ``{"lat", "lon", "km"}``; InvalidInputError naming
    the value at fault otherwise."""
    where = "filter 'near'"
    unknown = sorted(str(key) for key in spec if key not in NEAR_KEYS)
    if unknown or set(spec) != set(NEAR_KEYS):
        raise InvalidInputError(
            f"{where} needs exactly lat, lon and km"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            hint='e.g. {"near": {"lat": 48.8566, "lon": 2.3522, "km": 10}}',
        )
    lat, lon, km = (_check_number(where, key, spec[key]) for key in NEAR_KEYS)
    if not -90 <= lat <= 90:
        raise InvalidInputError(
            f"{where}: lat must be within -90..90, got {show_value(spec['lat'])}"
        )
    if not -180 <= lon <= 180:
        raise InvalidInputError(
            f"{where}: lon must be within -180..180, got {show_value(spec['lon'])}"
        )
    if km <= 0:
        raise InvalidInputError(f"{where}: km must be above 0, got {show_value(spec['km'])}")
    return Circle(lat, lon, km)


def _check_number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{where}: {key} needs a number, got {show_value(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidInputError(f"{where}: {key} needs a finite number, got {show_value(value)}")
    return number


def show_value(value: Any) -> str:
    """``value`` as JSON in at most 60 characters, for an error message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def distance_between(lat: Any, lon: Any, other_lat: Any, other_lon: Any) -> float | None:
    """Great-circle kilometres between two places; None unless all four are numbers
    within range (booleans, strings, nulls and NaN are no place)."""
    if not (_is_degrees(lat, 90) and _is_degrees(other_lat, 90)):
        return None
    if not (_is_degrees(lon, 180) and _is_degrees(other_lon, 180)):
        return None
    phi1, phi2 = math.radians(lat), math.radians(other_lat)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(other_lon - lon) / 2
    haversine = (
        math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(haversine)))


def _is_degrees(value: Any, limit: float) -> bool:
    # a comparison, not float(): NaN fails it, and an integer of any size is compared exactly
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and -limit <= value <= limit
    )


__all__ = [
    "DISTANCE_FUNCTION",
    "EARTH_RADIUS_KM",
    "MAX_NEAR_KM",
    "NEAR_KEYS",
    "Circle",
    "distance_between",
    "parse_circle",
]
