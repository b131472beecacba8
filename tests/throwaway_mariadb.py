"""A MariaDB server of a test's own (never the machine's): its own data directory and port, a CA
and a server certificate made at start, and the signals an outage test sends it (pause, resume,
kill, restart). Stopped, and its directory removed, by `stop`."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pymysql

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"


def available() -> str | None:
    """Why no throwaway server can be started here, or None when it can."""
    for tool in ("mariadb-install-db", "openssl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.path.exists(MARIADBD):
        return "mariadbd is not installed"
    try:
        pwd.getpwnam("mysql")
    except KeyError:
        return "no mysql user to run mariadbd as"
    if os.geteuid() != 0:
        return "mariadbd is started as the mysql user, which needs root"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> Path:
    """A self-signed CA in `directory` ({name}.pem, {name}.key)."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
             "-days", "2", "-subj", f"/CN={name}", cwd=directory)
    return directory / f"{name}.pem"


class ThrowawayMariaDB:
    """mariadbd on 127.0.0.1:`port` with TLS offered (a CA of its own, `ca`), root without a password."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="throwaway-mariadb-"))
        self.process: subprocess.Popen | None = None
        self.ca = make_ca(self.dir, "ca")
        (self.dir / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                 "-subj", "/CN=127.0.0.1", cwd=self.dir)
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=self.dir)
        shutil.chown(self.dir, "mysql")
        for path in self.dir.iterdir():
            shutil.chown(path, "mysql")
        subprocess.run(["mariadb-install-db", "--no-defaults", "--user=mysql", f"--datadir={self.dir}/data",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True)

    def url(self, name: str, options: str = "") -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{name}" + (f"?{options}" if options else "")

    def start(self) -> ThrowawayMariaDB:
        """Start mariadbd and wait until it answers."""
        d = self.dir
        self.process = subprocess.Popen(
            [MARIADBD, "--no-defaults", "--user=mysql", f"--datadir={d}/data", f"--socket={d}/sock",
             f"--port={self.port}", "--bind-address=127.0.0.1", "--character-set-server=utf8mb4",
             "--collation-server=utf8mb4_unicode_ci", f"--log-error={d}/error.log", f"--pid-file={d}/pid",
             "--skip-log-bin", f"--ssl-ca={d}/ca.pem", f"--ssl-cert={d}/server.pem", f"--ssl-key={d}/server.key"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1).close()
                return self
            except pymysql.err.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the throwaway mariadbd did not start: "
                                       + (d / "error.log").read_text(errors="replace")[-2000:])
                time.sleep(0.1)

    def create_database(self, name: str) -> None:
        admin = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        try:
            with admin.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        finally:
            admin.close()

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Stop the server (resumed first if paused) and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
