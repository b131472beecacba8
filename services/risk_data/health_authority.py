"""The health authority's back-office roles (D2-D4, D8, D9): the city and district health
commission (卫健委) and centre for disease control (疾控), which own risk data (lists of close
contacts and cases, risk areas, rules, corrections, appeals). Like every role they sit at a region
level and see only their region; the city admin creates them (`admin_auth.creatable_roles`)."""

from __future__ import annotations

from services.accounts import admin_auth

HEALTH_ROLES: dict[str, tuple[str, str]] = {
    "health_city": ("市卫健委", "city"),
    "health_district": ("区县卫健委", "district"),
    "cdc_city": ("市疾控中心", "city"),
    "cdc_district": ("区县疾控中心", "district"),
}
for _code, (_label, _level) in HEALTH_ROLES.items():
    admin_auth.register_role(_code, _label, _level)
