"""What the deployment tests share: real server and job runner processes started as an operator
starts them, and which server process holds a given client connection (read from /proc: the
socket's inode among the process's open files)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def environment(**settings) -> dict:
    """The environment of a process under test: no real platform, the given settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECHAT_", "ALIPAY_", "DATABASE_URL", "APP_ENV", "RUN_JOBS", "JOBS_"))}
    env.update({"PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO"})
    env.update({k: str(v) for k, v in settings.items()})
    return env


class Started:
    """A process started in its own session, its output in a file; `stop` sends SIGTERM."""

    def __init__(self, args: list[str], env: dict, log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        self.pid = self.process.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)  # its own session: only what it started
                self.process.wait(10)
        return self.process.returncode


def wait_until(check, timeout: float = 60, what: str = "condition", started: Started | None = None):
    """Poll `check` until it answers something true; fail with the process's output if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if started is not None and started.process.poll() is not None:
            pytest.fail(f"{what}: the process ended ({started.process.returncode}):\n{started.output()[-3000:]}")
        answer = check()
        if answer:
            return answer
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout:.0f} s" + (f":\n{started.output()[-3000:]}" if started else ""))


def answers(url: str, **kwargs) -> bool:
    try:
        return requests.get(url, timeout=2, **kwargs).status_code == 200
    except requests.RequestException:
        return False


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the TCP connection 127.0.0.1:client -> :server."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return fields[9]
    return None


def holder_of(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server's end of the connection from `client_port`."""
    inode = _socket_inode(server_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


class Connection:
    """One kept-alive HTTP connection to the server, and the server process that accepted it."""

    def __init__(self, port: int, pids: list[int]) -> None:
        self.port = port
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.call("GET", "/healthz")
        self.pid = wait_until(lambda: holder_of(port, self.http.sock.getsockname()[1], pids), 5,
                              "the process holding a connection")

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        self.http.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = self.http.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else {})

    def close(self) -> None:
        self.http.close()


def one_connection_per_process(port: int, pids: list[int]) -> dict[int, Connection]:
    """A kept-alive connection to each of `pids` (new connections until every one got one)."""
    held: dict[int, Connection] = {}
    for _ in range(60):
        connection = Connection(port, pids)
        if connection.pid in held:
            connection.close()
        else:
            held[connection.pid] = connection
        if len(held) == len(pids):
            return held
    pytest.fail(f"60 connections all went to {sorted(held)} of {pids}")
