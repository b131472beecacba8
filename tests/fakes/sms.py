"""A recording SMS provider for tests: messages are kept in a list instead of being sent."""

from __future__ import annotations

import re

from services.messaging.sms import SmsUnavailable


class RecordingSms:
    """Keeps (phone, template, content); `failing = True` makes every send fail."""

    name = "recording"

    def __init__(self):
        self.messages: list[tuple[str, str, str]] = []
        self.failing = False

    def send(self, phone: str, template: str, content: str, params: dict | None = None) -> None:
        if self.failing:
            raise SmsUnavailable("provider down")
        self.messages.append((phone, template, content))

    def last_code(self, phone: str) -> str:
        """The latest verification code sent to `phone`."""
        for to, template, content in reversed(self.messages):
            if to == phone and template == "code":
                return re.search(r"\d{6}", content).group(0)
        raise AssertionError(f"no code was sent to {phone}")

    def last_password(self, phone: str) -> str:
        """The latest password sent to `phone`."""
        for to, template, content in reversed(self.messages):
            if to == phone and template in ("new_password", "account_created"):
                return re.search(r"码为(\S+?)，", content).group(1)
        raise AssertionError(f"no password was sent to {phone}")
