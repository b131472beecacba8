"""Hourly scan statistics (I2): counts per place and hour, no person ids."""

from __future__ import annotations

STATISTICS_MODELS: list = []
