"""Autochat equipment options, one list per environment profile (api/autochat.md 1.5, 2.4).

The vendor's staging and production lists differ; the sandbox mirrors that with two
built-in profiles that overlap but are not equal, so a client that hard-codes option
names instead of reading `GET /api/options` is caught. `uuid`s are derived from the
name so they are stable across runs.
"""

from __future__ import annotations

import threading
import uuid
from typing import Iterable

_NAMESPACE = uuid.UUID("4b0e6a44-2f6c-4c77-9d1e-6a3c8f0d2b51")

_COMMON = (
    "abs", "ac", "alarm_system", "alloy_wheels", "automatic_climate_control", "bluetooth", "cruise_control",
    "electric_windows", "esp", "fog_lights", "heated_seats", "isofix", "keyless_central_door_lock",
    "leather_seats", "led_headlights", "navigation_system", "park_distance_control_front",
    "park_distance_control_rear", "passenger_airbag", "power_steering", "rain_sensor", "rear_view_camera",
    "roof_rails", "start_stop_system", "sunroof", "tow_bar", "usb_port", "xenon_headlights",
    "apple_carplay", "android_auto", "adaptive_cruise_control", "lane_departure_warning",
    "blind_spot_monitor", "electric_tailgate", "heated_steering_wheel", "panoramic_roof", "head_up_display",
    "digital_cockpit", "wireless_charging", "emergency_brake_assist",
)
PROFILES: dict[str, tuple[str, ...]] = {
    # Production carries the older German-style name `tempomat` beside `cruise_control`.
    "production": _COMMON + ("tempomat", "sport_seats", "ambient_lighting"),
    # Staging has renamed/removed a few and carries some not yet in production.
    "staging": tuple(n for n in _COMMON if n not in ("xenon_headlights", "heated_steering_wheel"))
    + ("massage_seats", "night_vision_assist"),
}
DEFAULT_PROFILE = "production"
_PRETTY = {
    "abs": "ABS", "ac": "Air conditioning", "esp": "ESP", "usb_port": "USB port", "led_headlights": "LED headlights",
    "apple_carplay": "Apple CarPlay", "android_auto": "Android Auto", "isofix": "ISOFIX",
}


def option_entry(name: str) -> dict[str, object]:
    """One `GET /api/options` entry; the shape of the vendor's example."""
    pretty = _PRETTY.get(name) or name.replace("_", " ").capitalize()
    return {
        "esaco_identifier": 0,
        "name": name,
        "prettyName": pretty,
        "uuid": str(uuid.uuid5(_NAMESPACE, name)),
    }


class OptionCatalogue:
    """The option list of the active profile; lists can be replaced at run time."""

    def __init__(self, profile: str = DEFAULT_PROFILE) -> None:
        self._lists = {key: tuple(names) for key, names in PROFILES.items()}
        self._lock = threading.Lock()
        self.profile = profile
        self.use(profile)

    def use(self, profile: str) -> None:
        with self._lock:
            if profile not in self._lists:
                raise ValueError(f"unknown options profile {profile!r}; known: {sorted(self._lists)}")
            self.profile = profile

    def set_list(self, profile: str, names: Iterable[str]) -> None:
        with self._lock:
            self._lists[profile] = tuple(dict.fromkeys(names))

    def names(self) -> tuple[str, ...]:
        with self._lock:
            return self._lists[self.profile]

    def entries(self) -> list[dict[str, object]]:
        return [option_entry(name) for name in self.names()]

    def unknown(self, requested: Iterable[object]) -> list[str]:
        """One message per unknown option, in request order (2.4)."""
        known = set(self.names())
        return [f"unknown option: {name}" for name in requested if name not in known]
