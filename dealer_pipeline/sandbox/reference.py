"""Static reference data of real vehicles: the one source the sandbox's vendors draw from.

The UK generator (Autotrader stock), the Brazilian generator (Webmotors stock) and the
Autocosmos catalogue all derive their vehicles from these tuples, so a vehicle generated for
a dealer can be looked up in the catalogue under the catalogue's own naming.

UK entries use Autotrader's vocabulary (derivative text, `fuelType`, `transmissionType`,
`bodyType`); Brazilian entries use Webmotors' (upper-case make/model/version names, fuel and
transmission in Portuguese). Figures are the manufacturers' published ones, rounded.
`derivative_id` is a stable 32-hex id (md5 of make, model and derivative text, except the
Hyundai Tucson of the Autotrader contract example, which keeps the contract's id).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: Autotrader fuel types that have charge times (api/autotrader.md 2.5).
PLUGGABLE_FUEL_TYPES = frozenset({"Electric", "Petrol Plug-in Hybrid", "Diesel Plug-in Hybrid", "Elec/Pet Range Ext"})


@dataclass(frozen=True)
class UkDerivative:
    """One Autotrader derivative (a priced, specified variant of a model)."""

    derivative_id: str
    name: str
    trim: str
    body_type: str
    fuel_type: str
    transmission: str
    engine_cc: int | None
    power_ps: int
    doors: int
    seats: int
    co2_g_km: int
    year_from: int
    year_to: int | None
    drivetrain: str = "Front Wheel Drive"
    battery_kwh: float | None = None

    @property
    def power_bhp(self) -> int:
        """Brake horsepower as Autotrader shows it beside PS (1 PS = 0.98632 bhp)."""
        return round(self.power_ps * 0.98632)

    @property
    def power_kw(self) -> float:
        return round(self.power_ps * 0.73549875, 1)

    @property
    def pluggable(self) -> bool:
        return self.fuel_type in PLUGGABLE_FUEL_TYPES


@dataclass(frozen=True)
class UkModel:
    make: str
    model: str
    generation: str
    derivatives: tuple[UkDerivative, ...]
    vehicle_type: str = "Car"


@dataclass(frozen=True)
class BrVersion:
    """One Webmotors version of a model; `name` is Webmotors' upper-case version text."""

    name: str
    fuel: str
    transmission: str
    engine_cc: int | None
    power_cv: int
    doors: int
    body_type: str
    year_from: int
    year_to: int | None
    seats: int = 5

    @property
    def power_kw(self) -> float:
        return round(self.power_cv * 0.73549875, 1)


@dataclass(frozen=True)
class BrModel:
    make: str
    model: str
    versions: tuple[BrVersion, ...]


def _derivative_id(make: str, model: str, name: str) -> str:
    return hashlib.md5(f"{make}|{model}|{name}".encode()).hexdigest()


def _uk(make: str, model: str, generation: str, *rows: tuple) -> UkModel:
    """Build a model from compact rows: (name, trim, body, fuel, transmission, cc, ps, doors, seats,
    co2, year_from, year_to[, drivetrain[, battery_kwh[, derivative_id]]])."""
    derivatives = []
    for row in rows:
        name, trim, body, fuel, gearbox, cc, ps, doors, seats, co2, y0, y1, *rest = row
        drivetrain = rest[0] if len(rest) > 0 else "Front Wheel Drive"
        battery = rest[1] if len(rest) > 1 else None
        derivative_id = rest[2] if len(rest) > 2 else _derivative_id(make, model, name)
        derivatives.append(
            UkDerivative(derivative_id, name, trim, body, fuel, gearbox, cc, ps, doors, seats, co2, y0, y1,
                         drivetrain, battery)
        )
    return UkModel(make, model, generation, tuple(derivatives))


FWD, RWD, AWD = "Front Wheel Drive", "Rear Wheel Drive", "Four Wheel Drive"
P, D, E = "Petrol", "Diesel", "Electric"
PH, PPH, REX = "Petrol Hybrid", "Petrol Plug-in Hybrid", "Elec/Pet Range Ext"
M, A = "Manual", "Automatic"

UK_MODELS: tuple[UkModel, ...] = (
    _uk("Ford", "Fiesta", "Hatchback (2017 - 2023)",
        ("1.0 EcoBoost Titanium Hatchback 5dr Petrol Manual Euro 6 (s/s) (100 ps)", "Titanium", "Hatchback", P, M,
         999, 100, 5, 5, 105, 2017, 2023),
        ("1.0 EcoBoost MHEV ST-Line Edition Hatchback 5dr Petrol Manual Euro 6 (s/s) (125 ps)", "ST-Line Edition",
         "Hatchback", PH, M, 999, 125, 5, 5, 112, 2020, 2023),
        ("1.5 EcoBoost ST-3 Hatchback 3dr Petrol Manual Euro 6 (s/s) (200 ps)", "ST-3", "Hatchback", P, M,
         1497, 200, 3, 5, 136, 2018, 2023)),
    _uk("Ford", "Focus", "Hatchback (2018 - 2025)",
        ("1.0 EcoBoost Zetec Hatchback 5dr Petrol Manual Euro 6 (s/s) (125 ps)", "Zetec", "Hatchback", P, M,
         999, 125, 5, 5, 111, 2018, 2025),
        ("1.5 EcoBlue ST-Line Estate 5dr Diesel Auto Euro 6 (s/s) (120 ps)", "ST-Line", "Estate", D, A,
         1499, 120, 5, 5, 118, 2018, 2025),
        ("2.3 EcoBoost ST Hatchback 5dr Petrol Manual Euro 6 (s/s) (280 ps)", "ST", "Hatchback", P, M,
         2261, 280, 5, 5, 179, 2019, 2025)),
    _uk("Ford", "Kuga", "SUV (2019 - )",
        ("2.5 EcoBoost Duratec 14.4kWh PHEV ST-Line SUV 5dr Petrol Plug-in Hybrid CVT Euro 6 (s/s) (225 ps)",
         "ST-Line", "SUV", PPH, A, 2488, 225, 5, 5, 32, 2020, None, FWD, 14.4),
        ("1.5 EcoBoost Titanium SUV 5dr Petrol Manual Euro 6 (s/s) (150 ps)", "Titanium", "SUV", P, M,
         1497, 150, 5, 5, 153, 2019, None)),
    _uk("Vauxhall", "Corsa", "Hatchback (2019 - )",
        ("1.2 Turbo SE Hatchback 5dr Petrol Manual Euro 6 (s/s) (100 ps)", "SE", "Hatchback", P, M,
         1199, 100, 5, 5, 119, 2019, None),
        ("50kWh Ultimate Hatchback 5dr Electric Auto (136 ps)", "Ultimate", "Hatchback", E, A,
         None, 136, 5, 5, 0, 2020, None, FWD, 50.0)),
    _uk("Vauxhall", "Astra", "Hatchback (2021 - )",
        ("1.2 Turbo Design Hatchback 5dr Petrol Manual Euro 6 (s/s) (110 ps)", "Design", "Hatchback", P, M,
         1199, 110, 5, 5, 127, 2021, None),
        ("1.6 Plug-in Hybrid 12.4kWh GS Hatchback 5dr Petrol Plug-in Hybrid Auto Euro 6 (s/s) (180 ps)", "GS",
         "Hatchback", PPH, A, 1598, 180, 5, 5, 24, 2022, None, FWD, 12.4)),
    _uk("Vauxhall", "Mokka", "SUV (2020 - )",
        ("1.2 Turbo Griffin SUV 5dr Petrol Manual Euro 6 (s/s) (100 ps)", "Griffin", "SUV", P, M,
         1199, 100, 5, 5, 124, 2021, None),
        ("50kWh Ultimate SUV 5dr Electric Auto (136 ps)", "Ultimate", "SUV", E, A,
         None, 136, 5, 5, 0, 2021, None, FWD, 50.0)),
    _uk("Volkswagen", "Golf", "Hatchback (2020 - )",
        ("1.5 TSI Life Hatchback 5dr Petrol Manual Euro 6 (s/s) (130 ps)", "Life", "Hatchback", P, M,
         1498, 130, 5, 5, 128, 2020, None),
        ("2.0 TDI Style Hatchback 5dr Diesel DSG Euro 6 (s/s) (150 ps)", "Style", "Hatchback", D, A,
         1968, 150, 5, 5, 119, 2020, None),
        ("1.4 TSI 13kWh GTE Hatchback 5dr Petrol Plug-in Hybrid DSG Euro 6 (s/s) (245 ps)", "GTE", "Hatchback",
         PPH, A, 1395, 245, 5, 5, 26, 2020, None, FWD, 13.0)),
    _uk("Volkswagen", "Polo", "Hatchback (2017 - )",
        ("1.0 TSI Life Hatchback 5dr Petrol Manual Euro 6 (s/s) (95 ps)", "Life", "Hatchback", P, M,
         999, 95, 5, 5, 118, 2021, None),
        ("1.0 TSI R-Line Hatchback 5dr Petrol DSG Euro 6 (s/s) (110 ps)", "R-Line", "Hatchback", P, A,
         999, 110, 5, 5, 125, 2018, None)),
    _uk("Volkswagen", "ID.3", "Hatchback (2020 - )",
        ("Pro 58kWh Life Hatchback 5dr Electric Auto (204 ps)", "Life", "Hatchback", E, A,
         None, 204, 5, 5, 0, 2020, None, RWD, 58.0),
        ("Pro S 77kWh Family Hatchback 5dr Electric Auto (204 ps)", "Family", "Hatchback", E, A,
         None, 204, 5, 5, 0, 2021, None, RWD, 77.0)),
    _uk("BMW", "3 Series", "Saloon (2019 - )",
        ("320d M Sport Saloon 4dr Diesel Auto xDrive Euro 6 (s/s) (190 ps)", "M Sport", "Saloon", D, A,
         1995, 190, 4, 5, 130, 2019, None, AWD),
        ("330e 12kWh M Sport Saloon 4dr Petrol Plug-in Hybrid Auto Euro 6 (s/s) (292 ps)", "M Sport", "Saloon",
         PPH, A, 1998, 292, 4, 5, 37, 2019, None, RWD, 12.0),
        ("320i Sport Touring 5dr Petrol Auto Euro 6 (s/s) (184 ps)", "Sport", "Estate", P, A,
         1998, 184, 5, 5, 148, 2019, None, RWD)),
    _uk("BMW", "1 Series", "Hatchback (2019 - 2024)",
        ("118i Sport Hatchback 5dr Petrol Manual Euro 6 (s/s) (140 ps)", "Sport", "Hatchback", P, M,
         1499, 140, 5, 5, 129, 2019, 2024),
        ("M135i xDrive Hatchback 5dr Petrol Auto Euro 6 (s/s) (306 ps)", "M135i", "Hatchback", P, A,
         1998, 306, 5, 5, 168, 2019, 2024, AWD)),
    _uk("BMW", "i3", "Hatchback (2013 - 2022)",
        ("42kWh Range Extender Hatchback 5dr Elec/Pet Range Ext Auto (170 ps)", "Range Extender", "Hatchback",
         REX, A, 647, 170, 5, 4, 12, 2018, 2022, RWD, 42.0),),
    _uk("Audi", "A3", "Sportback (2020 - )",
        ("30 TFSI Sport Sportback 5dr Petrol Manual Euro 6 (s/s) (110 ps)", "Sport", "Hatchback", P, M,
         999, 110, 5, 5, 123, 2020, None),
        ("35 TDI S line Sportback 5dr Diesel S Tronic Euro 6 (s/s) (150 ps)", "S line", "Hatchback", D, A,
         1968, 150, 5, 5, 119, 2020, None),
        ("40 TFSI e 13kWh S line Sportback 5dr Petrol Plug-in Hybrid S Tronic Euro 6 (s/s) (204 ps)", "S line",
         "Hatchback", PPH, A, 1395, 204, 5, 5, 28, 2020, None, FWD, 13.0)),
    _uk("Audi", "A4 Avant", "Estate (2015 - )",
        ("35 TFSI Sport Avant 5dr Petrol S Tronic Euro 6 (s/s) (150 ps)", "Sport", "Estate", P, A,
         1984, 150, 5, 5, 146, 2019, None),
        ("40 TDI quattro Black Edition Avant 5dr Diesel S Tronic Euro 6 (s/s) (204 ps)", "Black Edition",
         "Estate", D, A, 1968, 204, 5, 5, 144, 2019, None, AWD)),
    _uk("Audi", "Q4 e-tron", "SUV (2021 - )",
        ("40 82kWh Sport SUV 5dr Electric Auto (204 ps)", "Sport", "SUV", E, A,
         None, 204, 5, 5, 0, 2021, None, RWD, 82.0),
        ("50 82kWh quattro S line SUV 5dr Electric Auto (299 ps)", "S line", "SUV", E, A,
         None, 299, 5, 5, 0, 2021, None, AWD, 82.0)),
    _uk("Mercedes-Benz", "A Class", "Hatchback (2018 - )",
        ("A180 Sport Executive Hatchback 5dr Petrol 7G-DCT Euro 6 (s/s) (136 ps)", "Sport Executive",
         "Hatchback", P, A, 1332, 136, 5, 5, 131, 2018, None),
        ("A250e 15.6kWh AMG Line Premium Hatchback 5dr Petrol Plug-in Hybrid 8G-DCT Euro 6 (s/s) (218 ps)",
         "AMG Line Premium", "Hatchback", PPH, A, 1332, 218, 5, 5, 22, 2020, None, FWD, 15.6)),
    _uk("Mercedes-Benz", "C Class", "Saloon (2021 - )",
        ("C220d AMG Line Saloon 4dr Diesel G-Tronic+ Euro 6 (s/s) (200 ps)", "AMG Line", "Saloon", D, A,
         1993, 200, 4, 5, 130, 2021, None, RWD),
        ("C300e 25.4kWh AMG Line Premium Estate 5dr Petrol Plug-in Hybrid G-Tronic+ Euro 6 (s/s) (313 ps)",
         "AMG Line Premium", "Estate", PPH, A, 1999, 313, 5, 5, 14, 2022, None, RWD, 25.4)),
    _uk("Mercedes-Benz", "GLC", "SUV (2022 - )",
        ("GLC 220d 4Matic AMG Line SUV 5dr Diesel G-Tronic+ Euro 6 (s/s) (197 ps)", "AMG Line", "SUV", D, A,
         1993, 197, 5, 5, 164, 2022, None, AWD),
        ("GLC 300e 4Matic 31.2kWh AMG Line Premium SUV 5dr Petrol Plug-in Hybrid G-Tronic+ Euro 6 (s/s) (313 ps)",
         "AMG Line Premium", "SUV", PPH, A, 1999, 313, 5, 5, 15, 2023, None, AWD, 31.2)),
    _uk("Toyota", "Yaris", "Hatchback (2020 - )",
        ("1.5 VVT-h Icon Hatchback 5dr Petrol Hybrid CVT Euro 6 (s/s) (116 ps)", "Icon", "Hatchback", PH, A,
         1490, 116, 5, 5, 92, 2020, None),
        ("1.5 VVT-i Icon Hatchback 5dr Petrol Manual Euro 6 (s/s) (125 ps)", "Icon", "Hatchback", P, M,
         1490, 125, 5, 5, 128, 2020, None)),
    _uk("Toyota", "Corolla", "Hatchback (2019 - )",
        ("1.8 VVT-h Icon Tech Hatchback 5dr Petrol Hybrid CVT Euro 6 (s/s) (122 ps)", "Icon Tech", "Hatchback",
         PH, A, 1798, 122, 5, 5, 101, 2019, None),
        ("2.0 VVT-h GR Sport Touring Sports 5dr Petrol Hybrid CVT Euro 6 (s/s) (184 ps)", "GR Sport", "Estate",
         PH, A, 1987, 184, 5, 5, 109, 2019, None)),
    _uk("Toyota", "RAV4", "SUV (2019 - )",
        ("2.5 VVT-h Design SUV 5dr Petrol Hybrid CVT Euro 6 (s/s) (218 ps)", "Design", "SUV", PH, A,
         2487, 218, 5, 5, 126, 2019, None),
        ("2.5 VVT-h 18.1kWh Dynamic SUV 5dr Petrol Plug-in Hybrid CVT 4WD Euro 6 (s/s) (306 ps)", "Dynamic",
         "SUV", PPH, A, 2487, 306, 5, 5, 22, 2021, None, AWD, 18.1)),
    _uk("Nissan", "Qashqai", "SUV (2021 - )",
        ("1.3 DiG-T MH Acenta Premium SUV 5dr Petrol Hybrid Manual Euro 6 (s/s) (140 ps)", "Acenta Premium",
         "SUV", PH, M, 1332, 140, 5, 5, 143, 2021, None),
        ("1.5 E-Power N-Connecta SUV 5dr Petrol Hybrid Auto Euro 6 (s/s) (190 ps)", "N-Connecta", "SUV", PH, A,
         1497, 190, 5, 5, 119, 2022, None)),
    _uk("Nissan", "Juke", "SUV (2019 - )",
        ("1.0 DIG-T N-Connecta SUV 5dr Petrol Manual Euro 6 (s/s) (114 ps)", "N-Connecta", "SUV", P, M,
         999, 114, 5, 5, 135, 2019, None),),
    _uk("Nissan", "Leaf", "Hatchback (2018 - 2024)",
        ("40kWh N-Connecta Hatchback 5dr Electric Auto (150 ps)", "N-Connecta", "Hatchback", E, A,
         None, 150, 5, 5, 0, 2018, 2024, FWD, 40.0),
        ("e+ 62kWh Tekna Hatchback 5dr Electric Auto (217 ps)", "Tekna", "Hatchback", E, A,
         None, 217, 5, 5, 0, 2019, 2024, FWD, 62.0)),
    _uk("Kia", "Sportage", "SUV (2021 - )",
        ("1.6 T-GDi 3 SUV 5dr Petrol Manual Euro 6 (s/s) (150 ps)", "3", "SUV", P, M,
         1598, 150, 5, 5, 149, 2022, None),
        ("1.6 T-GDi 13.8kWh GT-Line S SUV 5dr Petrol Plug-in Hybrid Auto 4WD Euro 6 (s/s) (265 ps)", "GT-Line S",
         "SUV", PPH, A, 1598, 265, 5, 5, 25, 2022, None, AWD, 13.8)),
    _uk("Kia", "Niro", "SUV (2022 - )",
        ("1.6 GDi 2 SUV 5dr Petrol Hybrid DCT Euro 6 (s/s) (141 ps)", "2", "SUV", PH, A,
         1580, 141, 5, 5, 100, 2022, None),
        ("64.8kWh 4 SUV 5dr Electric Auto (204 ps)", "4", "SUV", E, A,
         None, 204, 5, 5, 0, 2022, None, FWD, 64.8)),
    _uk("Kia", "Picanto", "Hatchback (2017 - )",
        ("1.0 DPi 2 Hatchback 5dr Petrol Manual Euro 6 (s/s) (67 ps)", "2", "Hatchback", P, M,
         998, 67, 5, 4, 112, 2017, None),),
    _uk("Hyundai", "Tucson", "SUV (2015 - 2018)",
        ("1.6 GDi Blue Drive SE Nav SUV 5dr Petrol Manual Euro 6 (s/s) (132 ps)", "SE Nav", "SUV", P, M,
         1591, 132, 5, 5, 147, 2015, 2018, FWD, None, "35eef09b60b1422b8d4902aa22f841cd"),
        ("1.7 CRDi Blue Drive Premium SUV 5dr Diesel Manual Euro 6 (s/s) (116 ps)", "Premium", "SUV", D, M,
         1685, 116, 5, 5, 119, 2015, 2018)),
    _uk("Hyundai", "Kona", "SUV (2017 - 2023)",
        ("1.0 T-GDi SE Connect SUV 5dr Petrol Manual Euro 6 (s/s) (120 ps)", "SE Connect", "SUV", P, M,
         998, 120, 5, 5, 128, 2017, 2023),
        ("64kWh Premium SUV 5dr Electric Auto (204 ps)", "Premium", "SUV", E, A,
         None, 204, 5, 5, 0, 2018, 2023, FWD, 64.0)),
    _uk("Hyundai", "i10", "Hatchback (2019 - )",
        ("1.0 MPi SE Connect Hatchback 5dr Petrol Manual Euro 6 (s/s) (67 ps)", "SE Connect", "Hatchback", P, M,
         998, 67, 5, 4, 113, 2020, None),),
    _uk("Tesla", "Model 3", "Saloon (2019 - )",
        ("Long Range AWD Saloon 4dr Electric Auto 4WDE (Dual Motor) (440 ps)", "Long Range", "Saloon", E, A,
         None, 440, 4, 5, 0, 2019, None, AWD, 75.0),
        ("Standard Range Plus Saloon 4dr Electric Auto RWD (325 ps)", "Standard Range Plus", "Saloon", E, A,
         None, 325, 4, 5, 0, 2019, None, RWD, 55.0)),
    _uk("Tesla", "Model Y", "SUV (2021 - )",
        ("Long Range SUV 5dr Electric Auto 4WDE (Dual Motor) (514 ps)", "Long Range", "SUV", E, A,
         None, 514, 5, 5, 0, 2022, None, AWD, 75.0),
        ("Performance SUV 5dr Electric Auto 4WDE (Dual Motor) (534 ps)", "Performance", "SUV", E, A,
         None, 534, 5, 5, 0, 2022, None, AWD, 75.0)),
    _uk("Peugeot", "208", "Hatchback (2019 - )",
        ("1.2 PureTech Active Premium + Hatchback 5dr Petrol Manual Euro 6 (s/s) (100 ps)", "Active Premium +",
         "Hatchback", P, M, 1199, 100, 5, 5, 118, 2019, None),
        ("50kWh GT Hatchback 5dr Electric Auto (136 ps)", "GT", "Hatchback", E, A,
         None, 136, 5, 5, 0, 2020, None, FWD, 50.0)),
    _uk("Peugeot", "3008", "SUV (2016 - 2024)",
        ("1.5 BlueHDi Allure Premium SUV 5dr Diesel EAT Euro 6 (s/s) (130 ps)", "Allure Premium", "SUV", D, A,
         1499, 130, 5, 5, 129, 2018, 2024),
        ("1.6 13.2kWh GT SUV 5dr Petrol Plug-in Hybrid e-EAT Euro 6 (s/s) (225 ps)", "GT", "SUV", PPH, A,
         1598, 225, 5, 5, 32, 2020, 2024, FWD, 13.2)),
    _uk("Renault", "Clio", "Hatchback (2019 - )",
        ("1.0 TCe Techno Hatchback 5dr Petrol Manual Euro 6 (s/s) (90 ps)", "Techno", "Hatchback", P, M,
         999, 90, 5, 5, 118, 2022, None),
        ("1.6 E-TECH Iconic Hatchback 5dr Petrol Hybrid Auto Euro 6 (s/s) (145 ps)", "Iconic", "Hatchback", PH, A,
         1598, 145, 5, 5, 96, 2021, None)),
    _uk("Renault", "Zoe", "Hatchback (2019 - 2024)",
        ("R135 52kWh GT Line Hatchback 5dr Electric Auto (135 ps)", "GT Line", "Hatchback", E, A,
         None, 135, 5, 5, 0, 2019, 2024, FWD, 52.0),),
    _uk("Renault", "Captur", "SUV (2019 - )",
        ("1.0 TCe Techno SUV 5dr Petrol Manual Euro 6 (s/s) (90 ps)", "Techno", "SUV", P, M,
         999, 90, 5, 5, 131, 2022, None),),
    _uk("Skoda", "Octavia", "Estate (2020 - )",
        ("2.0 TDI SE L Estate 5dr Diesel DSG Euro 6 (s/s) (150 ps)", "SE L", "Estate", D, A,
         1968, 150, 5, 5, 122, 2020, None),
        ("1.5 TSI SE First Edition Hatchback 5dr Petrol Manual Euro 6 (s/s) (150 ps)", "SE First Edition",
         "Hatchback", P, M, 1498, 150, 5, 5, 130, 2020, None)),
    _uk("Skoda", "Fabia", "Hatchback (2021 - )",
        ("1.0 TSI SE Comfort Hatchback 5dr Petrol Manual Euro 6 (s/s) (95 ps)", "SE Comfort", "Hatchback", P, M,
         999, 95, 5, 5, 118, 2021, None),),
    _uk("Skoda", "Enyaq", "SUV (2021 - )",
        ("80 82kWh Loft SUV 5dr Electric Auto (204 ps)", "Loft", "SUV", E, A,
         None, 204, 5, 5, 0, 2021, None, RWD, 82.0),),
    _uk("MG", "MG4", "Hatchback (2022 - )",
        ("64kWh Trophy Long Range Hatchback 5dr Electric Auto (204 ps)", "Trophy Long Range", "Hatchback", E, A,
         None, 204, 5, 5, 0, 2022, None, RWD, 64.0),
        ("51kWh SE Hatchback 5dr Electric Auto (170 ps)", "SE", "Hatchback", E, A,
         None, 170, 5, 5, 0, 2022, None, RWD, 51.0)),
    _uk("MG", "ZS", "SUV (2017 - )",
        ("1.5 VTi-TECH Excite SUV 5dr Petrol Manual Euro 6 (s/s) (106 ps)", "Excite", "SUV", P, M,
         1498, 106, 5, 5, 141, 2020, None),
        ("72.6kWh Trophy Long Range SUV 5dr Electric Auto (156 ps)", "Trophy Long Range", "SUV", E, A,
         None, 156, 5, 5, 0, 2021, None, FWD, 72.6)),
    _uk("MG", "HS", "SUV (2019 - )",
        ("1.5 T-GDI 16.6kWh Exclusive SUV 5dr Petrol Plug-in Hybrid Auto Euro 6 (s/s) (258 ps)", "Exclusive", "SUV",
         PPH, A, 1490, 258, 5, 5, 43, 2021, None, FWD, 16.6),),
)


def _br(make: str, model: str, *rows: tuple) -> BrModel:
    """Rows: (version, fuel, transmission, cc, cv, doors, body, year_from, year_to[, seats])."""
    return BrModel(make, model, tuple(BrVersion(*row) for row in rows))


FLEX, GAS, DSL, ELE, HIB = "Flex", "Gasolina", "Diesel", "Elétrico", "Híbrido"
MAN, AUT, AMT, CVT = "Manual", "Automática", "Automatizada", "CVT"

BR_MODELS: tuple[BrModel, ...] = (
    _br("HONDA", "CIVIC",
        ("2.0 16V FLEXONE EXL 4P CVT", FLEX, CVT, 1997, 155, 4, "Sedã", 2017, 2021),
        ("2.0 16V FLEXONE SPORT 4P MANUAL", FLEX, MAN, 1997, 155, 4, "Sedã", 2017, 2019),
        ("1.5 16V TURBO GASOLINA TOURING 4P CVT", GAS, CVT, 1498, 173, 4, "Sedã", 2017, 2021)),
    _br("HONDA", "HR-V",
        ("1.8 16V FLEX EXL 4P AUTOMÁTICO", FLEX, CVT, 1799, 140, 4, "SUV", 2016, 2021),
        ("1.5 16V TURBO GASOLINA TOURING 4P CVT", GAS, CVT, 1498, 177, 4, "SUV", 2022, None)),
    _br("HONDA", "CITY",
        ("1.5 I-VTEC FLEX EX 4P CVT", FLEX, CVT, 1497, 126, 4, "Sedã", 2022, None),),
    _br("TOYOTA", "COROLLA",
        ("2.0 VVT-IE FLEX XEI DIRECT SHIFT", FLEX, CVT, 1987, 177, 4, "Sedã", 2020, None),
        ("1.8 VVT-I HYBRID FLEX ALTIS PREMIUM CVT", HIB, CVT, 1798, 122, 4, "Sedã", 2020, None),
        ("2.0 XEI 16V FLEX 4P AUTOMÁTICO", FLEX, AUT, 1987, 154, 4, "Sedã", 2015, 2019)),
    _br("TOYOTA", "HILUX",
        ("2.8 D-4D TURBO DIESEL CD SRX 4X4 AUTOMÁTICO", DSL, AUT, 2755, 204, 4, "Picape", 2016, None),
        ("2.8 D-4D TURBO DIESEL CD SR 4X4 MANUAL", DSL, MAN, 2755, 177, 4, "Picape", 2016, None)),
    _br("TOYOTA", "YARIS",
        ("1.5 16V FLEX XL PLUS CONNECT MULTIDRIVE", FLEX, CVT, 1496, 110, 4, "Hatch", 2019, 2023),),
    _br("CHEVROLET", "ONIX",
        ("1.0 TURBO FLEX PREMIER AUTOMÁTICO", FLEX, AUT, 999, 116, 4, "Hatch", 2020, None),
        ("1.0 FLEX LT MANUAL", FLEX, MAN, 999, 82, 4, "Hatch", 2020, None)),
    _br("CHEVROLET", "TRACKER",
        ("1.2 TURBO FLEX PREMIER AUTOMÁTICO", FLEX, AUT, 1199, 133, 4, "SUV", 2021, None),),
    _br("CHEVROLET", "S10",
        ("2.8 16V TURBO DIESEL HIGH COUNTRY CD 4X4 AUTOMÁTICO", DSL, AUT, 2776, 200, 4, "Picape", 2017, None),),
    _br("CHEVROLET", "BOLT",
        ("ELÉTRICO PREMIER AUTOMÁTICO", ELE, AUT, None, 203, 4, "Hatch", 2019, 2023),),
    _br("FIAT", "ARGO",
        ("1.0 FIREFLY FLEX DRIVE MANUAL", FLEX, MAN, 999, 77, 4, "Hatch", 2018, None),
        ("1.3 FIREFLY FLEX TREKKING CVT", FLEX, CVT, 1332, 109, 4, "Hatch", 2021, None)),
    _br("FIAT", "STRADA",
        ("1.3 FIREFLY FLEX VOLCANO CD CVT", FLEX, CVT, 1332, 109, 4, "Picape", 2021, None),
        ("1.4 MPI FREEDOM CS 8V FLEX 2P MANUAL", FLEX, MAN, 1368, 88, 2, "Picape", 2020, 2022, 2)),
    _br("FIAT", "TORO",
        ("2.0 16V TURBO DIESEL VOLCANO 4WD AT9", DSL, AUT, 1956, 170, 4, "Picape", 2017, None),),
    _br("FIAT", "MOBI",
        ("1.0 EVO FLEX LIKE MANUAL", FLEX, MAN, 999, 75, 4, "Hatch", 2017, None, 4),
        ("1.0 8V FLEX DRIVE GSR", FLEX, AMT, 999, 75, 4, "Hatch", 2018, 2021, 4)),
    _br("VOLKSWAGEN", "GOL",
        ("1.0 12V MPI TOTALFLEX 4P MANUAL", FLEX, MAN, 999, 84, 4, "Hatch", 2017, 2023),
        ("1.6 MSI TOTALFLEX 4P AUTOMÁTICO", FLEX, AUT, 1598, 120, 4, "Hatch", 2019, 2023)),
    _br("VOLKSWAGEN", "T-CROSS",
        ("1.4 250 TSI TOTAL FLEX HIGHLINE AUTOMÁTICO", FLEX, AUT, 1395, 150, 4, "SUV", 2019, None),
        ("1.0 200 TSI TOTAL FLEX AUTOMÁTICO", FLEX, AUT, 999, 128, 4, "SUV", 2019, None)),
    _br("VOLKSWAGEN", "POLO",
        ("1.0 200 TSI HIGHLINE AUTOMÁTICO", FLEX, AUT, 999, 128, 4, "Hatch", 2018, None),
        ("1.6 MSI TOTAL FLEX 4P I-MOTION", FLEX, AMT, 1598, 117, 4, "Hatch", 2018, 2019),
        ("1.0 MPI GASOLINA TRACK MANUAL", GAS, MAN, 999, 77, 4, "Hatch", 2023, None)),
    _br("HYUNDAI", "HB20",
        ("1.0 TGDI FLEX PLATINUM AUTOMÁTICO", FLEX, AUT, 998, 120, 4, "Hatch", 2020, None),
        ("1.0 12V FLEX SENSE MANUAL", FLEX, MAN, 998, 80, 4, "Hatch", 2020, None)),
    _br("HYUNDAI", "CRETA",
        ("2.0 16V FLEX PRESTIGE AUTOMÁTICO", FLEX, AUT, 1999, 167, 4, "SUV", 2017, 2021),
        ("1.0 TGDI FLEX LIMITED AUTOMÁTICO", FLEX, AUT, 998, 120, 4, "SUV", 2022, None)),
    _br("JEEP", "COMPASS",
        ("2.0 16V FLEX LONGITUDE AUTOMÁTICO", FLEX, AUT, 1995, 166, 4, "SUV", 2017, 2021),
        ("2.0 16V DIESEL LIMITED 4X4 AUTOMÁTICO", DSL, AUT, 1956, 170, 4, "SUV", 2017, None),
        ("1.3 T270 TURBO FLEX LIMITED AT6", FLEX, AUT, 1332, 185, 4, "SUV", 2022, None)),
    _br("JEEP", "RENEGADE",
        ("1.8 16V FLEX LONGITUDE 4P AUTOMÁTICO", FLEX, AUT, 1747, 139, 4, "SUV", 2016, 2021),
        ("1.3 T270 TURBO FLEX SPORT AT6", FLEX, AUT, 1332, 185, 4, "SUV", 2022, None)),
    _br("RENAULT", "KWID",
        ("1.0 12V SCE FLEX ZEN MANUAL", FLEX, MAN, 999, 71, 4, "Hatch", 2018, None),
        ("E-TECH ELÉTRICO INTENSE AUTOMÁTICO", ELE, AUT, None, 65, 4, "Hatch", 2022, None)),
    _br("RENAULT", "DUSTER",
        ("1.6 16V SCE FLEX ICONIC X-TRONIC", FLEX, CVT, 1598, 120, 4, "SUV", 2021, None),
        ("2.0 16V HI-FLEX DYNAMIQUE 4X2 AUTOMÁTICO", FLEX, AUT, 1998, 148, 4, "SUV", 2016, 2020),
        ("1.6 16V ETANOL EXPRESSION MANUAL", "Etanol", MAN, 1598, 120, 4, "SUV", 2016, 2018)),
    _br("RENAULT", "SANDERO",
        ("1.6 16V SCE FLEX STEPWAY ICONIC X-TRONIC", FLEX, CVT, 1598, 118, 4, "Hatch", 2020, 2022),
        ("1.0 12V SCE GNV LIFE MANUAL", "GNV", MAN, 999, 79, 4, "Hatch", 2020, 2022)),
)

#: Every (model, derivative) pair, in a fixed order the generators index into.
UK_DERIVATIVES: tuple[tuple[UkModel, UkDerivative], ...] = tuple(
    (model, derivative) for model in UK_MODELS for derivative in model.derivatives
)
BR_VERSIONS: tuple[tuple[BrModel, BrVersion], ...] = tuple(
    (model, version) for model in BR_MODELS for version in model.versions
)
UK_DERIVATIVES_BY_ID: dict[str, tuple[UkModel, UkDerivative]] = {d.derivative_id: (m, d) for m, d in UK_DERIVATIVES}

#: The most recent model year the generators produce (vehicles are dated relative to it).
REFERENCE_YEAR = 2026
