"""Investigation tasks (H1-H6): list sources' records, imports, and each record's history."""

from __future__ import annotations

INVESTIGATION_MODELS: list = []
