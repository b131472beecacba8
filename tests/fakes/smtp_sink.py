"""A local SMTP sink (aiosmtpd) on 127.0.0.1: keeps every message it accepts, and can be told to
refuse recipients, as a real server does with "550 mailbox unavailable".

    with SmtpSink() as sink:            # or SmtpSink(port=...) to listen on a chosen port
        ...send to 127.0.0.1:sink.port...
        message = sink.messages[-1]     # an email.message.EmailMessage
"""

from __future__ import annotations

import email
from email import policy

from aiosmtpd.controller import Controller

from tests.fakes.server_thread import FakeService, free_port  # aiosmtpd cannot be given port 0


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.sink.refuse_recipients:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.sink.messages.append(message)
        self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpSink(FakeService):
    """An SMTP server that accepts (or refuses) mail and records what it accepted."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list = []
        self.envelopes: list = []
        self.refuse_recipients = False
        self._server = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def attachments(self, message) -> list[tuple[str, bytes]]:
        """(filename, bytes) of each attachment of `message`."""
        return [(part.get_filename(), part.get_payload(decode=True)) for part in message.iter_attachments()]
