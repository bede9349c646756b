"""Counting, over exactly a point's measured window, what the server asks of
the kernel: syscalls by name, context switches (voluntary, involuntary),
its CPU time, and the time its threads waited for a CPU. One small JSON per
point (`perfcount.json`, described in scripts/benchlib/README.md) and the
per-request columns summary.csv takes from it.

How: `perf stat` attached to the server's cgroup or processes before the
window (events created disabled; perftarget.py), enabled at the window's
start and disabled at its end through its control fifo (perfctl.py). The
scheduler delay is read from schedstat at the same two edges (rundelay.py).

Two levels, because a counted syscall is not free: each perf tracepoint
event that fires costs the syscall about 150 ns here (measured: 1-byte dd,
241 ns a syscall bare, 397 with raw_syscalls:sys_enter counted, 551 with it
and the per-name tracepoints), against a few µs of server CPU per request.

* light (the sweep's): read and write (`read readv write writev` and their
  positional forms) from the kernel's own per-process counters of VFS read
  and write syscalls (/proc/PID/io `syscr`, `syscw`, free, exited threads
  included), one `syscalls:sys_enter_<name>` tracepoint for each rarer name
  (epoll_wait fires once per batch, not per request), no total: the named
  calls only. About one tracepoint hit per 20 requests for epoll.
* full (reference points, `make profile ... --count`): every name by its
  tracepoint and `raw_syscalls:sys_enter` for the total, so "other" (the
  calls not named) is known too; about 0.3 µs more per syscall.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from . import perfctl, perftarget, procfs, rundelay
from .window import EdgeTimer

FORMAT_VERSION = 1
FILE = "perfcount.json"

# The syscalls the models differ by, grouped as the report shows them. A
# name this kernel has no tracepoint for is left out and listed in the JSON
# ("missing"); whatever is not named here is in "other".
GROUPS = {
    "read": ["read", "readv", "recvfrom", "recvmsg"],
    "write": ["write", "writev", "sendto", "sendmsg"],
    "epoll_wait": ["epoll_wait", "epoll_pwait", "epoll_pwait2"],
    "epoll_ctl": ["epoll_ctl"],
    "poll": ["poll", "ppoll"],
    "select": ["select", "pselect6"],
    "io_uring_enter": ["io_uring_enter"],
    "accept": ["accept", "accept4"],
    "futex": ["futex"],
    "close": ["close"],
    "clock_nanosleep": ["clock_nanosleep"],
}
NAMES = [n for names in GROUPS.values() for n in names]
TOTAL_EVENT = "raw_syscalls:sys_enter"
SWITCH_EVENT = "sched:sched_switch"
# A switch is involuntary when the task was preempted (the tracepoint then
# reports prev_state TASK_REPORT_MAX, 0x100 since Linux 4.14) or left the
# CPU still runnable (prev_state 0: sched_yield, a wake-up that beat the
# sleep); that is how the kernel counts nivcsw.
INVOLUNTARY_FILTER = "prev_state == 0 || prev_state >= 256"
TRACEPOINTS = (TOTAL_EVENT, SWITCH_EVENT) + tuple(f"syscalls:sys_enter_{n}" for n in NAMES)
LEVELS = ("light", "full")
# Counted by the kernel's VFS counters (syscr, syscw) at the light level.
VFS_NAMES = {"read": "syscr", "readv": "syscr", "write": "syscw", "writev": "syscw"}


def perf_stat_events(available: set[str], level: str = "full", whole_cpus: bool = False) -> list[str]:
    """perf stat's event options at a level, for the tracepoints that exist
    here. whole_cpus (counting everything on the server's CPUs, not a
    cgroup or pids): the syscalls only, since the task clock and the
    switches would count the idle task and whatever else ran there too
    (the accounting has the server's own CPU time and switches)."""
    args = []
    if not whole_cpus:
        args += ["-e", "task-clock", "-e", "context-switches"]
        if SWITCH_EVENT in available:
            args += ["-e", SWITCH_EVENT, "--filter", INVOLUNTARY_FILTER]
    names = NAMES if level == "full" else [n for n in NAMES if n not in VFS_NAMES]
    for ev in ([TOTAL_EVENT] if level == "full" else []) + [f"syscalls:sys_enter_{n}" for n in names]:
        if ev in available:
            args += ["-e", ev]
    return args


class TracepointKeeper:
    """One idle `perf stat` holding the counting's tracepoints open for a
    whole run (its events are created disabled and never enabled).

    Why: when the last perf event on a tracepoint closes, the kernel waits
    for an RCU grace period before it lets go of it (measured here: about
    40 ms a tracepoint, 0.75 s for the light level's 19, at the end of every
    counted point). While another event holds it, closing costs nothing.
    The price: while any syscall tracepoint is registered, every syscall on
    the machine takes the kernel's tracing entry path (about 50 ns more per
    call here, with or without this keeper inside a counted window), now
    for the whole run: the same for every point and model."""

    def __init__(self, avail: perfctl.Availability, level: str, cpus: str, log_dir: Path,
                 whole_cpus: bool = False):
        available = set(TRACEPOINTS) - set(avail.missing_tracepoints)
        # The same events as the points' (a tracepoint held for nothing
        # would still cost every hit its probe).
        self.session = perfctl.PerfSession(
            avail.perf, ["stat", "-x,", "-o", "/dev/null", "-a"] + (["-C", cpus] if cpus else [])
            + perf_stat_events(available, level, whole_cpus), Path(log_dir), "perf-keeper",
            pin_cpus=cpus)
        self.failure = ""

    def start(self) -> bool:
        try:
            self.session.start()
            return True
        except (perfctl.PerfError, OSError) as e:
            self.failure = str(e)
            self.session.stop(timeout_s=5)
            return False

    def stop(self) -> None:
        self.session.stop(timeout_s=10)


def read_vfs_counts(pids: list[int]) -> Optional[dict[str, int]]:
    """{"syscr": n, "syscw": n} summed over the processes (each process's
    figure covers all its threads, exited ones included), None when
    /proc/PID/io cannot be read (no CONFIG_TASK_IO_ACCOUNTING, no rights)."""
    out = {"syscr": 0, "syscw": 0}
    seen = False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/io") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in out:
                        out[key] += int(value)
                        seen = True
        except (OSError, ValueError):
            continue
    return out if seen else None


def parse_perf_stat_csv(text: str) -> dict[str, Optional[float]]:
    """{event: value} from `perf stat -x,` output; None for `<not counted>`
    or `<not supported>`. task-clock comes in msec, as perf prints it."""
    out: dict[str, Optional[float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        f = line.split(",")
        if len(f) < 3 or not f[2]:
            continue
        try:
            value: Optional[float] = float(f[0])
        except ValueError:
            value = None
        out[f[2]] = value
    return out


def counts_from_stat(values: dict[str, Optional[float]], vfs: Optional[dict] = None) -> dict:
    """The JSON's syscalls / context_switches / task_clock_s blocks from
    perf stat's values (as parse_perf_stat_csv returns them) and, at the
    light level, the window's VFS counts (read_vfs_counts' difference)."""
    def get(ev):
        v = values.get(ev)
        return None if v is None else int(round(v))

    by_name = {n: get(f"syscalls:sys_enter_{n}") for n in NAMES
               if f"syscalls:sys_enter_{n}" in values}
    groups = {}
    for g, names in GROUPS.items():
        have = [by_name[n] for n in names if by_name.get(n) is not None]
        vfs_key = {"read": "syscr", "write": "syscw"}.get(g)
        if vfs and vfs_key and not any(n in by_name for n in names if n in VFS_NAMES):
            have.append(vfs[vfs_key])
        groups[g] = sum(have) if have else None
    total = get(TOTAL_EVENT)
    named = sum(v for v in groups.values() if v is not None)
    switches = get("context-switches")
    invol = get(SWITCH_EVENT)
    clock_ms = values.get("task-clock")
    missing = [n for n in NAMES if f"syscalls:sys_enter_{n}" not in values
               and not (vfs and n in VFS_NAMES)]
    return {
        "syscalls": {"total": total, "named": named, "groups": groups, "by_name": by_name,
                     "vfs": vfs,
                     "other": None if total is None else max(0, total - named),
                     "missing": missing},
        "context_switches": {"total": switches, "involuntary": invol,
                             "voluntary": None if switches is None or invol is None
                             else max(0, switches - invol)},
        "task_clock_s": None if clock_ms is None else round(clock_ms / 1000, 6),
    }


class Counting(perfctl.PointFile):
    """The counters of one point. Use:

        c = Counting(server.pid, pdir, server_cpus="0", perf_cpus="1")
        c.start()                  # after the server listens, before the load
        timer = c.timer(window).start()   # acts at the window's edges
        ...                        # the load generator runs and exits
        timer.join(5); c.finish(window)   # writes pdir/perfcount.json

    Never raises for perf's sake: when perf is missing or refused, the JSON
    says "skipped" with the reason, the scheduler delay is still read, and
    the point runs on unchanged."""
    FILE = FILE

    def __init__(self, pid: int, out_dir: Path, server_cpus="", perf_cpus: str = "",
                 availability: Optional[perfctl.Availability] = None, perf: str = "perf",
                 cgroup: Optional[str] = None, make_cgroup: bool = True, level: str = "light",
                 pids: Optional[Callable[[], list[int]]] = None, whole_cpus: bool = False):
        if level not in LEVELS:
            raise ValueError(f"counting level must be one of {LEVELS}, not {level!r}")
        self.level = level
        # Count everything on server_cpus rather than the server's cgroup:
        # for a harness whose server alone runs there (perftarget.whole_cpus).
        self.whole_cpus = whole_cpus
        self.pid = pid
        # The server's processes now: the bench's own finder when it has one.
        self.server_pids = pids or (lambda: procfs.children(pid))
        self.out_dir = Path(out_dir)
        self.cpus = rundelay.parse_cpus(server_cpus) if server_cpus else []
        self.perf_cpus = perf_cpus
        self.avail = availability or perfctl.probe(perf, TRACEPOINTS)
        self._cgroup, self._make_cgroup = cgroup, make_cgroup
        self.perf: Optional[perfctl.WindowedPerf] = None
        self.pids: list[int] = []
        self.doc: dict = {"format_version": FORMAT_VERSION, "status": "skipped",
                          "reason": self.avail.skip_line() if not self.avail.counting else "",
                          "method": "perf-stat", "level": level,
                          "perf_version": self.avail.version}
        self._snaps: list = []
        self._vfs: list = []
        self._stat_path = self.out_dir / "perfcount.stat.csv"

    def start(self) -> bool:
        """Attaches perf (events disabled). False when counting is skipped;
        the scheduler delay is still read at the edges."""
        self.pids = self.server_pids()
        if not self.avail.counting:
            self.doc["target"] = perftarget.Target(self.pids, self.cpus).as_json()
            return False
        target = (perftarget.whole_cpus(self.pids, self.cpus) if self.whole_cpus and self.cpus else
                  perftarget.choose(self.pids, self.cpus, self._cgroup, self._make_cgroup))
        self.doc["target"] = target.as_json()
        available = set(TRACEPOINTS) - set(self.avail.missing_tracepoints)
        self.perf = perfctl.WindowedPerf(self.avail, target, ["stat", "-x,", "-o", str(self._stat_path)],
                                         perf_stat_events(available, self.level, target.mode == "cpus"),
                                         self.out_dir,
                                         "perfcount",
                                         self.perf_cpus)
        if not self.perf.start():
            self._fail(self.perf.failure)
            self.perf = None
            return False
        self.doc["argv"] = self.perf.argv
        return True

    def timer(self, window) -> "EdgeTimer":
        return EdgeTimer(window, self.open_window, self.close_window,
                         before_close=self.read_delay, lead_ns=self.read_lead_ns)

    def open_window(self) -> None:
        if self.perf:
            self.perf.enable()
            if self.level == "light":
                self._vfs = [read_vfs_counts(self.server_pids())]
        self._snaps = [rundelay.snapshot(self.server_pids(), self.cpus)]

    def read_delay(self) -> None:
        """The schedstat reading of the window's end. It takes O(threads)
        when read per thread, so it is done that long before the end: after
        the end the load generator closes its connections and a thread per
        connection exits, taking its delay with it."""
        self._snaps.append(rundelay.snapshot(self.server_pids(), self.cpus))

    def read_lead_ns(self) -> int:
        first = self._snaps[0].read_ns if self._snaps else 0
        return int(first * 1.5) + 1_000_000

    def close_window(self) -> None:
        if len(self._snaps) == 1:  # no read_delay before (an open window)
            self.read_delay()
        if self.perf:
            if self.level == "light":
                self._vfs.append(read_vfs_counts(self.server_pids()))
            self.perf.disable()

    def finish(self, window=None, note: str = "") -> dict:
        """Stops perf, reads its counts, writes perfcount.json, returns it."""
        if self.perf:
            code = self.perf.stop()
            self.doc.update(self.perf.edge_fields())
            if self.perf.failure:
                self._fail(self.perf.failure)
            elif "enabled_ns" not in self.perf.edges:
                self._fail("the window never opened (the point stopped before it)")
            else:
                try:
                    values = parse_perf_stat_csv(self._stat_path.read_text(errors="replace"))
                except OSError:
                    values = {}
                vfs = None
                if len(self._vfs) == 2 and None not in self._vfs:
                    vfs = {k: self._vfs[1][k] - self._vfs[0][k] for k in self._vfs[0]}
                if values and self.level == "light" and vfs is None:
                    self._fail("/proc/PID/io unreadable: read and write not counted "
                               "(use the full counting level)")
                elif values:
                    self.doc.update(counts_from_stat(values, vfs))
                    self.doc.update(status="ok", reason="")
                else:
                    self._fail(f"perf stat printed no counts (exit {code})")
        if len(self._snaps) == 2:
            self.doc["sched_delay"] = rundelay.window(self._snaps[0], self._snaps[1],
                                                      self.doc.get("task_clock_s"))
        if note:
            self.doc["note"] = note
        return self.write(window)

    def _fail(self, why: str) -> None:
        self.doc["status"] = "failed"
        self.doc["reason"] = why


def load(pdir: Path) -> Optional[dict]:
    return perfctl.read_json(Path(pdir) / FILE)


# summary.csv's columns from perfcount.json, per answered request.
COLUMNS = (["syscalls_per_req", "syscalls_scope"] + [f"sys_{g}_per_req" for g in GROUPS]
           + ["sys_other_per_req"]
           + ["cs_vol_per_req", "cs_invol_per_req", "sched_delay_us_per_req", "perf_cpu_us_per_req"])


def per_request_columns(doc: Optional[dict], requests: Optional[float],
                        window_s: Optional[float] = None) -> dict:
    """The COLUMNS for one point: counts over the window divided by the
    requests answered in it (window_s long: when given, the requests are
    scaled to the span actually counted, which may differ from the window
    by a late edge). Empty strings (as summary.csv writes missing values)
    when counting was skipped or there is nothing to divide by."""
    row = {c: "" for c in COLUMNS}
    if not doc or not requests or requests <= 0:
        return row
    if window_s and doc.get("counted_s"):
        requests = requests * doc["counted_s"] / window_s

    def per(v, scale=1.0, digits=4):
        return "" if v is None else round(v * scale / requests, digits)

    sd = doc.get("sched_delay") or {}
    delay = sd.get("run_delay_s")
    if delay is not None and window_s and sd.get("span_s"):
        # schedstat is read a little before the window's end: scale its
        # figure to the span the requests were scaled to above.
        delay = delay * (doc.get("counted_s") or window_s) / sd["span_s"]
    row["sched_delay_us_per_req"] = per(delay, 1e6, 3)
    if doc.get("status") != "ok":
        return row
    sc = doc.get("syscalls") or {}
    groups = sc.get("groups") or {}
    # Light counting knows the named calls only: their sum, marked as such.
    total = sc.get("total")
    row["syscalls_scope"] = "all" if total is not None else "named"
    row["syscalls_per_req"] = per(total if total is not None else sc.get("named"))
    for g in GROUPS:
        row[f"sys_{g}_per_req"] = per(groups.get(g))
    row["sys_other_per_req"] = per(sc.get("other"))
    cs = doc.get("context_switches") or {}
    row["cs_vol_per_req"] = per(cs.get("voluntary"))
    row["cs_invol_per_req"] = per(cs.get("involuntary"))
    row["perf_cpu_us_per_req"] = per(doc.get("task_clock_s"), 1e6, 3)
    return row
