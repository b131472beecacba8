"""deploy/nginx.conf run as it is, with only its host-specific values replaced, from a directory of
its own (never the system's nginx set-up): for the deployment test and bench/overload.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def nginx_binary() -> str:
    """Debian's nginx, installed by apt-get when missing."""
    found = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx")
    if not found:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], capture_output=True, timeout=600)
        found = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx")
    if not found:
        pytest.fail("nginx is not installed and apt-get could not install nginx-light")
    return found


def certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 signed by it: (ca.pem, server.pem, server.key)."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=healthcode-test-ca")
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


def site(directory: Path, https: int, http: int, upstream: int, cert: Path, key: Path,
         max_conns: int | None = None) -> Path:
    """deploy/nginx.conf with this machine's values (and `max_conns`, the requests in flight to the
    processes, when given); each replaced value must be found as many times as expected, so a
    change of the file that this test no longer covers fails here."""
    text = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    limit = f"max_conns={max_conns}" if max_conns is not None else "max_conns=64"
    for old, new, times in (("max_conns=64;", limit + ";", 1),("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;", 1),
                            ("listen 80;", f"listen 127.0.0.1:{http};", 1),
                            ("/etc/ssl/healthcode/fullchain.pem", str(cert), 1),
                            ("/etc/ssl/healthcode/privkey.pem", str(key), 1),
                            ("server 127.0.0.1:8000 ", f"server 127.0.0.1:{upstream} ", 1),
                            ("/opt/healthcode/", f"{ROOT}/", 2)):
        assert text.count(old) == times, f"deploy/nginx.conf: {old!r}"
        text = text.replace(old, new)
    path = directory / "site.conf"
    path.write_text(text, encoding="utf-8")
    return path


def main_config(directory: Path, site_path: Path) -> Path:
    """The nginx.conf around the site: everything nginx writes goes under `directory`."""
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / name).mkdir()
    path = directory / "nginx.conf"
    path.write_text(f"""
user root;
worker_processes 1;
error_log {directory}/error.log warn;
worker_rlimit_nofile 8192;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {site_path};
}}
""", encoding="utf-8")
    return path
