"""perf, started before a point's measured window and switched on and off at
its edges: whether this machine lets us use it (the skip path), and one perf
process driven through its control fifo.

perf starts with its events created but disabled (`-D -1`), attached to the
server's processes (`-p`, whose threads and children inherit the events,
including the ones created later); `enable` and `disable` written to its
control fifo switch every event, inherited ones too, at the instants the
caller chooses. Each command is acknowledged on a second fifo, so the
caller knows when it took effect and records the instants before and after.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
ENABLE_HINT = {
    "missing": "install linux-perf (scripts/install-deps.sh)",
    "denied": "run as root, or `sysctl kernel.perf_event_paranoid=-1`",
    "tracepoints": "mount tracefs (`mount -t tracefs nodev /sys/kernel/tracing`) as root",
}


@dataclass
class Availability:
    """What perf can do here. `counting` needs the syscall and sched
    tracepoints; `profiling` needs only the cpu-clock software event."""
    perf: Optional[str]
    counting: bool
    profiling: bool
    reason: str = ""          # what is skipped and why, one line, "" when all works
    hint: str = ""            # how to enable it
    tracefs: Optional[str] = None
    version: str = ""
    missing_tracepoints: list = field(default_factory=list)

    def skip_line(self) -> str:
        """The report's one line when something is skipped, else ""."""
        if self.counting and self.profiling:
            return ""
        return f"{self.reason}: {self.hint}." if self.hint else self.reason + "."


def _tracefs() -> Optional[str]:
    for root in TRACEFS:
        if os.path.isdir(os.path.join(root, "events", "syscalls")):
            return root
    return None


def have_tracepoint(tracefs: Optional[str], event: str) -> bool:
    """event as perf names it: "syscalls:sys_enter_read"."""
    if tracefs is None:
        return False
    group, _, name = event.partition(":")
    return os.path.isdir(os.path.join(tracefs, "events", group, name))


def probe(perf: str = "perf", needed_tracepoints: tuple = ()) -> Availability:
    """Tries perf for real (a counter on `true`), because the reasons it may
    fail are many (no binary, a wrapper without the kernel's tools,
    perf_event_paranoid, a container without the syscall)."""
    path = shutil.which(perf)
    if path is None:
        return Availability(None, False, False, f"perf not found ({perf})", ENABLE_HINT["missing"])
    try:
        v = subprocess.run([path, "version"], capture_output=True, text=True, timeout=10)
        version = v.stdout.strip().removeprefix("perf version ")
        tried = subprocess.run([path, "stat", "-x,", "-e", "task-clock", "--", "true"],
                               capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Availability(path, False, False, f"perf does not run: {e}", ENABLE_HINT["missing"])
    if tried.returncode != 0 or "task-clock" not in tried.stderr:
        err = tried.stderr.strip().splitlines()
        denied = any(w in tried.stderr for w in ("paranoid", "Permission", "EACCES", "not permitted"))
        why = ("perf is not permitted here (kernel.perf_event_paranoid="
               f"{_paranoid()}, not root)" if denied else
               "perf cannot count: " + (err[-1] if err else f"exit {tried.returncode}"))
        return Availability(path, False, False, why, ENABLE_HINT["denied" if denied else "missing"],
                            version=version)
    tracefs = _tracefs()
    if tracefs is None:
        return Availability(path, False, True, "syscall tracepoints absent (no tracefs)",
                            ENABLE_HINT["tracepoints"], version=version)
    missing = [t for t in needed_tracepoints if not have_tracepoint(tracefs, t)]
    return Availability(path, True, True, "", "", tracefs=tracefs, version=version,
                        missing_tracepoints=missing)


def _paranoid() -> str:
    try:
        return Path("/proc/sys/kernel/perf_event_paranoid").read_text().strip()
    except OSError:
        return "?"


class PerfError(RuntimeError):
    pass


class PerfSession:
    """One perf process (`perf stat` or `perf record`) with `-D -1` and a
    control fifo. start() returns once perf has attached and answers;
    enable()/disable() return the CLOCK_MONOTONIC instants (ns) just before
    the command was written and just after perf acknowledged it."""

    def __init__(self, perf: str, subcommand: list[str], log_dir: Path, name: str,
                 pin_cpus: str = ""):
        self._dir = Path(tempfile.mkdtemp(prefix=f"iom-{name}-"))
        self._ctl_path = self._dir / "ctl"
        self._ack_path = self._dir / "ack"
        os.mkfifo(self._ctl_path)
        os.mkfifo(self._ack_path)
        # The ack fifo's reading end first: perf opens its writing end with a
        # blocking open, which would wait for us otherwise.
        self._ack = os.open(self._ack_path, os.O_RDONLY | os.O_NONBLOCK)
        self._ctl: Optional[int] = None
        argv = [perf, *subcommand[:1], "-D", "-1",
                "--control", f"fifo:{self._ctl_path},{self._ack_path}", *subcommand[1:]]
        # perf itself (reading the ring buffers of perf record) must not run
        # on the server's CPUs: it would be measured as the server's delay.
        # On the client's, it shares a CPU the load generator keeps busy: a
        # higher priority (root only) lets it act on a command at once
        # (measured: 56 ms to acknowledge 'enable' at nice 0 behind a busy
        # loadgen, about 1 ms at -10). It sleeps between commands.
        if pin_cpus:
            argv = ["taskset", "-c", pin_cpus, *argv]
        self.argv = ["nice", "-n", "-10", *argv] if os.geteuid() == 0 else argv
        self.stderr_path = log_dir / f"{name}.err"
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._err, stderr=self._err, start_new_session=True)

    def start(self, timeout_s: float = 20.0) -> None:
        """Waits until perf has opened its events and serves commands."""
        deadline = time.monotonic() + timeout_s
        while self._ctl is None:
            try:
                # Non-blocking: ENXIO until perf opened the reading end, so a
                # perf that died at start cannot hang us here.
                self._ctl = os.open(self._ctl_path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise PerfError(self._failure("did not start"))
                time.sleep(0.01)
        self._command("ping", max(0.1, deadline - time.monotonic()))

    def enable(self) -> tuple[int, int]:
        return self._command("enable")

    def disable(self) -> tuple[int, int]:
        return self._command("disable")

    def _command(self, cmd: str, timeout_s: float = 10.0) -> tuple[int, int]:
        before = time.monotonic_ns()
        try:
            os.write(self._ctl, (cmd + "\n").encode())
        except OSError as e:
            raise PerfError(self._failure(f"refused '{cmd}' ({e})"))
        got = b""
        deadline = time.monotonic() + timeout_s
        # perf 6.1 writes "ack\n" and a NUL.
        while b"ack\n" not in got:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise PerfError(self._failure(f"did not acknowledge '{cmd}'"))
            ready, _, _ = select.select([self._ack], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(self._ack, 64)
                if not chunk:  # no writer at this instant: not an answer
                    time.sleep(0.005)
                got += chunk
        return before, time.monotonic_ns()

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGINT, as a terminal's Ctrl-C: perf writes its results and exits.
        perf record may take a while to write a large buffer out."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.close()
        return self.proc.returncode

    def close(self) -> None:
        for fd in (self._ctl, self._ack):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._ctl = self._ack = None
        if not self._err.closed:
            self._err.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _failure(self, what: str) -> str:
        self._err.flush()
        try:
            tail = self.stderr_path.read_text(errors="replace").strip().splitlines()[-3:]
        except OSError:
            tail = []
        code = self.proc.poll()
        return (f"perf {what}" + (f" (exit {code})" if code is not None else "")
                + (": " + " | ".join(tail) if tail else ""))


def read_json(path: Path) -> Optional[dict]:
    """A point's JSON file, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


class PointFile:
    """What Counting and Recording share: a JSON document for the point's
    folder (self.doc, written as self.FILE) and the perf process behind it."""
    FILE = ""
    out_dir: Path
    doc: dict
    perf: Optional["WindowedPerf"] = None

    def write(self, window=None) -> dict:
        if window is not None:
            self.doc["window"] = window.as_json()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / self.FILE).write_text(json.dumps(self.doc, indent=1))
        return self.doc

    def abort(self) -> None:
        """An interrupted point: stop perf, undo the cgroup, write nothing."""
        if self.perf:
            self.perf.stop(timeout_s=10)


class WindowedPerf:
    """A perf subcommand over a window for a target (perftarget.Target):
    started before the window, switched on and off at its edges, stopped
    after. Keeps what the JSON files say about it: the edges' instants,
    the counted span, and the first failure (never raised)."""

    def __init__(self, avail: Availability, target, subcommand: list[str], events: list[str],
                 out_dir: Path, name: str, pin_cpus: str = ""):
        self.avail, self.target = avail, target
        before, after = target.perf_args(events.count("-e"))
        self._argv = [subcommand[0], *subcommand[1:], *before, *events, *after]
        self._out_dir, self._name, self._pin = out_dir, name, pin_cpus
        self.session: Optional[PerfSession] = None
        self.edges: dict = {}
        self.failure = ""

    def start(self) -> bool:
        try:
            self.session = PerfSession(self.avail.perf, self._argv, self._out_dir, self._name,
                                       pin_cpus=self._pin)
            self.session.start()
            return True
        except (PerfError, OSError) as e:
            self.stop()
            self.session = None
            self.failure = str(e)
            return False

    @property
    def argv(self) -> list[str]:
        return self.session.argv if self.session else []

    def enable(self) -> None:
        self._edge("enabled_ns", "enable")

    def disable(self) -> None:
        self._edge("disabled_ns", "disable")

    def _edge(self, key: str, cmd: str) -> None:
        if not self.session or self.failure:
            return
        try:
            self.edges[key] = list(self.session._command(cmd))
        except PerfError as e:
            self.failure = str(e)

    def stop(self, timeout_s: float = 60.0) -> Optional[int]:
        code = self.session.stop(timeout_s) if self.session else None
        self.target.release()
        return code

    def edge_fields(self) -> dict:
        """edges, counted_s (between the midpoints of the two commands'
        round trips) and edge_uncertainty_us (the longer round trip)."""
        out: dict = {}
        if self.edges:
            out["edges"] = self.edges
        en, dis = self.edges.get("enabled_ns"), self.edges.get("disabled_ns")
        if en and dis:
            out["counted_s"] = round(((dis[0] + dis[1]) - (en[0] + en[1])) / 2e9, 6)
            out["edge_uncertainty_us"] = round(max(en[1] - en[0], dis[1] - dis[0]) / 1e3, 1)
        return out
