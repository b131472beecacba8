"""Characters no name, address or remark may hold: control characters (NUL, BEL, ESC, ...; tab
and line breaks are allowed) and the bidirectional overrides and isolates that make a text
display differently from what it holds (U+202E turns "王明小" into a different reading)."""

from __future__ import annotations

import re

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def has_control_characters(text: str) -> bool:
    """True when `text` holds a character of CONTROL_CHARACTERS."""
    return CONTROL_CHARACTERS.search(text) is not None
