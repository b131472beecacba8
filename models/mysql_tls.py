"""TLS to MySQL / MariaDB, from DATABASE_URL's options, for both kinds of connection.

    mysql://user:pass@db.example:3306/healthcode?ssl_ca=/etc/ssl/db-ca.pem
        &ssl_verify_cert=true&ssl_verify_identity=true[&ssl_cert=client.pem&ssl_key=client.key]

`ssl_ca` turns TLS on (the server must then speak it: PyMySQL and asyncmy both refuse a server
that does not). The server's certificate is checked against that CA (`ssl_verify_cert`, default
true) and its name against the URL's host (`ssl_verify_identity`, default true); `ssl_cert` and
`ssl_key` present a client certificate. One `ssl.SSLContext` serves peewee's PyMySQL connections
and the event loop's asyncmy ones (models/mysql_loop.py), so both verify alike.
"""

from __future__ import annotations

import ssl

OPTIONS = ("ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(options: dict, name: str) -> bool:
    value = options.get(name, "true").strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(f"DATABASE_URL option {name}={value!r}: use true or false")
    return value in _TRUE


def context(options: dict) -> ssl.SSLContext | None:
    """The TLS context DATABASE_URL's options ask for, or None without `ssl_ca` (no TLS).
    A CA file that cannot be read fails here, at start-up."""
    unknown = [name for name in options if name.startswith("ssl") and name not in OPTIONS]
    if unknown:
        raise ValueError(f"unknown DATABASE_URL option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
    if not options.get("ssl_ca"):
        if any(name in options for name in OPTIONS):
            raise ValueError("DATABASE_URL: TLS options need ssl_ca (the CA that signed the server's certificate)")
        return None
    tls = ssl.create_default_context(cafile=options["ssl_ca"])
    tls.check_hostname = _flag(options, "ssl_verify_identity")
    if not _flag(options, "ssl_verify_cert"):
        if tls.check_hostname:
            raise ValueError("DATABASE_URL: ssl_verify_identity needs ssl_verify_cert")
        tls.verify_mode = ssl.CERT_NONE
    if options.get("ssl_cert"):
        tls.load_cert_chain(options["ssl_cert"], keyfile=options.get("ssl_key"))
    return tls


def explain(exc: BaseException) -> str:
    """A start-up failure to connect, in words an operator can act on."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return f"the database server's TLS certificate does not verify against ssl_ca ({text})"
    if "SSL" in text or "TLS" in text:
        return f"TLS to the database failed ({text})"
    return text
