"""The places the scan tests register at, made in the demo's regions (services/operations/demo.py)."""

from models.regions import Region
from services.operations import demo
from services.venues import places

COMPOUND, OTHER_COMPOUND, DISTRICT = "410105001001001", "410105001001002", "410105"
# name: (place type, the place's name (None: its region's), its region's code)
PLACES = {
    "home": ("compound", None, COMPOUND),
    "other": ("compound", None, OTHER_COMPOUND),
    "metro": ("metro", "紫荆山站", DISTRICT),
    "airport": ("airport", "新郑国际机场", DISTRICT),
    "market": ("supermarket", "丹尼斯百货", DISTRICT),
    "hospital": ("medical", "省人民医院", DISTRICT),
}


def demo_places(*names: str) -> dict:
    """Load the demo data, then make the places `names` (keys of PLACES): their codes' tokens by name."""
    demo.load()
    tokens = {}
    for name in names:
        place_type, place_name, region_code = PLACES[name]
        region = Region.get(Region.code == region_code)
        _, code = places.create_place(place_type_code=place_type, name=place_name or region.name, region=region)
        tokens[name] = code.token
    return tokens
