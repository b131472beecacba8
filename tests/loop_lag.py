"""A probe of an event loop's lag, for tests and benchmarks: how long the loop went without
running a callback while some operation ran.

    with LoopLagProbe(server.loop) as probe:
        client.export(...)                 # the operation, from another thread
    assert probe.longest_ms < 50, probe.report()

A callback on the probed loop re-arms itself every `interval` seconds and records the longest gap
past that interval (a stall: the loop was busy elsewhere, or could not get the GIL or a core). A
watchdog thread meanwhile notes the loop thread's stack whenever the loop has been silent past
`sample_after_ms`, so that a failing test says what the loop was doing, not only how long.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback


class LoopLagProbe:
    """Measures the longest stall of `loop` (an asyncio loop or a Tornado IOLoop running in
    another thread) between entering and leaving the `with` block."""

    def __init__(self, loop, interval: float = 0.005, sample_after_ms: float = 30.0) -> None:
        self.loop = getattr(loop, "asyncio_loop", loop)  # a Tornado IOLoop wraps an asyncio loop
        self.interval = interval
        self.sample_after = sample_after_ms / 1000
        self.longest = 0.0
        self.ticks = 0
        self.stalls: list[tuple[float, float]] = []  # (when, seconds) of each gap past sample_after
        self.samples: list[str] = []  # the loop thread's stack during long gaps (a few)
        self._last = 0.0
        self._running = False
        self._started = threading.Event()
        self._thread_id: int | None = None
        self._watchdog: threading.Thread | None = None

    @property
    def longest_ms(self) -> float:
        return self.longest * 1000

    def _begin(self) -> None:
        self._thread_id = threading.get_ident()
        self._last = self._began = time.perf_counter()
        self._running = True
        self.loop.call_later(self.interval, self._tick)
        self._started.set()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self._last - self.interval
        self.ticks += 1
        if gap > self.longest:
            self.longest = gap
        if gap > self.sample_after:
            self.stalls.append((now, gap))
        self._last = now
        if self._running:
            self.loop.call_later(self.interval, self._tick)

    def _watch(self) -> None:
        noted_for = 0.0
        while self._running:
            time.sleep(self.interval)
            last = self._last
            if time.perf_counter() - last > self.interval + self.sample_after and last != noted_for:
                frame = sys._current_frames().get(self._thread_id)
                if frame is not None and len(self.samples) < 20:
                    # The project's own frames say which code it was (the libraries' say only how).
                    stack = traceback.format_stack(frame)
                    own = [line for line in stack if "site-packages" not in line and "/lib/python3" not in line]
                    self.samples.append("".join(own[-6:] + stack[-2:]))
                noted_for = last

    def __enter__(self) -> "LoopLagProbe":
        self.loop.call_soon_threadsafe(self._begin)
        if not self._started.wait(5):
            raise RuntimeError("the probed loop does not run callbacks")
        self._watchdog = threading.Thread(target=self._watch, daemon=True, name="loop-lag-watchdog")
        self._watchdog.start()
        return self

    def __exit__(self, *exc) -> None:
        done = threading.Event()

        def stop():
            self._tick()  # a stall still going on at the end counts too
            self._running = False
            done.set()

        self.loop.call_soon_threadsafe(stop)
        done.wait(5)
        self._watchdog.join(1)

    def idle(self, seconds: float = 1.0) -> float:
        """The longest stall of the same loop with nothing asked of it, over `seconds` (in ms):
        what the machine alone costs, beside the figure under load (for the report, never to
        relax a limit). Call it outside the `with` block."""
        other = LoopLagProbe(self.loop, self.interval, self.sample_after * 1000)
        with other:
            time.sleep(seconds)
        self.idle_ms = other.longest_ms
        return self.idle_ms

    def report(self) -> str:
        """The figures and, for the long gaps, where the loop thread was."""
        idle = getattr(self, "idle_ms", None)
        lines = [f"longest stall {self.longest_ms:.1f} ms over {self.ticks} ticks"
                 + (f" (idle, same loop, just after: {idle:.1f} ms)" if idle is not None else "") + "; "
                 f"{len(self.stalls)} gaps over {self.sample_after * 1000:.0f} ms: "
                 + ", ".join(f"{gap * 1000:.0f} (at {when - self._began:.1f} s)" for when, gap in self.stalls[:30])]
        for sample in self.samples[:5]:
            lines.append("--- the loop thread during a long gap:\n" + sample)
        return "\n".join(lines)
