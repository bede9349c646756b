"""Samples a running server from /proc about ten times a second.

/proc/PID/status describes the main thread only (its context-switch counts
are that thread's), so the counts are summed over /proc/PID/task/*/status.
CPU time comes from /proc/PID/stat, which for a process covers all its
threads, including those that have exited. A thread that exits between two
samples takes up to one interval of context switches with it; wait4's
rusage at exit gives the exact totals to check against.
"""
from __future__ import annotations

import csv
import os
import threading
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

FIELDS = ["t_s", "rss_kib", "hwm_kib", "threads", "cpu_s", "vol_ctx", "invol_ctx", "fds"]


def _status_fields(path: str, wanted: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in wanted:
                out[key] = int(rest.split()[0])
    return out


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces and parentheses: split
        # after the last ')' so the field numbers stay right.
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def _descendants(pid: int) -> list[int]:
    """pid and every process below it (a server with worker processes, as
    nginx or server-epoll --processes, is the sum of them all)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


class Sampler:
    """A background thread that appends one row per interval for `pid` and
    its child processes."""

    def __init__(self, pid: int, interval_s: float = 0.1):
        self.pid = pid
        self.interval_s = interval_s
        self.rows: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        # Last counts seen per thread id, so that threads which exit keep
        # contributing what they had done when last seen.
        self._ctx: dict[str, tuple[int, int]] = {}
        self.t0 = time.monotonic()
        # The same moment on the wall clock: the loadgen reports its measured
        # window in wall-clock time (start_unix_s).
        self.t0_unix = time.time()

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def sample_now(self) -> dict | None:
        """One row now (also used by the runner at marked moments)."""
        try:
            # The main process must be readable; its children may come and go.
            status = _status_fields(f"/proc/{self.pid}/status", ("VmRSS", "VmHWM", "Threads"))
            cpu = _cpu_seconds(self.pid)
        except (OSError, ValueError, IndexError):
            return None  # the process is gone (or a zombie): nothing to read
        fds = 0
        for pid in _descendants(self.pid):
            try:
                if pid != self.pid:
                    child = _status_fields(f"/proc/{pid}/status", ("VmRSS", "VmHWM", "Threads"))
                    for k in ("VmRSS", "VmHWM", "Threads"):
                        status[k] = status.get(k, 0) + child.get(k, 0)
                    cpu += _cpu_seconds(pid)
                for tid in os.listdir(f"/proc/{pid}/task"):
                    try:
                        t = _status_fields(f"/proc/{pid}/task/{tid}/status",
                                           ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))
                    except OSError:
                        continue  # exited between listdir and open
                    self._ctx[tid] = (t.get("voluntary_ctxt_switches", 0),
                                      t.get("nonvoluntary_ctxt_switches", 0))
                fds += len(os.listdir(f"/proc/{pid}/fd"))
            except (OSError, ValueError, IndexError):
                continue
        row = {
            "t_s": round(time.monotonic() - self.t0, 3),
            "rss_kib": status.get("VmRSS", 0),
            # The peak of this process image. wait4's ru_maxrss is no use for
            # this: it keeps the high-water mark of the forked bench (Python
            # with matplotlib) from before the exec.
            "hwm_kib": status.get("VmHWM", 0),
            "threads": status.get("Threads", 0),
            "cpu_s": round(cpu, 3),
            "vol_ctx": sum(v for v, _ in self._ctx.values()),
            "invol_ctx": sum(i for _, i in self._ctx.values()),
            "fds": fds,
        }
        self.rows.append(row)
        return row

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            # Counting fds costs a listdir of up to 20000 entries: fine at 10 Hz.
            self.sample_now()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - start)))

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(self.rows)


def read_samples(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def window_delta(rows: list[dict], key: str, t_from: float, t_to: float) -> float | None:
    """How much a counter grew between two times, linearly interpolated
    between the samples around each end; None without enough samples."""
    pts = [(r["t_s"], r[key]) for r in rows]
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
