"""Serving from several processes on one port (`server.py --processes N`).

Every process is the same stateless server: what must hold across them (captcha answers, sign-in
failures, SMS limits, sessions, tokens, the job runner's lease) is in the database; what each
keeps for itself is only what may differ between them for a moment (caches of a few seconds, the
scan's group-commit queue, its load-shedding figures).

The parent binds the port before forking, one listening socket per process with SO_REUSEPORT, so
the kernel spreads new connections evenly over the processes (one shared socket would let the
first process to wake accept a whole burst of connections). It then only watches: a process that
dies abnormally is started again on its socket after a second (after MAX_RESTARTS the parent
stops them all and exits with 1, so the service manager sees it), and SIGTERM / SIGINT are passed
on to every process, each of which stops in order; the parent exits when they all have. Databases,
pools and threads are made in each process after the fork, never in the parent.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time

import tornado.netutil

log = logging.getLogger("healthcode.processes")

PER_CORE_LIMIT = 4  # more processes than 4 per core only add memory and context switches
MAX_RESTARTS = 100  # then the parent gives up and exits non-zero, for the service manager to see


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse_count(text: str) -> int:
    """`--processes`: a whole number from 1 to 4 per core, or `auto` (one per core)."""
    limit = cores() * PER_CORE_LIMIT
    if text.strip().lower() == "auto":
        return cores()
    try:
        count = int(text)
    except ValueError:
        count = None
    if count is None or not 1 <= count <= limit:
        raise argparse.ArgumentTypeError(
            f"进程数须为 1 至 {limit} 的整数（本机 {cores()} 核，每核至多 {PER_CORE_LIMIT} 个）或 auto（每核一个）: "
            f"{text!r} / expected 1..{limit} or auto")
    return count


def bind(count: int, port: int, host: str) -> list[socket.socket]:
    """`count` listening sockets on host:port (SO_REUSEPORT); port 0 picks one port for all."""
    sockets: list[socket.socket] = []
    for _ in range(count):
        sockets += tornado.netutil.bind_sockets(port, host, reuse_port=count > 1)
        port = sockets[0].getsockname()[1]
    return sockets


def fork(count: int, sockets: list[socket.socket]) -> tuple[int, socket.socket]:
    """Fork `count` server processes and watch them. In each process, returns (its number, its
    listening socket); the parent never returns (it exits once every process has stopped)."""
    children: dict[int, int] = {}
    stopping = False

    def start(number: int) -> bool:
        # Signals wait while the child still has the parent's handlers.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        else:
            children[pid] = number
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        return pid == 0

    def own(number: int) -> tuple[int, socket.socket]:
        for i, sock in enumerate(sockets):  # the others' sockets are theirs
            if i != number:
                sock.close()
        return number, sockets[number]

    for number in range(count):
        if start(number):
            return own(number)

    def pass_on(signum, frame):
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    restarts = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        number = children.pop(pid, None)
        if number is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        if code == 0 or stopping:
            continue
        restarts += 1
        if restarts > MAX_RESTARTS:
            log.error("服务进程已异常退出 %d 次，停止全部进程 / too many restarts: stopping", MAX_RESTARTS)
            pass_on(signal.SIGTERM, None)
            continue
        log.error("服务进程 %d（pid %d）异常退出（%s），1 秒后重新启动 / ended abnormally: restarting", number, pid, code)
        time.sleep(1)
        if stopping:
            continue
        if start(number):
            return own(number)
    for sock in sockets:
        sock.close()
    sys.exit(1 if restarts > MAX_RESTARTS else 0)
