"""`server.py --processes N`: N real processes sharing one port on MariaDB. A captcha fetched from
one is answered through the other, the sign-in and SMS limits count both, each job runs once per
scheduled run and in one process only, a process that dies is started again, and a second job
runner started by mistake waits, running nothing, until the first stops. Bad `--processes` values and SQLite with several processes are
refused before anything is written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter

import pytest

from handlers import processes
from jobs.scheduler import JOBS
from tests.conftest import mysql_database
from tests.deploy.procs import (ROOT, Started, answers, children, environment, one_connection_per_process,
                                wait_until)
from tests.fakes.server_thread import free_port

RAN = re.compile(r"job (\w+) ran for slot (\S+ \S+) UTC in [^:]+:(\d+):")
RUNNER = re.compile(r"this process is the job runner \([^:]+:(\d+):")


@pytest.mark.parametrize("value", ["0", "-1", "abc", "2.5", "", str(processes.cores() * 4 + 1)])
def test_a_bad_process_count_is_refused_with_a_clear_message_and_nothing_written(tmp_path, value):
    env = environment(DATABASE_URL=f"sqlite:///{tmp_path}/data/healthcode.db")
    run = subprocess.run([sys.executable, "server.py", "--processes", value, "--port", str(free_port())], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"进程数须为 1 至 {processes.cores() * 4} 的整数" in run.stderr and "auto" in run.stderr
    assert not (tmp_path / "data").exists()  # refused before the database was opened


def test_sqlite_refuses_more_than_one_process(tmp_path):
    env = environment(DATABASE_URL=f"sqlite:///{tmp_path}/data/healthcode.db")
    run = subprocess.run([sys.executable, "server.py", "--processes", "2", "--port", str(free_port())], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "SQLite 只能由一个进程使用，多进程须用 MySQL" in run.stderr
    assert not (tmp_path / "data").exists()


def test_auto_is_one_process_per_core():
    assert processes.parse_count("auto") == processes.cores()
    assert processes.parse_count(str(processes.cores() * 4)) == processes.cores() * 4


def _ran(text: str) -> list[tuple[str, str, int]]:
    return [(job, slot, int(pid)) for job, slot, pid in RAN.findall(text)]


def test_two_processes_share_captchas_and_limits_and_run_each_job_once(tmp_path):
    url, drop = mysql_database()
    port = free_port()
    env = environment(DATABASE_URL=url, RUN_JOBS=1, JOBS_EVERY_SECONDS=2, CAPTCHA_FIXED_ANSWER="ABCD")
    server = runner = None
    connections: dict = {}
    try:
        server = Started(["server.py", "--processes", "2", "--port", str(port)], env, tmp_path / "server.log")
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 90, "the server", server)
        pids = wait_until(lambda: (found := children(server.pid)) and len(found) == 2 and found, 10, "two processes")
        # A second job runner, started by mistake beside the server that already runs the jobs.
        runner = Started(["-m", "jobs"], env, tmp_path / "jobs.log")
        connections = one_connection_per_process(port, pids)
        a, b = (connections[pid] for pid in pids)

        # Three wrong passwords, counted by both processes together: the fourth needs a captcha.
        phone = "13900000001"
        for connection in (a, b, a):
            status, body = connection.call("POST", "/api/v1/auth/phone/login", {"phone": phone, "password": "wrong-1"})
            assert (status, body["error"]["code"]) == (401, "invalid_credentials")
        status, body = b.call("POST", "/api/v1/auth/phone/login", {"phone": phone, "password": "wrong-1"})
        assert (status, body["error"]["code"], body["error"]["field"]) == (400, "captcha_required", "captcha")
        # A captcha fetched from one process is answered through the other, once.
        status, body = a.call("GET", "/api/v1/auth/captcha")
        assert status == 200
        key = body["data"]["captcha_key"]
        status, body = b.call("POST", "/api/v1/auth/phone/login",
                              {"phone": phone, "password": "wrong-1", "captcha_key": key, "captcha": "abcd"})
        assert (status, body["error"]["code"]) == (401, "invalid_credentials")  # the captcha passed
        status, body = a.call("POST", "/api/v1/auth/phone/login",
                              {"phone": phone, "password": "wrong-1", "captcha_key": key, "captcha": "ABCD"})
        assert (status, body["error"]["code"], body["error"]["field"]) == (400, "captcha_expired", "captcha")
        # The fifth failure, then the limit, whichever process answers.
        key = b.call("GET", "/api/v1/auth/captcha")[1]["data"]["captcha_key"]
        status, body = a.call("POST", "/api/v1/auth/phone/login",
                              {"phone": phone, "password": "wrong-1", "captcha_key": key, "captcha": "ABCD"})
        assert (status, body["error"]["code"]) == (401, "invalid_credentials")
        for connection in (b, a):
            status, body = connection.call("POST", "/api/v1/auth/phone/login", {"phone": phone, "password": "x"})
            assert (status, body["error"]["code"]) == (429, "too_many_failures")
            assert "密码错误次数过多" in body["error"]["message"]

        # SMS codes: five a minute per phone, counted across both processes.
        for n in range(5):
            status, body = (a, b)[n % 2].call("POST", "/api/v1/auth/sms/send", {"phone": "13900000002", "purpose": "register"})
            assert status == 200, body
        for connection in (a, b):
            status, body = connection.call("POST", "/api/v1/auth/sms/send", {"phone": "13900000002", "purpose": "register"})
            assert (status, body["error"]["code"], body["error"]["field"]) == (429, "sms_rate_limited", "phone")

        # Jobs: every two seconds; each scheduled run happens once, in the first server process.
        wait_until(lambda: len({slot for _, slot, _ in _ran(server.output())}) >= 3, 60, "three scheduled runs", server)
        text = server.output() + runner.output()
        ran = _ran(text)
        assert {job for job, _, _ in ran} == {job_id for job_id, _, _ in JOBS}
        assert [run for run, n in Counter((job, slot) for job, slot, _ in ran).items() if n > 1] == []
        holders = {pid for _, _, pid in ran}
        assert len(holders) == 1 and holders <= set(pids)  # one process of the two, never the other
        assert "another job runner is active" in runner.output() and "waits and runs nothing" in runner.output()
        assert runner.pid not in holders and not RUNNER.search(runner.output())

        # A process that dies is started again on its socket; the port keeps answering meanwhile.
        for connection in connections.values():
            connection.close()
        other = next(pid for pid in pids if pid not in holders)
        os.kill(other, signal.SIGKILL)
        wait_until(lambda: (now := children(server.pid)) and len(now) == 2 and other not in now, 20,
                   "the killed process started again", server)
        assert "异常退出" in server.output()
        assert all(answers(f"http://127.0.0.1:{port}/healthz") for _ in range(20))

        # The server stops in order (its lease given back): the waiting runner takes over.
        assert server.stop() == 0
        assert server.output().count("已停止") == 2  # both processes, each in order
        wait_until(lambda: RUNNER.search(runner.output()), 30, "the waiting runner taking over", runner)
        wait_until(lambda: any(pid == runner.pid for _, _, pid in _ran(runner.output())), 30, "its first run", runner)
        slots = Counter((job, slot) for job, slot, _ in _ran(server.output() + runner.output()))
        assert [run for run, n in slots.items() if n > 1] == []  # still once each, across the handover
        assert runner.stop() == 0
    finally:
        for connection in connections.values():
            connection.close()
        for started in (runner, server):
            if started is not None:
                started.stop()
        drop()


@pytest.mark.parametrize("value, production", [(2, True), (60, False), (-1, False)])
def test_jobs_every_seconds_is_for_tests_only(value, production):
    from config import DEV_DATA_KEY, Config

    config = Config(app_env="production" if production else "development", secret_key="s" * 40,
                    data_key=DEV_DATA_KEY if not production else "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                    jobs_every_seconds=value)
    with pytest.raises(SystemExit, match="JOBS_EVERY_SECONDS"):
        config.check()
