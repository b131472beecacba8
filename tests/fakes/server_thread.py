"""Run a Tornado application on 127.0.0.1 in a background thread, for tests and fakes, and the
start / stop / `with` that every fake service shares."""

from __future__ import annotations

import asyncio
import socket
import threading

import tornado.httpserver
import tornado.ioloop
import tornado.netutil

from models.db import request_connections


def free_port() -> int:
    """A loopback port nothing listens on now (for a server to start on, or to find closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """Serve `app` on 127.0.0.1 at a free port in its own thread and IOLoop.

    Use as a context manager or call `start()` / `stop()`. `url` is the base URL, `port` the port.
    """

    def __init__(self, app, **server_kwargs):
        self.app = app
        self.server_kwargs = server_kwargs
        self.port: int | None = None
        self._loop: tornado.ioloop.IOLoop | None = None
        self._server = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def loop(self) -> tornado.ioloop.IOLoop | None:
        """The IOLoop serving the app (None before start and after stop)."""
        return self._loop

    def _run(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self._loop = tornado.ioloop.IOLoop.current()
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(self.app, **self.server_kwargs)
        self._server.add_sockets(sockets)
        self._ready.set()
        self._loop.start()
        request_connections.loop_stopped()  # an app's requests kept this thread's connection
        self._loop.close(all_fds=True)

    def start(self) -> "ServerThread":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        def _shutdown():
            self._server.stop()
            self._loop.stop()

        self._loop.add_callback(_shutdown)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FakeService:
    """Base of the fake services: `start()` / `stop()` the server a subclass keeps in `_server`
    (a ServerThread, or anything else that starts and stops), or use it as a context manager."""

    _server = None

    def start(self):
        """Start serving in a background thread."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
