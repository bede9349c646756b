"""accounting.json: what the server, the client and the bench itself used
over exactly the load generator's measured window (issue 14 item 1; the
format is docs/SPEC.md §6 and scripts/benchlib/README.md).

The load generator prints `window monotonic_ns START END` on stdout before
it opens a connection; START and END are CLOCK_MONOTONIC, which is the clock
of time.monotonic_ns() here. The bench sleeps until START, reads every
counter, sleeps until END and reads them again. window.py reads the line
(or estimates the window for an older load generator that prints none,
recorded as "source": "estimated").

Counters, cheapest and most exact first:
- CPU: the side's cgroup (cgroups.py: nanoseconds, every thread and process,
  including those that came and went) where the bench can create one; else
  per-thread schedstat (nanoseconds; threads that exit inside the window are
  lost and counted) while the thread count is modest; else /proc/PID/stat
  (clock ticks, 10 ms). The method is recorded per point and side.
- Memory: the cgroup's peak and current (kernel memory such as socket
  buffers included on v2), else VmHWM/VmRSS summed over the processes.
- Context switches of the server: a sweep of /proc/PID/task/*/status ending
  at each edge, in the same order and with the same lead, so that each
  thread's interval is as long as the window (shifted by at most the
  sweep's duration, recorded). It costs about 20 µs a thread, so above
  SWEEP_MAX_THREADS it is left out (null, with the reason): no cheap
  interface counts them per process.
- Per CPU: /proc/stat for the server's and the client's CPUs (ticks).
- The bench's own CPU (all its threads) and the sampler's.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Optional

from . import procfs
from .cgroups import Group
from .window import Window

# Sweeping threads costs ~20 µs each (measured: 0.36 s for 16384 threads on
# the 2-core machine), paid on the client's CPUs at the window's edges.
SWEEP_MAX_THREADS = 2048
# A sweep starts this long before its edge: 100 µs a thread, 1.2 to 5 times
# the pace measured here (22 µs quiet, up to 90 µs with others compiling),
# plus a margin. A sweep that still overruns its end edge may miss threads
# that exit as the loadgen closes, and then says so (null, lower bounds).
SWEEP_NS_PER_THREAD = 100_000
SWEEP_LEAD_NS = 5_000_000
# When the thread count is taken: connections are open by then (the
# warm-up is at least 0.3 s in every profile) and the lead still fits.
CHOOSE_BEFORE_NS = 250_000_000


def sleep_until(t_ns: int, alive: Callable[[], bool]) -> bool:
    """Sleeps until CLOCK_MONOTONIC reaches t_ns; False if the load
    generators ended first (the window was cut short)."""
    while True:
        left = t_ns - time.monotonic_ns()
        if left <= 0:
            return True
        if not alive():
            return False
        time.sleep(min(left / 1e9, 0.05))


class Side:
    """One side's CPU (and the server's memory and switches) at the edges."""

    def __init__(self, group: Optional[Group], pids: Callable[[], list[int]], ctx: bool, forced: str = ""):
        self.group = group
        self.pids = pids
        self.ctx = ctx
        self.forced = forced
        self.method: Optional[str] = None
        self.ctx_on = False
        self.stopped = False
        self.threads = 0
        self.reads: list[dict] = []
        self.sweeps: list[procfs.Sweep] = []
        self.sweep_times: list[tuple[int, int]] = []
        self.notes: list[str] = []

    def count_threads(self) -> int:
        return procfs.thread_count(self.pids())

    def recheck(self) -> None:
        """Before the end edge's sweep: threads that grew past the limit
        (a ramp opens its connections during the window) are not swept."""
        if not self.sweeping:
            return
        now = self.count_threads()
        if now > SWEEP_MAX_THREADS:
            self.notes.append(f"{now} threads at the window's end, past the sweep's limit "
                              f"{SWEEP_MAX_THREADS}: no per-thread counts")
            self.ctx_on = False
            self.stopped = True
            self.sweeps.clear()
            self.sweep_times.clear()

    def choose(self) -> None:
        """The method, from what is there and the thread count."""
        self.threads = self.count_threads()
        self.ctx_on = self.ctx and self.threads <= SWEEP_MAX_THREADS
        if self.ctx and not self.ctx_on:
            self.notes.append(f"context switches not counted: {self.threads} threads at the window's "
                              f"start (a sweep costs ~20 µs a thread; the limit is {SWEEP_MAX_THREADS})")
        if self.group is not None and self.forced in ("", self.group.method):
            self.method = self.group.method
        elif self.forced in ("", "schedstat") and self.threads <= SWEEP_MAX_THREADS and \
                Path("/proc/self/schedstat").exists():
            self.method = "schedstat"
        else:
            self.method = "proc-ticks"

    @property
    def sweeping(self) -> bool:
        return not self.stopped and (self.method == "schedstat" or self.ctx_on)

    def sweep(self) -> None:
        """The per-thread part of an edge (schedstat method, switches)."""
        if self.sweeping:
            begin = time.monotonic_ns()
            self.sweeps.append(procfs.sweep(self.pids(), run_time=self.method == "schedstat",
                                            ctx=self.ctx_on))
            self.sweep_times.append((begin, time.monotonic_ns()))

    def read_cpu(self) -> None:
        """The counters that are one read each, at the edge itself."""
        r: dict = {"t_ns": time.monotonic_ns()}
        if self.method.startswith("cgroup"):
            try:
                u = self.group.cpu()
                r.update(total_ns=u.total_ns, user_ns=u.user_ns, system_ns=u.system_ns)
            except OSError as e:
                self.notes.append(f"cgroup read failed: {e}")
        elif self.method == "proc-ticks":
            ut, st = procfs.ticks(self.pids())
            r.update(total_ns=(ut + st) * 10**9 // procfs.USER_HZ,
                     user_ns=ut * 10**9 // procfs.USER_HZ, system_ns=st * 10**9 // procfs.USER_HZ)
        self.reads.append(r)

    def result(self) -> dict:
        out: dict = {"method": self.method, "cpu_s": None, "user_s": None, "system_s": None}
        if len(self.reads) == 2:
            out.update(cpu_delta(*self.reads))
        if len(self.sweeps) == 2:
            d = procfs.sweep_delta(*self.sweeps)
            (b0, e0), (b1, e1) = self.sweep_times
            sweep = {"sweep_s": [round((e0 - b0) / 1e9, 4), round((e1 - b1) / 1e9, 4)],
                     # Each thread's interval: the time between its two reads,
                     # as long as the window when both sweeps keep the same pace.
                     "sweep_interval_s": round((b1 - b0) / 1e9, 6)}
            if self.method == "schedstat":
                out["cpu_s"] = round(d.run_ns / 1e9, 9) if d.exact and d.run_ns is not None else None
                out.update(sweep)
                if not d.exact:
                    out["cpu_s_lower_bound"] = round((d.run_ns or 0) / 1e9, 9)
                    self.notes.append(f"{d.lost} threads ended inside the window: their CPU time "
                                      "is lost, so cpu_s is null (cpu_s_lower_bound: the others')")
            if self.ctx_on:
                out.update(nvcsw=d.voluntary if d.exact else None,
                           nivcsw=d.involuntary if d.exact else None, ctx_method="task-status-sweeps",
                           **sweep)
                if not d.exact:
                    out.update(nvcsw_lower_bound=d.voluntary, nivcsw_lower_bound=d.involuntary,
                               threads_lost=d.lost)
                    self.notes.append(f"{d.lost} threads ended inside the window: their context "
                                      "switches are lost, so nvcsw/nivcsw are null (the *_lower_bound "
                                      "fields count the others)")
        if self.group is not None:
            out["cgroup"] = self.group.path
        if self.notes:
            out["notes"] = self.notes
        return out


def cpu_delta(a: dict, b: dict) -> dict:
    """cpu_s, user_s, system_s between two reads. The total is exact; the
    split comes from the kernel's tick sampling, which (cgroup v1's
    cpuacct.usage_user/_sys, /proc/PID/stat) does not add up to the total:
    it is scaled to it, as cgroup v2 and getrusage() do themselves."""
    out: dict = {"cpu_s": None, "user_s": None, "system_s": None}
    if a.get("total_ns") is None or b.get("total_ns") is None:
        return out
    total = b["total_ns"] - a["total_ns"]
    out["cpu_s"] = round(total / 1e9, 9)
    if None in (a.get("user_ns"), b.get("user_ns"), a.get("system_ns"), b.get("system_ns")):
        return out
    user, system = b["user_ns"] - a["user_ns"], b["system_ns"] - a["system_ns"]
    if user + system > 0:
        out["user_s"] = round(total * user / (user + system) / 1e9, 9)
        out["system_s"] = round(total * system / (user + system) / 1e9, 9)
    return out


class Accountant:
    """Reads both sides, the CPUs, the bench and the sampler at the edges."""

    def __init__(self, server: Side, client: Side, server_cpus: list[int], client_cpus: list[int],
                 sampler=None):
        self.server, self.client = server, client
        self.cpus = {"server": list(server_cpus), "client": list(client_cpus)}
        self.sampler = sampler
        self.edges: list[dict] = []
        self.marked: list[Optional[dict]] = []
        self.lead_ns = 0

    def edge(self, t_ns: int, alive: Callable[[], bool]) -> bool:
        """One edge: the per-thread sweeps first, timed to end by t_ns, then
        at t_ns the one-read counters, back to back so that they all belong
        to the same moment. False if the loadgens ended before t_ns.

        The sweeps end at the edge rather than start there: the load
        generator closes its connections at the window's end, and a thread
        per connection would exit while the sweep reads it. Both edges use
        the same lead, so each thread's interval is as long as the window."""
        if not self.edges:
            # Late in the warm-up, when the connections (a thread each in
            # some models) are open: the thread count decides the method and
            # how long before the edge the sweeps must start.
            sleep_until(t_ns - CHOOSE_BEFORE_NS, alive)
            self.server.choose()
            self.client.choose()
            threads = sum(s.threads for s in (self.server, self.client) if s.sweeping)
            self.lead_ns = SWEEP_LEAD_NS + threads * SWEEP_NS_PER_THREAD if threads else 0
        on_time = True
        if self.lead_ns:
            on_time = sleep_until(t_ns - self.lead_ns, alive)
            if self.edges:
                self.server.recheck()
                self.client.recheck()
            self.server.sweep()
            self.client.sweep()
        on_time = sleep_until(t_ns, alive) and on_time
        self.server.read_cpu()
        self.client.read_cpu()
        edge = {"proc_stat": procfs.read_proc_stat(), "harness_ns": time.process_time_ns(),
                "sampler_ns": self.sampler.cpu_ns if self.sampler else None,
                "samples": len(self.sampler.rows) if self.sampler else None}
        if self.sampler is not None and self.server.ctx_on and self.server.sweeps:
            # The same sums in the time series at this moment (samples.csv);
            # withdrawn at the end if a thread was lost in between.
            ctx = self.server.sweeps[-1].ctx.values()
            self.marked.append(self.sampler.mark(
                {"vol_ctx": sum(v for v, _ in ctx), "invol_ctx": sum(i for _, i in ctx)}))
        if len(self.edges) == 1:
            edge["memory"] = self._memory()
        self.edges.append(edge)
        return on_time

    def _memory(self) -> dict:
        g = self.server.group
        mem = g.memory() if g is not None else None
        if mem is not None and mem.current_bytes is not None:
            return {"memory_peak_kib": None if mem.peak_bytes is None else mem.peak_bytes // 1024,
                    "memory_current_kib": mem.current_bytes // 1024, "memory_method": g.memory_method}
        hwm = rss = 0
        for p in self.server.pids():
            try:
                st = procfs.status(p, ("VmHWM", "VmRSS"))
                hwm, rss = hwm + st.get("VmHWM", 0), rss + st.get("VmRSS", 0)
            except OSError:
                pass
        return {"memory_peak_kib": hwm or None, "memory_current_kib": rss or None, "memory_method": "vmhwm"}

    def result(self, window: Window, cut_short: bool) -> dict:
        server = self.server.result()
        if server.get("nvcsw") is None:
            for row in self.marked:
                if row is not None:
                    row.pop("vol_ctx", None)
                    row.pop("invol_ctx", None)
        server.update({"nvcsw": server.get("nvcsw"), "nivcsw": server.get("nivcsw")})
        out = {
            "window": {"start_monotonic_ns": window.start_ns, "end_monotonic_ns": window.end_ns,
                       "source": window.source, "parts": window.parts or None,
                       "read_start_ns": None, "read_end_ns": None, "cut_short": cut_short},
            "server": server,
            "client": self.client.result(),
            "harness": {"cpu_s": None},
            "cpus": self.cpus,
            "per_cpu": {},
            "sampler": {"interval_s": self.sampler.interval_s if self.sampler else None,
                        "samples": None, "cpu_s": None},
        }
        if self.server.reads:
            out["window"]["read_start_ns"] = self.server.reads[0]["t_ns"]
        if len(self.server.reads) == 2:
            out["window"]["read_end_ns"] = self.server.reads[1]["t_ns"]
        if len(self.edges) == 2:
            a, b = self.edges
            out["server"].update(b.get("memory") or {})
            out["harness"]["cpu_s"] = round((b["harness_ns"] - a["harness_ns"]) / 1e9, 6)
            out["per_cpu"] = procfs.per_cpu_delta(a["proc_stat"], b["proc_stat"],
                                                  self.cpus["server"] + self.cpus["client"])
            if a["sampler_ns"] is not None:
                out["sampler"].update(samples=b["samples"] - a["samples"],
                                      cpu_s=round((b["sampler_ns"] - a["sampler_ns"]) / 1e9, 6))
        for key in ("memory_peak_kib", "memory_current_kib", "memory_method"):
            out["server"].setdefault(key, None)
        return out


def write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1))
