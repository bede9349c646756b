"""One status line per point: which of how many, elapsed, and an estimate of
what is left that learns from the points measured so far."""
from __future__ import annotations

import sys
import time


def fmt(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


class Progress:
    def __init__(self, total: int, estimate_s: float):
        self.total = total
        self.estimate_s = estimate_s
        self.t0 = time.monotonic()
        self.done_est = 0.0  # the estimate of the points already done

    def start(self, i: int, label: str) -> None:
        elapsed = time.monotonic() - self.t0
        left = self.estimate_s - self.done_est
        if self.done_est > 0:
            # Scale the remaining estimate by how far off it has been so far.
            left *= elapsed / self.done_est
        print(f"[{i}/{self.total}] {fmt(elapsed)} elapsed, ~{fmt(left)} left: {label}",
              file=sys.stderr, flush=True)

    def finish(self, estimate_of_point: float, outcome: str) -> None:
        self.done_est += estimate_of_point
        if outcome:
            print(f"    {outcome}", file=sys.stderr, flush=True)
