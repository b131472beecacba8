"""Fields that several operations share, stating in /openapi.json the limits their services
check (so the document and the server cannot drift apart: both read the same constants). They are
`deferred` (handlers/schema.py): the services check them, with their own codes, in their order."""

from __future__ import annotations

from handlers.schema import Num, Str
from services.people.identity import PHONE_INPUT_PATTERN
from services.risk_data.risk_inputs import TEMPERATURE_MAX, TEMPERATURE_MIN
from services.scanning.scans import REQUEST_ID_RE


def request_id(label: str) -> Str:
    """The client's request id: 8-64 characters of [A-Za-z0-9_-] (services.scanning.scans.REQUEST_ID_RE)."""
    return Str(label, min_len=8, max_len=64, pattern=REQUEST_ID_RE.pattern, example="k3J9-x2Lq_0001", deferred=True)


def temperature(label: str, **kwargs) -> Num:
    """A body temperature in ℃, within what services.risk_data.risk_inputs.check_temperature accepts."""
    return Num(label, minimum=float(TEMPERATURE_MIN), maximum=float(TEMPERATURE_MAX), deferred=True, **kwargs)


def phone(label: str, **kwargs) -> Str:
    """A mainland mobile number as people type it (services.people.identity.validate_phone): 11 digits
    from 1[3-9], spaces and hyphens anywhere, an optional +86 or 86 in front."""
    return Str(label, max_len=None, pattern=PHONE_INPUT_PATTERN, example="138 0000 0000", deferred=True, **kwargs)
