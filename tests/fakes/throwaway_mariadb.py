"""A MariaDB server of a test's own (never the machine's): its own data directory, socket and
loopback port, so that a test may freeze it (SIGSTOP), kill it (SIGKILL) and start it again."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pymysql

from tests.fakes.server_thread import free_port


class ThrowawayMariaDB:
    """`start()` installs a data directory in a temporary directory (once) and runs mariadbd on
    `port`; `freeze()`, `thaw()`, `kill()` signal it; `stop()` shuts it down and removes the
    directory. `url(name)` is the DATABASE_URL of one of its databases."""

    def __init__(self, *options: str) -> None:
        """`options`: more mariadbd options (a replication test's --server-id, --log-bin, ...)."""
        self.options = options
        # Under /tmp itself, not pytest's private temp tree: the server runs as the mysql user.
        self.base = tempfile.mkdtemp(prefix="throwaway-mariadb-")
        os.chmod(self.base, 0o755)
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, name: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{name}"

    def start(self) -> "ThrowawayMariaDB":
        if not os.path.isdir(self.data):
            shutil.chown(self.base, "mysql")
            subprocess.run(["mariadb-install-db", "--no-defaults", "--user=mysql", f"--datadir={self.data}",
                            "--auth-root-authentication-method=normal", "--skip-test-db"],
                           check=True, capture_output=True, timeout=120)
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=mysql", f"--datadir={self.data}",
             f"--socket={self.base}/sock", f"--port={self.port}", "--bind-address=127.0.0.1",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
             f"--log-error={self.base}/error.log", f"--pid-file={self.base}/pid",
             *(() if any(o.startswith("--log-bin") for o in self.options) else ("--skip-log-bin",)),
             "--innodb-buffer-pool-size=32M", *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.admin().close()
                return self
            except pymysql.err.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("throwaway mariadbd did not start: " + self.error_log()) from None
                time.sleep(0.1)

    def admin(self):
        """A connection of the test's own (autocommit), outside the platform's pool."""
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="", charset="utf8mb4",
                               connect_timeout=2, read_timeout=10, autocommit=True)

    def create_database(self, name: str) -> str:
        """Create database `name`; return its URL."""
        with self.admin() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return self.url(name)

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGCONT)  # a frozen process would not die at once
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        """Shut the server down (its process only: started here, stopped by its own id)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.base, ignore_errors=True)

    def error_log(self) -> str:
        try:
            with open(os.path.join(self.base, "error.log"), encoding="utf-8", errors="replace") as log:
                return log.read()[-2000:]
        except OSError:
            return ""
