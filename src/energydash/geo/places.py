"""Real towns of each NEM region, where generated facilities are named and placed.

Coordinates are the towns' own (to about 0.01°). Tags say which kinds of plant a town suits:
``c`` coal (the Hunter, Lithgow, the Latrobe Valley, central Queensland), ``h`` hydro (the
Snowy, the Kiewa, the Tasmanian highlands), ``g`` gas, ``r`` a city whose rooftops make a
rooftop-solar aggregate; every untagged town suits wind, solar, batteries and small plant.
Towns whose point lies within 0.1° of the simplified outline's edge are not used for placement
(``usable_places`` drops them), so a facility never sits on the simplified coast or border.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from energydash.geo.outlines import in_region

PLACE_MARGIN_DEG = 0.1


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    lat: float
    lng: float
    tags: str = ""


def _p(name: str, lat: float, lng: float, tags: str = "") -> Place:
    return Place(name, lat, lng, tags)


PLACES: dict[str, tuple[Place, ...]] = {
    "NSW1": (
        _p("Muswellbrook", -32.27, 150.89, "c"),
        _p("Singleton", -32.57, 151.17, "cg"),
        _p("Lithgow", -33.48, 150.16, "c"),
        _p("Cessnock", -32.83, 151.36, "c"),
        _p("Scone", -32.05, 150.87),
        _p("Tumut", -35.30, 148.22, "h"),
        _p("Talbingo", -35.58, 148.30, "h"),
        _p("Khancoban", -36.22, 148.13, "h"),
        _p("Jindabyne", -36.42, 148.62, "h"),
        _p("Cooma", -36.24, 149.13, "h"),
        _p("Uranquinty", -35.19, 147.25, "g"),
        _p("Wagga Wagga", -35.12, 147.37, "g"),
        _p("Sydney", -33.87, 151.00, "r"),
        _p("Penrith", -33.75, 150.69, "r"),
        _p("Canberra", -35.28, 149.13, "r"),
        _p("Dubbo", -32.25, 148.60),
        _p("Orange", -33.28, 149.10),
        _p("Bathurst", -33.42, 149.58),
        _p("Tamworth", -31.09, 150.93, "g"),
        _p("Armidale", -30.51, 151.67),
        _p("Moree", -29.47, 149.85),
        _p("Narrabri", -30.33, 149.78, "g"),
        _p("Gunnedah", -30.98, 150.25),
        _p("Parkes", -33.14, 148.18),
        _p("Forbes", -33.38, 148.01),
        _p("Griffith", -34.29, 146.05),
        _p("Hay", -34.51, 144.84),
        _p("Deniliquin", -35.53, 144.96),
        _p("Broken Hill", -31.95, 141.45),
        _p("Goulburn", -34.75, 149.72),
        _p("Yass", -34.84, 148.91),
        _p("Glen Innes", -29.74, 151.74),
        _p("Inverell", -29.78, 151.11),
        _p("Mudgee", -32.60, 149.59),
        _p("Cobar", -31.50, 145.84),
        _p("Wellington", -32.56, 148.94),
        _p("Young", -34.31, 148.30),
        _p("Coleambally", -34.80, 145.88),
        _p("Walgett", -30.02, 148.12),
        _p("Bourke", -30.09, 145.94),
        _p("Nyngan", -31.56, 147.19),
        _p("Leeton", -34.55, 146.40),
        _p("Gilgandra", -31.71, 148.66),
        _p("Crookwell", -34.46, 149.47),
    ),
    "QLD1": (
        _p("Gladstone", -23.84, 151.15, "cg"),
        _p("Biloela", -24.40, 150.51, "c"),
        _p("Nanango", -26.67, 151.99, "c"),
        _p("Millmerran", -27.87, 151.27, "c"),
        _p("Chinchilla", -26.74, 150.63, "cg"),
        _p("Rockhampton", -23.38, 150.40, "c"),
        _p("Collinsville", -20.55, 147.84, "c"),
        _p("Tully", -17.93, 145.80, "h"),
        _p("Ravenshoe", -17.61, 145.48, "h"),
        _p("Esk", -27.24, 152.42, "h"),
        _p("Roma", -26.57, 148.79, "g"),
        _p("Dalby", -27.18, 151.26, "g"),
        _p("Condamine", -26.93, 150.13, "g"),
        _p("Brisbane", -27.47, 152.90, "r"),
        _p("Ipswich", -27.61, 152.76, "r"),
        _p("Toowoomba", -27.56, 151.95, "r"),
        _p("Emerald", -23.53, 148.16),
        _p("Moranbah", -22.00, 148.05),
        _p("Clermont", -22.82, 147.64),
        _p("Charters Towers", -20.08, 146.26),
        _p("Hughenden", -20.84, 144.20),
        _p("Kingaroy", -26.54, 151.84),
        _p("Gympie", -26.19, 152.67),
        _p("Bundaberg", -24.87, 152.20),
        _p("Mackay", -21.14, 149.05),
        _p("Atherton", -17.27, 145.48),
        _p("Mareeba", -17.00, 145.43),
        _p("Gayndah", -25.63, 151.61),
        _p("Monto", -24.86, 151.12),
        _p("Miles", -26.66, 150.18),
        _p("St George", -28.04, 148.58),
        _p("Blackwater", -23.58, 148.88),
        _p("Barcaldine", -23.55, 145.29),
        _p("Childers", -25.24, 152.28),
        _p("Oakey", -27.43, 151.72, "g"),
        _p("Warra", -26.93, 150.92),
    ),
    "VIC1": (
        _p("Morwell", -38.23, 146.40, "c"),
        _p("Traralgon", -38.20, 146.54, "c"),
        _p("Moe", -38.17, 146.26, "c"),
        _p("Yallourn", -38.18, 146.35, "c"),
        _p("Kiewa", -36.26, 147.01, "h"),
        _p("Mount Beauty", -36.74, 147.17, "h"),
        _p("Eildon", -37.23, 145.90, "h"),
        _p("Dartmouth", -36.53, 147.50, "h"),
        _p("Laverton", -37.86, 144.77, "gr"),
        _p("Mortlake", -38.08, 142.81, "g"),
        _p("Sale", -38.11, 147.07, "g"),
        _p("Melbourne", -37.75, 145.05, "r"),
        _p("Geelong", -38.10, 144.36, "r"),
        _p("Ballarat", -37.56, 143.85),
        _p("Bendigo", -36.76, 144.28),
        _p("Shepparton", -36.38, 145.40),
        _p("Horsham", -36.71, 142.20),
        _p("Ararat", -37.28, 142.93),
        _p("Hamilton", -37.74, 142.02),
        _p("Colac", -38.34, 143.58),
        _p("Wangaratta", -36.36, 146.31),
        _p("Benalla", -36.55, 145.98),
        _p("Seymour", -37.03, 145.14),
        _p("Kerang", -35.73, 143.92),
        _p("Echuca", -36.13, 144.75),
        _p("Stawell", -37.06, 142.78),
        _p("Camperdown", -38.23, 143.15),
        _p("Bacchus Marsh", -37.67, 144.44),
        _p("Bairnsdale", -37.82, 147.61),
        _p("Maryborough", -37.05, 143.74),
        _p("St Arnaud", -36.62, 143.26),
        _p("Charlton", -36.27, 143.35),
        _p("Donald", -36.37, 142.98),
        _p("Nhill", -36.33, 141.65),
        _p("Casterton", -37.58, 141.40),
        _p("Heywood", -38.13, 141.63),
        _p("Yea", -37.21, 145.43),
        _p("Kyneton", -37.25, 144.45),
    ),
    "SA1": (
        _p("Elizabeth", -34.72, 138.67, "gr"),
        _p("Salisbury", -34.76, 138.64, "gr"),
        _p("Port Pirie", -33.18, 138.02, "g"),
        _p("Mount Barker", -35.07, 138.86, "r"),
        _p("Jamestown", -33.20, 138.60),
        _p("Snowtown", -33.78, 138.22),
        _p("Burra", -33.68, 138.93),
        _p("Clare", -33.83, 138.61),
        _p("Peterborough", -32.97, 138.84),
        _p("Roseworthy", -34.53, 138.75),
        _p("Mount Gambier", -37.83, 140.78, "g"),
        _p("Naracoorte", -36.96, 140.74),
        _p("Keith", -36.10, 140.35),
        _p("Murray Bridge", -35.12, 139.27),
        _p("Tailem Bend", -35.25, 139.45),
        _p("Mannum", -34.91, 139.31),
        _p("Renmark", -34.17, 140.75),
        _p("Berri", -34.28, 140.60),
        _p("Waikerie", -34.18, 139.98),
        _p("Loxton", -34.45, 140.57),
        _p("Cleve", -33.70, 136.49),
        _p("Kimba", -33.14, 136.42),
        _p("Wudinna", -32.99, 135.46),
        _p("Roxby Downs", -30.56, 136.90),
        _p("Leigh Creek", -30.59, 138.40),
        _p("Hawker", -31.89, 138.42),
        _p("Orroroo", -32.73, 138.61),
        _p("Quorn", -32.35, 138.04),
        _p("Crystal Brook", -33.35, 138.21),
        _p("Bordertown", -36.31, 140.77),
        _p("Kapunda", -34.34, 138.92),
        _p("Blyth", -33.85, 138.49),
        _p("Lameroo", -35.33, 140.52),
    ),
    "TAS1": (
        _p("Tarraleah", -42.30, 146.45, "h"),
        _p("Poatina", -41.80, 146.92, "h"),
        _p("Waddamana", -42.12, 146.74, "h"),
        _p("Strathgordon", -42.77, 146.05, "h"),
        _p("Derwent Bridge", -42.14, 146.23, "h"),
        _p("Rosebery", -41.78, 145.54, "h"),
        _p("Sheffield", -41.38, 146.33, "h"),
        _p("Ouse", -42.48, 146.71, "h"),
        _p("Bothwell", -42.38, 147.01, "h"),
        _p("Queenstown", -42.08, 145.56, "h"),
        _p("Tullah", -41.73, 145.61, "h"),
        _p("Meadowbank", -42.61, 146.85, "h"),
        _p("Longford", -41.60, 147.12, "g"),
        _p("Hobart", -42.85, 147.27, "r"),
        _p("Launceston", -41.43, 147.14, "r"),
        _p("Devonport", -41.20, 146.35),
        _p("Scottsdale", -41.16, 147.52),
        _p("Oatlands", -42.30, 147.37),
        _p("Campbell Town", -41.93, 147.49),
        _p("Deloraine", -41.52, 146.66),
        _p("New Norfolk", -42.78, 147.06),
        _p("Fingal", -41.64, 147.97),
        _p("Ross", -42.03, 147.49),
    ),
}

KIND_TAG = {
    "coal_black": "c",
    "coal_brown": "c",
    "hydro": "h",
    "solar_rooftop": "r",
    "gas_ccgt": "g",
    "gas_ocgt": "g",
    "gas_recip": "g",
    "gas_steam": "g",
    "distillate": "g",
}


@cache
def usable_places(region: str) -> tuple[Place, ...]:
    """The region's towns that lie well inside its outline (see the module docstring)."""
    return tuple(
        p for p in PLACES.get(region, ()) if in_region(region, p.lat, p.lng, PLACE_MARGIN_DEG)
    )


def places_for(region: str, kind: str) -> tuple[Place, ...]:
    """Towns of ``region`` that suit ``kind``: tagged ones first-class, untagged for the rest.

    Coal, hydro and rooftop solar only go to towns tagged for them (when the region has any);
    gas also to untagged towns; everything else to untagged towns.
    """
    places = usable_places(region)
    tag = KIND_TAG.get(kind)
    general = tuple(p for p in places if not p.tags)
    if tag is None:
        return general or places
    tagged = tuple(p for p in places if tag in p.tags)
    if tag == "g":
        return tagged + general
    return tagged or general or places
