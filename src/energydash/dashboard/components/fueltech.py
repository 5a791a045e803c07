"""Fuel-technology colours and labels, following OpenElectricity's conventions.

The palette is the one OpenElectricity (formerly OpenNEM) uses on its charts, so a reader who
knows their site reads ours the same way: coal dark, gas orange, solar yellow, wind green,
hydro blue, batteries light blue.
"""

from __future__ import annotations

FUELTECH_COLOURS: dict[str, str] = {
    "coal_black": "#121212",
    "coal_brown": "#744A26",
    "gas_ccgt": "#FDB462",
    "gas_ocgt": "#FFCD96",
    "gas_recip": "#F9DCBC",
    "gas_steam": "#F48E1B",
    "gas_wcmg": "#B3B3B3",
    "distillate": "#E15C34",
    "bioenergy_biomass": "#A3886F",
    "bioenergy_biogas": "#4CB9B9",
    "hydro": "#5EA0C0",
    "pumps": "#88AFD0",
    "wind": "#2A7E3F",
    "solar_utility": "#FED500",
    "solar_rooftop": "#FFF58D",
    "battery_charging": "#B2DAEF",
    "battery_discharging": "#00A2FA",
    "imports": "#521986",
    "exports": "#927BAD",
}

FUELTECH_LABELS: dict[str, str] = {
    "coal_black": "Coal (black)",
    "coal_brown": "Coal (brown)",
    "gas_ccgt": "Gas (CCGT)",
    "gas_ocgt": "Gas (OCGT)",
    "gas_recip": "Gas (reciprocating)",
    "gas_steam": "Gas (steam)",
    "gas_wcmg": "Gas (waste coal mine)",
    "distillate": "Distillate",
    "bioenergy_biomass": "Biomass",
    "bioenergy_biogas": "Biogas",
    "hydro": "Hydro",
    "pumps": "Pumps",
    "wind": "Wind",
    "solar_utility": "Solar (utility)",
    "solar_rooftop": "Solar (rooftop)",
    "battery_charging": "Battery (charging)",
    "battery_discharging": "Battery (discharging)",
    "imports": "Imports",
    "exports": "Exports",
}

# Stacking order of a generation mix: baseload at the bottom, variable and storage on top.
FUELTECH_ORDER: tuple[str, ...] = tuple(FUELTECH_COLOURS)

UNKNOWN_COLOUR = "#9CA3AF"


def colour(fueltech: str) -> str:
    return FUELTECH_COLOURS.get(fueltech, UNKNOWN_COLOUR)


def label(fueltech: str) -> str:
    return FUELTECH_LABELS.get(fueltech, fueltech.replace("_", " ").capitalize())


def ordered(fueltechs: set[str] | list[str]) -> list[str]:
    """Fueltechs in stacking order, unknown ones last (alphabetically)."""
    known = [f for f in FUELTECH_ORDER if f in fueltechs]
    return known + sorted(f for f in fueltechs if f not in FUELTECH_COLOURS)
