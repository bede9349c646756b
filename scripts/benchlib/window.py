"""The measured window of a point as CLOCK_MONOTONIC instants, and a thread
that acts at its two edges.

The load generator prints, once and before any connection opens,
`window monotonic_ns START END` (END is `open` without a duration); CLOCK_
MONOTONIC is shared by every process of the machine, so the harness can
switch its counters on and off at exactly those instants. A load generator
that does not print it yet gets an estimate: its `Running ...` line (printed
just after it fixes its start) plus the warm-up.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

WINDOW_LINE = re.compile(r"^window monotonic_ns (\d+) (\d+|open)\s*$", re.M)
RUNNING_LINE = re.compile(r"^Running ", re.M)
# How often the bench looks for the line while the load generator starts.
LINE_POLL_S = 0.002


@dataclass
class Window:
    start_ns: int
    end_ns: Optional[int]       # None: open (no duration); the caller closes it
    source: str                 # "loadgen-line" | "estimated" | "given"
    parts: list = field(default_factory=list)   # each load generator's [start, end]

    def as_json(self) -> dict:
        return {"start_monotonic_ns": self.start_ns, "end_monotonic_ns": self.end_ns,
                "source": self.source}


def parse_window_line(text: str) -> Optional[Window]:
    m = WINDOW_LINE.search(text)
    if not m:
        return None
    end = None if m.group(2) == "open" else int(m.group(2))
    return Window(int(m.group(1)), end, "loadgen-line")


def await_window(read_stdouts: Callable[[], list[str]], launched_ns: int, warmup_s: float,
                 duration_s: Optional[float], alive: Callable[[], bool] = lambda: True,
                 grace_s: float = 0.2, timeout_s: float = 2.0) -> Window:
    """The window of the load generators just launched (several share one
    point in the netns mode): the union of their lines, an open END taken
    as START + duration_s. A load generator that prints no line (an older
    build) gets an estimate: `grace_s` after its `Running` line (printed
    with the window line, in one write, by a current one), or `timeout_s`
    after the launch without any output, or at once when they all ended,
    START is that line's instant (else the launch) plus the warm-up,
    recorded as "estimated". Waiting for the line rather than guessing
    early: on a loaded machine a load generator may take a while to start,
    and a window guessed from the launch would then be wrong by that much."""
    deadline = launched_ns + int(timeout_s * 1e9)
    running_seen: Optional[int] = None
    while True:
        texts = read_stdouts()
        found = [parse_window_line(t) for t in texts]
        if found and all(found):
            ends = [w.end_ns if w.end_ns is not None or duration_s is None
                    else w.start_ns + int(duration_s * 1e9) for w in found]
            return Window(min(w.start_ns for w in found),
                          None if None in ends else max(ends), "loadgen-line",
                          [[w.start_ns, e] for w, e in zip(found, ends)])
        now = time.monotonic_ns()
        if running_seen is None and any(RUNNING_LINE.search(t) for t in texts):
            running_seen = now
        if running_seen is not None and now - running_seen >= grace_s * 1e9:
            break
        if now >= deadline or not alive():
            break
        time.sleep(LINE_POLL_S)
    start = (running_seen if running_seen is not None else launched_ns) + int(warmup_s * 1e9)
    end = None if duration_s is None else start + int(duration_s * 1e9)
    return Window(start, end, "estimated")


class EdgeTimer:
    """Calls on_open at the window's start and on_close at its end (or when
    close_now() is called, for an open window or an early stop), in a
    thread of its own; before_close, if given, lead_ns() ahead of the end
    (a reading that takes time and must be done before the load generator
    starts closing its connections). An edge already past is acted on at
    once. Errors of the callbacks are kept in .error, never raised here."""

    def __init__(self, window: Window, on_open: Callable[[], None], on_close: Callable[[], None],
                 before_close: Optional[Callable[[], None]] = None,
                 lead_ns: Callable[[], int] = lambda: 0):
        self.window = window
        self._on_open, self._on_close = on_open, on_close
        self._before_close, self._lead_ns = before_close, lead_ns
        self._close = threading.Event()
        self.opened = self.closed = False
        self.error: Optional[str] = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "EdgeTimer":
        self._thread.start()
        return self

    def close_now(self) -> None:
        self._close.set()

    def join(self, timeout_s: Optional[float] = None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _wait_until(self, t_ns: Optional[int]) -> None:
        # Sleep, not spin: on a 2-core machine a spinning harness would take
        # the CPU from what it measures. The instants actually acted at are
        # recorded by the callbacks, so a late wake-up is visible, not hidden.
        while not self._close.is_set():
            if t_ns is None:
                self._close.wait(0.5)
                continue
            left = (t_ns - time.monotonic_ns()) / 1e9
            if left <= 0:
                return
            self._close.wait(min(left, 0.5))

    def _run(self) -> None:
        try:
            self._wait_until(self.window.start_ns)
            if self._close.is_set() and time.monotonic_ns() < self.window.start_ns:
                return  # stopped before the window opened: nothing measured
            self._on_open()
            self.opened = True
            if self._before_close:
                end = self.window.end_ns
                self._wait_until(None if end is None else end - self._lead_ns())
                self._before_close()
            self._wait_until(self.window.end_ns)
            self._on_close()
            self.closed = True
        except Exception as e:  # recorded for the point's JSON, never lost
            self.error = f"{type(e).__name__}: {e}"
