"""Scheduler delay: the time threads spent runnable but waiting for a CPU,
read at the two edges of a measured window.

Two sources, both kept by the scheduler's sched_info (no tracing, no cost
while the window runs):

* per CPU, /proc/schedstat (needs CONFIG_SCHEDSTATS, as Debian's kernels
  have): the run delay summed over every task queued on that CPU. O(CPUs)
  to read, and it includes threads created and exited inside the window.
  On the server's dedicated CPUs that is the server's delay, plus that of
  anything else that ran there (kernel threads; on a shared machine, other
  people's work): `running_s` beside it tells how much else ran.
* per thread, /proc/PID/task/TID/schedstat (CONFIG_SCHED_INFO): exactly the
  server's threads, but O(threads) to read, and a thread that exits inside
  the window takes its delay with it (counted in `threads_gone`).

The window's figure is the per-CPU one when the kernel has it and the
server's CPUs ran little else (other tasks' running time below FOREIGN_MAX
of the server's), else the per-thread sum: the number is meant to be the
server's own wait.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Optional

from . import procfs

FOREIGN_MAX = 0.10
# Above this many server threads the per-thread read is left out (about
# 20 µs a thread, on the client's CPUs, twice per window: 0.3 s at 16384
# threads, as accounting.py's sweeps): the per-CPU figure stands alone.
TASK_MAX_THREADS = 2048


def parse_cpus(spec) -> list[int]:
    """"0-3,6" -> [0, 1, 2, 3, 6] (taskset's list syntax); a list of CPUs
    is taken as it is."""
    if isinstance(spec, (list, tuple)):
        return [int(c) for c in spec]
    out: list[int] = []
    for part in filter(None, (p.strip() for p in str(spec).split(","))):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def parse_proc_schedstat(text: str) -> Optional[dict[int, tuple[int, int]]]:
    """{cpu: (running_ns, run_delay_ns)} from /proc/schedstat, or None for a
    format this code does not know. The cpu lines (versions 15 to 17) are
    `cpuN yld 0 sched_count sched_goidle ttwu ttwu_local running_ns
    run_delay_ns timeslices`."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("version "):
        return None
    try:
        if int(lines[0].split()[1]) < 15:
            return None
    except (IndexError, ValueError):
        return None
    out = {}
    for line in lines[1:]:
        f = line.split()
        if f and f[0].startswith("cpu") and f[0][3:].isdigit() and len(f) >= 10:
            out[int(f[0][3:])] = (int(f[7]), int(f[8]))
    return out


def _task_stats(pids: list[int]) -> dict[str, tuple[int, int]]:
    """{tid: (running_ns, run_delay_ns)} for every thread of these processes."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    run, delay, _ = f.read().split()
                out[tid] = (int(run), int(delay))
            except (OSError, ValueError):
                continue  # exited between listdir and open
    return out


@dataclass
class Snapshot:
    t_ns: int
    read_ns: int
    per_cpu: Optional[dict[int, tuple[int, int]]]
    tasks: dict[str, tuple[int, int]] = field(default_factory=dict)
    threads_skipped: int = 0     # > 0: the per-thread read was left out (this many threads)


def snapshot(pids: list[int], cpus: list[int], max_threads: int = TASK_MAX_THREADS) -> Snapshot:
    t0 = time.monotonic_ns()
    per_cpu = None
    if cpus:
        try:
            with open("/proc/schedstat") as f:
                allc = parse_proc_schedstat(f.read())
            if allc is not None:
                per_cpu = {c: allc[c] for c in cpus if c in allc}
        except OSError:
            per_cpu = None
    threads = procfs.thread_count(pids)
    skipped = threads if threads > max_threads else 0
    tasks = {} if skipped else _task_stats(pids)
    t1 = time.monotonic_ns()
    return Snapshot(t_ns=t0, read_ns=t1 - t0, per_cpu=per_cpu, tasks=tasks, threads_skipped=skipped)


def window(a: Snapshot, b: Snapshot, server_cpu_s: Optional[float] = None) -> dict:
    """The JSON block for the window between two snapshots. server_cpu_s
    (the server's CPU over the window, e.g. perf's task-clock; else the
    threads' own running time) decides whether the per-CPU figure is the
    server's."""
    # Each snapshot is taken over read_ns: its middle is its instant.
    span = ((b.t_ns + b.read_ns / 2) - (a.t_ns + a.read_ns / 2)) / 1e9
    out: dict = {"method": None, "run_delay_s": None, "span_s": round(span, 6), "per_cpu": None,
                 "tasks": None, "foreign_share": None}
    skipped = max(a.threads_skipped, b.threads_skipped)
    if skipped:
        out["tasks_note"] = (f"{skipped} threads: the per-thread read (limit {TASK_MAX_THREADS}) was "
                             "left out, the per-CPU figure stands alone")
    elif a.tasks or b.tasks:
        both = set(a.tasks) & set(b.tasks)
        new = set(b.tasks) - set(a.tasks)
        delay = (sum(b.tasks[t][1] - a.tasks[t][1] for t in both)
                 + sum(b.tasks[t][1] for t in new))
        running = (sum(b.tasks[t][0] - a.tasks[t][0] for t in both)
                   + sum(b.tasks[t][0] for t in new))
        if server_cpu_s is None:
            server_cpu_s = running / 1e9
        out["tasks"] = {"run_delay_s": round(delay / 1e9, 6), "running_s": round(running / 1e9, 6),
                        "threads_start": len(a.tasks),
                        "threads_end": len(b.tasks), "threads_new": len(new),
                        "threads_gone": len(set(a.tasks) - set(b.tasks)),
                        "read_ms": round(max(a.read_ns, b.read_ns) / 1e6, 3)}
    if a.per_cpu and b.per_cpu:
        cpus = sorted(set(a.per_cpu) & set(b.per_cpu))
        per = {str(c): {"running_s": round((b.per_cpu[c][0] - a.per_cpu[c][0]) / 1e9, 6),
                        "run_delay_s": round((b.per_cpu[c][1] - a.per_cpu[c][1]) / 1e9, 6)}
               for c in cpus}
        out["per_cpu"] = per
        running = sum(v["running_s"] for v in per.values())
        if server_cpu_s is not None and running > 0:
            out["foreign_share"] = round(max(0.0, running - server_cpu_s) / running, 4)
    shared = out["foreign_share"] is None or out["foreign_share"] > FOREIGN_MAX
    if out["per_cpu"] and not (shared and out["tasks"]):
        out["method"] = "schedstat-cpu"
        out["run_delay_s"] = round(sum(v["run_delay_s"] for v in out["per_cpu"].values()), 6)
    elif out["tasks"]:
        out["method"] = "schedstat-task"
        out["run_delay_s"] = out["tasks"]["run_delay_s"]
    return out
