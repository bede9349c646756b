"""Starting, watching and stopping processes: the one launcher of the
Python tools (the bench, the demo, compare_wrk.py, the peers' scripts and
tests), one free_port() and one way to wait until a server listens.

Every process is started in its own session so that a Ctrl-C typed at the
terminal reaches only the tool, which then stops them in order (server last)
and keeps what was measured. Children are reaped with os.wait4 so their
rusage (CPU, context switches, peak RSS, over all threads, including exited
ones) is exact.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

LISTENING = re.compile(r"listening on (\S+):(\d+)")

# Every process still running, so that an interrupted run can stop them all.
_live: dict[int, "Child"] = {}


@dataclass
class Exit:
    status: Optional[int]       # exit code, or -signal; None if never reaped
    wall_s: float
    rusage: dict = field(default_factory=dict)


class Child:
    def __init__(self, argv: list[str], log_dir: Path, name: str, shown: Optional[list[str]] = None):
        self.argv = argv
        # What point.json records: argv without wrappers the reader need not
        # see (the cgroup's, the same for every process of a side).
        self.shown_argv = shown if shown is not None else argv
        self.name = name
        self.stdout_path = log_dir / f"{name}.out"
        self.stderr_path = log_dir / f"{name}.err"
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        self.exit: Optional[Exit] = None
        _live[self.pid] = self

    def alive(self) -> bool:
        return self.exit is None and self._reap(os.WNOHANG)

    def _reap(self, flags: int) -> bool:
        """True while still running; reaps and records the exit otherwise."""
        try:
            pid, status, ru = os.wait4(self.pid, flags)
        except ChildProcessError:
            self._finish(None, None)
            return False
        if pid == 0:
            return True
        code = os.waitstatus_to_exitcode(status)
        self._finish(code, ru)
        return False

    def _finish(self, code: Optional[int], ru) -> None:
        wall = time.monotonic() - self.t_start
        usage = {}
        if ru is not None:
            usage = {"utime_s": ru.ru_utime, "stime_s": ru.ru_stime,
                     "maxrss_kib": ru.ru_maxrss, "nvcsw": ru.ru_nvcsw,
                     "nivcsw": ru.ru_nivcsw, "minflt": ru.ru_minflt}
        self.exit = Exit(code, round(wall, 3), usage)
        # Popen must not try to reap a pid we already reaped (or reuse it).
        self.proc.returncode = code if code is not None else -1
        _live.pop(self.pid, None)
        self._out.close()
        self._err.close()

    def wait(self, timeout_s: float) -> bool:
        """Waits for the exit; False if still running after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 5.0) -> Exit:
        """Asks the process to stop, then kills it if it does not."""
        if self.alive():
            self._signal(sig)
            if not self.wait(grace_s):
                self._signal(signal.SIGKILL)
                self.wait(5.0)
        if self.exit is None:  # still not reaped: give up, but keep going
            self._finish(None, None)
        return self.exit

    def _signal(self, sig: int) -> None:
        try:
            # The process group: a wrapper (taskset, ip netns exec) execs, but a
            # forking wrapper would leave its child behind otherwise.
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def stdout_text(self) -> str:
        try:
            return self.stdout_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self, lines: int = 5) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def wait_for_line(self, pattern: re.Pattern, timeout_s: float, poll_s: float = 0.02
                      ) -> Optional[re.Match]:
        """Polls the stdout file for a line matching pattern."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = pattern.search(self.stdout_text())
            if m:
                return m
            if not self.alive():
                return pattern.search(self.stdout_text())
            time.sleep(poll_s)
        return None


def stop_all() -> None:
    """Ctrl-C: stop whatever is still running, newest first."""
    for child in sorted(_live.values(), key=lambda c: -c.t_start):
        child.stop(signal.SIGTERM, grace_s=2.0)


def wait_listening(server: Child, announces: bool, port: int,
                   wrap: Callable[[list[str]], list[str]] = lambda argv: argv,
                   timeout_s: float = 10.0) -> Optional[tuple[str, int]]:
    """(host, port) once the server listens, or None if it did not.

    A server of ours prints `listening on HOST:PORT` (SPEC §4), which also
    tells the port it got for --port 0. One that does not (nginx) is polled
    until its port accepts a connection, from inside the server's network:
    `wrap` puts the probe there (a namespace's port is not reachable from
    outside it)."""
    if announces:
        m = server.wait_for_line(LISTENING, timeout_s=timeout_s)
        if not m or not server.alive():
            return None
        return m.group(1), int(m.group(2))
    tries = max(1, int(timeout_s / 0.05))
    probe = wrap([sys.executable, "-c", (
        "import socket,sys,time\n"
        "for _ in range(%d):\n"
        "    try: socket.create_connection(('127.0.0.1', %d), 0.2).close(); sys.exit(0)\n"
        "    except OSError: time.sleep(0.05)\n"
        "sys.exit(1)\n") % (tries, port)])
    ok = subprocess.run(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    return ("127.0.0.1", port) if ok and server.alive() else None


def free_port() -> int:
    # A tiny race (another process could take it before the server binds) that
    # the runner survives: a server that cannot bind exits 2 and the point is
    # recorded as failed with that message.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpus, argv: list[str]) -> list[str]:
    """argv pinned to cpus: a taskset list ("0-3,8") or a list of CPU numbers;
    empty: not pinned."""
    if cpus and not isinstance(cpus, str):
        from .cpus import format_list
        cpus = format_list(cpus)
    return ["taskset", "-c", cpus] + argv if cpus else argv
