"""Outgoing e-mail over SMTP (SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_FROM,
SMTP_STARTTLS), and the e-mail address check.

`send_mail` blocks on the network: call it off the IOLoop. Every failure becomes one `MailError`
with a Chinese message and whether it is temporary (server down or slow: 503, try again later)
or a refusal (the server said no: 502). Logs name the failure's type and the masked recipient,
never the password or the message.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from services.common.errors import ApiError

log = logging.getLogger("healthcode.mail")

TIMEOUT_SECONDS = 15.0
MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward path
# Deliberately plain: a local part of the usual characters, a domain of at least two labels.
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


class MailError(Exception):
    """The message was not sent. `temporary`: the server could not be reached (retry later)."""

    def __init__(self, message: str, temporary: bool):
        super().__init__(message)
        self.message = message
        self.temporary = temporary


def check_address(value, field: str = "email") -> str:
    """A plausible e-mail address (stripped), or a 400 naming `field`."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_ADDRESS_LENGTH or not _EMAIL_RE.fullmatch(text) or ".." in text:
        raise ApiError("invalid_email", "邮箱地址格式不正确", 400, field)
    return text


def mask_address(address: str) -> str:
    """"zhang.san@example.com" -> "z***@example.com" (for logs)."""
    local, _, domain = address.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def _one_line(text: str) -> str:
    # Header values must not carry line breaks (header injection); user text may.
    return " ".join(str(text).split())


def build_message(config, to: str, subject: str, body: str,
                  attachments: list[tuple[str, bytes, str]] = ()) -> EmailMessage:
    """The message as it will be sent: plain-text body, attachments (filename, bytes, MIME type)."""
    message = EmailMessage()
    sender = config.smtp_from or config.smtp_user or "noreply@localhost"
    message["From"] = formataddr(("健康码平台", sender))
    message["To"] = to
    message["Subject"] = _one_line(subject)
    message["Message-ID"] = make_msgid(domain=sender.partition("@")[2] or "localhost")
    message.set_content(body)
    for filename, content, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=_one_line(filename))
    return message


def send_mail(config, to: str, subject: str, body: str, attachments: list[tuple[str, bytes, str]] = (),
              timeout: float = TIMEOUT_SECONDS) -> None:
    """Send one message through the configured SMTP server; raise MailError when it was not sent."""
    if not config.smtp_host:
        raise MailError("服务器未配置邮件发送（SMTP），请联系管理员", temporary=True)
    message = build_message(config, to, subject, body, attachments)
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=timeout) as server:
            if config.smtp_starttls:
                server.starttls(context=ssl.create_default_context())
            if config.smtp_user:
                server.login(config.smtp_user, config.smtp_password)
            server.send_message(message)
    except smtplib.SMTPRecipientsRefused:
        _failed("recipient refused", to)
        raise MailError("邮件服务器拒绝了该收件地址，请检查邮箱地址", temporary=False) from None
    except smtplib.SMTPAuthenticationError:
        _failed("authentication failed", to)
        raise MailError("邮件服务器登录失败，请联系管理员检查邮件配置", temporary=False) from None
    except smtplib.SMTPNotSupportedError:
        _failed("STARTTLS not supported", to)
        raise MailError("邮件服务器不支持加密连接，请联系管理员检查邮件配置", temporary=False) from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, TimeoutError,
            ConnectionError) as exc:
        _failed(type(exc).__name__, to)
        raise MailError("邮件服务器暂时无法连接，请稍后重试", temporary=True) from None
    except smtplib.SMTPResponseException as exc:
        # A 4xx reply is the server's "try again later"; 5xx is a refusal.
        _failed(f"SMTP {exc.smtp_code}", to)
        raise MailError("邮件服务器拒绝发送该邮件，请稍后重试或更换邮箱", temporary=400 <= exc.smtp_code < 500) from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        _failed(type(exc).__name__, to)
        raise MailError("邮件发送失败，请稍后重试", temporary=True) from None
    log.info("mail sent to %s", mask_address(to))


def _failed(what: str, to: str) -> None:
    log.warning("mail to %s not sent: %s", mask_address(to), what)
