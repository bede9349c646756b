"""Readers of /proc for the window's accounting: per-CPU time from
/proc/stat, and the per-process and per-thread counters used where a point
has no cgroup (schedstat, /proc/PID/stat ticks) and for context switches.

The parsers take the files' text, so the unit tests run them on fixtures
(testdata/proc/); the readers around them take a pid.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Optional

USER_HZ = os.sysconf("SC_CLK_TCK")
# /proc/stat's per-CPU columns, in order (guest time is already in user/nice).
PROC_STAT_FIELDS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]


# ---------------------------------------------------------------- /proc/stat

def parse_proc_stat(text: str) -> dict[int, list[int]]:
    """CPU number -> its tick counters (PROC_STAT_FIELDS order)."""
    out: dict[int, list[int]] = {}
    for line in text.splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *values = line.split()
            ticks = [int(v) for v in values[:len(PROC_STAT_FIELDS)]]
            out[int(name[3:])] = ticks + [0] * (len(PROC_STAT_FIELDS) - len(ticks))
    return out


def read_proc_stat() -> dict[int, list[int]]:
    with open("/proc/stat") as f:
        return parse_proc_stat(f.read())


def per_cpu_delta(before: dict[int, list[int]], after: dict[int, list[int]],
                  cpus: Iterable[int]) -> dict[str, dict[str, float]]:
    """{"0": {"user_s": ..., "idle_s": ...}} for each CPU of cpus, in seconds
    (USER_HZ resolution: 10 ms at the usual 100)."""
    out = {}
    for cpu in sorted(set(cpus)):
        if cpu in before and cpu in after:
            out[str(cpu)] = {f"{name}_s": round((a - b) / USER_HZ, 4)
                             for name, b, a in zip(PROC_STAT_FIELDS, before[cpu], after[cpu])}
    return out


# ---------------------------------------------------------------- one process or thread

def parse_schedstat(text: str) -> int:
    """/proc/PID[/task/TID]/schedstat: nanoseconds on CPU (the first field)."""
    return int(text.split()[0])


def parse_stat_ticks(text: str) -> tuple[int, int]:
    """/proc/PID/stat: (utime, stime) in ticks. For a process they include
    its exited threads."""
    # The command name (field 2) may hold spaces and parentheses: split
    # after the last ')' so the field numbers stay right.
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def parse_status(text: str, wanted: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in wanted:
            out[key] = int(rest.split()[0])
    return out


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def status(pid: int, wanted: tuple[str, ...]) -> dict[str, int]:
    return parse_status(_read(f"/proc/{pid}/status"), wanted)


def thread_count(pids: Iterable[int]) -> int:
    """Threads of the processes still there: one status read each."""
    n = 0
    for p in pids:
        try:
            n += status(p, ("Threads",)).get("Threads", 0)
        except (OSError, ValueError):
            continue
    return n


def stat_ticks(pid: int) -> tuple[int, int]:
    return parse_stat_ticks(_read(f"/proc/{pid}/stat"))


def ticks(pids: Iterable[int]) -> tuple[int, int]:
    """(utime, stime) in ticks summed over the processes still there."""
    ut = st = 0
    for p in pids:
        try:
            u, s = stat_ticks(p)
        except (OSError, ValueError, IndexError):
            continue
        ut, st = ut + u, st + s
    return ut, st


def children(pid: int) -> list[int]:
    """pid and the processes below it, found through each process's main
    thread (/proc/PID/task/PID/children): one read per process, not per
    thread. A process forked by another thread is missed here; a cgroup
    (the default) has no such gap."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo.extend(int(c) for c in _read(f"/proc/{p}/task/{p}/children").split())
        except (OSError, ValueError):
            continue
    return out


# ---------------------------------------------------------------- a sweep over threads

@dataclass
class Sweep:
    """Per-thread counters of some processes at one moment."""
    run_ns: dict = field(default_factory=dict)        # (pid, tid) -> ns on CPU
    ctx: dict = field(default_factory=dict)           # (pid, tid) -> (voluntary, involuntary)
    threads: int = 0


def sweep(pids: Iterable[int], run_time: bool, ctx: bool) -> Sweep:
    """Reads every thread of pids, in a fixed order, so that two sweeps at
    two moments give each thread an interval of the same length. Newest
    thread first: a thread per connection opened by the load generator is
    read before the idle ones and the server's own."""
    out = Sweep()
    for pid in sorted(pids):
        try:
            tids = sorted((int(t) for t in os.listdir(f"/proc/{pid}/task")), reverse=True)
        except OSError:
            continue
        for tid in tids:
            base = f"/proc/{pid}/task/{tid}"
            try:
                if run_time:
                    out.run_ns[(pid, tid)] = parse_schedstat(_read(base + "/schedstat"))
                if ctx:
                    st = parse_status(_read(base + "/status"),
                                      ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))
                    out.ctx[(pid, tid)] = (st.get("voluntary_ctxt_switches", 0),
                                           st.get("nonvoluntary_ctxt_switches", 0))
            except (OSError, ValueError, IndexError):
                continue   # exited between the listing and the read
            out.threads += 1
    return out


@dataclass
class SweepDelta:
    # What the threads alive at the end did since the start (from zero for
    # those that started in between): the whole, unless `lost` > 0.
    run_ns: Optional[int]
    voluntary: Optional[int]
    involuntary: Optional[int]
    lost: int          # threads seen at the start and gone at the end

    @property
    def exact(self) -> bool:
        return self.lost == 0


def sweep_delta(start: Sweep, end: Sweep) -> SweepDelta:
    """What every thread did between two sweeps. A thread that started in
    between counts from zero (all it did was inside); one that ended in
    between took its counts with it: `lost` says how many, and the sums
    are then only lower bounds."""
    keys = start.run_ns.keys() | start.ctx.keys()
    lost = sum(1 for k in keys if k not in end.run_ns and k not in end.ctx)
    run = vol = inv = None
    if end.run_ns:
        run = sum(v - start.run_ns.get(k, 0) for k, v in end.run_ns.items())
    if end.ctx:
        vol = sum(v - start.ctx.get(k, (0, 0))[0] for k, (v, _) in end.ctx.items())
        inv = sum(i - start.ctx.get(k, (0, 0))[1] for k, (_, i) in end.ctx.items())
    return SweepDelta(run, vol, inv, lost)
