"""Samples a running server for what needs a time series: RSS, threads,
open fds, and (where it is one cheap read) its CPU time.

Each sample reads /proc/PID/status (VmRSS, VmHWM, Threads: kept by the
kernel per process, so one read whatever the thread count) and counts fds
with one stat() of /proc/PID/fd (its size is the count from Linux 6.2; an
older kernel gets a listing every FD_LIST_EVERY samples instead), for the
server and each of its processes. CPU time is the point's cgroup counter
(one read) when the point has one; otherwise /proc/PID/stat, which sums
every thread in the kernel (1.2 ms a read at 16384 threads), so it is left
empty above CPU_MAX_THREADS. Exact CPU and context switches over the window
are accounting.py's job, not this.

The sampler's own CPU time is measured (thread CPU clock) and reported per
point: it must stay under 1% of a core, 16384 threads included.
"""
from __future__ import annotations

import csv
import os
import platform
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from . import procfs

# vol_ctx/invol_ctx (context switches summed over the threads) are filled on
# the two rows marked at the window's edges only (accounting.py's sweeps);
# an empty cell is a value not measured at that moment.
FIELDS = ["t_s", "rss_kib", "hwm_kib", "threads", "fds", "cpu_s", "vol_ctx", "invol_ctx"]
CPU_MAX_THREADS = 1000
FD_LIST_EVERY = 10


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        parts = platform.release().split(".")
        return (int(parts[0]), int(parts[1].split("-")[0])) >= (major, minor)
    except (ValueError, IndexError):
        return False


# /proc/PID/fd's size is its number of fds from Linux 6.2 on.
FD_COUNT_BY_STAT = _kernel_at_least(6, 2)


def fd_count(pid: int) -> int:
    if FD_COUNT_BY_STAT:
        return os.stat(f"/proc/{pid}/fd").st_size
    return len(os.listdir(f"/proc/{pid}/fd"))


class Sampler:
    """A background thread that appends one row per interval for `pid` and
    its processes. pids() lists them (the point's cgroup, else the main
    threads' children); cpu_ns() is a cheap CPU counter, or None."""

    def __init__(self, pid: int, interval_s: float = 0.1,
                 pids: Optional[Callable[[], list[int]]] = None,
                 cpu_ns: Optional[Callable[[], Optional[int]]] = None):
        self.pid = pid
        self.interval_s = interval_s
        self.rows: list[dict] = []
        self._pids = pids or (lambda: procfs.children(pid))
        self._cpu_ns = cpu_ns
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._fds_seen = 0
        self._n = 0
        # This sampler's own CPU time (its thread only), in ns.
        self.cpu_ns = 0
        self.t0 = time.monotonic()
        # The same moment on the wall clock (older loadgens report their
        # window in wall-clock time only).
        self.t0_unix = time.time()

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def sample_now(self) -> Optional[dict]:
        """One row now (also used by the runner at marked moments)."""
        try:
            # The main process must be readable; its children may come and go.
            st = procfs.status(self.pid, ("VmRSS", "VmHWM", "Threads"))
        except (OSError, ValueError, IndexError):
            return None  # the process is gone (or a zombie): nothing to read
        pids = [self.pid] + [p for p in self._pids() if p != self.pid]
        for p in pids[1:]:
            try:
                child = procfs.status(p, ("VmRSS", "VmHWM", "Threads"))
            except (OSError, ValueError, IndexError):
                continue
            for k in ("VmRSS", "VmHWM", "Threads"):
                st[k] = st.get(k, 0) + child.get(k, 0)
        if FD_COUNT_BY_STAT or self._n % FD_LIST_EVERY == 0:
            fds = 0
            for p in pids:
                try:
                    fds += fd_count(p)
                except OSError:
                    continue
            self._fds_seen = fds
        self._n += 1
        row = {
            "t_s": round(time.monotonic() - self.t0, 3),
            "rss_kib": st.get("VmRSS", 0),
            # The peak of this process image. wait4's ru_maxrss is no use for
            # this: it keeps the high-water mark of the forked bench (Python
            # with matplotlib) from before the exec.
            "hwm_kib": st.get("VmHWM", 0),
            "threads": st.get("Threads", 0),
            "fds": self._fds_seen,
            "cpu_s": self._cpu(pids, st.get("Threads", 0)),
        }
        self.rows.append(row)
        return row

    def mark(self, extra: dict) -> Optional[dict]:
        """A row now with values measured elsewhere at this moment (the
        window's edges: context switches)."""
        row = self.sample_now()
        if row is not None:
            row.update(extra)
        return row

    def _cpu(self, pids: list[int], threads: int) -> Optional[float]:
        if self._cpu_ns is not None:
            try:
                ns = self._cpu_ns()
                return None if ns is None else round(ns / 1e9, 6)
            except OSError:
                return None
        if threads > CPU_MAX_THREADS:
            return None
        return round(sum(procfs.ticks(pids)) / procfs.USER_HZ, 3)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            c0 = time.thread_time_ns()
            self.sample_now()
            self.cpu_ns += time.thread_time_ns() - c0
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - start)))

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            w.writerows({k: ("" if r.get(k) is None else r[k]) for k in FIELDS}
                        for r in sorted(self.rows, key=lambda r: r["t_s"]))


def read_samples(path: Path) -> list[dict]:
    """The rows of a samples CSV; an empty cell (a value not measured) is
    left out of its row, so window_delta() skips that row for that key."""
    if not path.exists():
        return []
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def window_delta(rows: list[dict], key: str, t_from: float, t_to: float) -> float | None:
    """How much a counter grew between two times, linearly interpolated
    between the samples around each end; None without enough samples."""
    pts = [(r["t_s"], r[key]) for r in rows if key in r]
    if len(pts) < 2 or t_to <= t_from:
        return None

    def at(t: float) -> float:
        if t <= pts[0][0]:
            return pts[0][1]
        for (t1, v1), (t2, v2) in zip(pts, pts[1:]):
            if t1 <= t <= t2:
                return v1 if t2 == t1 else v1 + (v2 - v1) * (t - t1) / (t2 - t1)
        return pts[-1][1]

    return at(t_to) - at(t_from)
