"""What the host-side helpers of the playbook share: where the bundle is,
the pid files that let a later cleanup stop what a killed run left behind,
the time bound every process runs under, and the one result file a host
hands back per point.

The playbook unpacks one bundle per host (control/bundle.py):

    ROOT/bin/       loadgen and the server-* binaries of the control machine's build
    ROOT/lib/       the bench's Python library (scripts/benchlib), read only
    ROOT/host/      these helpers
    ROOT/pids/      NAME.pid of every process started here and still running
    ROOT/points/ID/ what a point left on this host

Every process a helper starts runs under `timeout`, so it ends by itself
even if nobody is left to stop it (the playbook was killed, the SSH link
dropped); stop_run.py ends it earlier, by the pid recorded here.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import tarfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
# In a checkout (deploy/ansible/host/) the library is the repository's own.
LIB = ROOT / "lib" if (ROOT / "lib" / "benchlib").is_dir() else ROOT.parent.parent / "scripts"
sys.path.insert(0, str(LIB))

from benchlib import cpus as cpulib  # noqa: E402
from benchlib.procs import Child  # noqa: E402

PIDS = ROOT / "pids"
# `timeout` sends SIGTERM at the bound and SIGKILL this long after it: a
# server or loadgen that ignores SIGTERM still ends.
KILL_AFTER_S = 5


def binary(name: str) -> Path:
    """A binary of the bundle by its plain name ("loadgen", "server-epoll")."""
    path = ROOT / "bin" / Path(name).name
    if not os.access(path, os.X_OK):
        raise SystemExit(f"{name}: not in this host's bundle ({ROOT / 'bin'}); run the playbook's install step")
    return path


def start_time(pid: int) -> Optional[str]:
    """The process's start time in ticks since boot (field 22 of its stat):
    with the pid it names one process, whatever reuses the pid later."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[19]


def record_pid(name: str, pid: int) -> None:
    PIDS.mkdir(parents=True, exist_ok=True)
    write_json(PIDS / f"{name}.pid", {"pid": pid, "start": start_time(pid), "root": str(ROOT)})


def forget_pid(name: str) -> None:
    try:
        (PIDS / f"{name}.pid").unlink()
    except FileNotFoundError:
        pass


def write_json(path: Path, data) -> None:
    """Whole or not at all: a reader polling for the file never sees half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def raise_nofile(wanted: int) -> tuple[int, str]:
    """Raises this process's open-files limit (inherited by everything it
    starts) to `wanted`, or as far as the kernel lets it; returns the hard
    limit and a note when it stayed below what was asked."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if wanted > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted, ""
        except (ValueError, OSError) as e:
            note = (f"open files: could not raise the hard limit from {hard} to {wanted} ({e}); "
                    f"every process here keeps {hard}")
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard, note
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard, ""


def stop_on_signals() -> None:
    """SIGTERM (stop_run.py, `timeout`) and SIGHUP unwind like Ctrl-C, so
    every `finally` stops the children and writes what was measured."""
    def interrupt(_signum, _frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def pin_self(cpus: list[int]) -> None:
    """The helper's own sampling and reading stay off the CPUs it measures."""
    if cpus:
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:
            pass


def start_bounded(argv: list[str], log_dir: Path, name: str, bound_s: float,
                  shown: list[str]) -> tuple[Child, int]:
    """argv under `timeout BOUND` (SIGTERM, then SIGKILL), its pid recorded;
    returns the Child (the `timeout` process, leader of the process group
    Child signals) and the pid of the program itself, which is what is
    sampled and counted."""
    child = Child(["timeout", "-k", str(KILL_AFTER_S), f"{bound_s:.0f}", *argv], log_dir, name,
                  shown=shown)
    record_pid(name, child.pid)
    return child, program_pid(child)


def program_pid(child: Child, wait_s: float = 5.0) -> int:
    """The child `timeout` forked (taskset and the cgroup wrapper exec, so
    it is the program itself); the wrapper's own pid if it never forked."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and child.alive():
        try:
            kids = Path(f"/proc/{child.pid}/task/{child.pid}/children").read_text().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.005)
    return child.pid


def pack(folder: Path, out: Path) -> None:
    """Every file of folder into one archive: one fetch per host and point."""
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for f in sorted(folder.iterdir()):
            if f.is_file() and f != out and not f.name.endswith(".tmp"):
                tar.add(f, arcname=f.name)
    os.replace(tmp, out)


def fresh_dir(path: Path) -> Path:
    """The point's folder on this host, emptied of an earlier run's files."""
    path.mkdir(parents=True, exist_ok=True)
    for f in path.iterdir():
        if f.is_file():
            f.unlink()
    return path


# ---------------------------------------------------------------- a point's helper

def point_parser(doc: str, what: str) -> argparse.ArgumentParser:
    """The options serve_point.py and run_shard.py share; `what` names the
    command line that follows `--`."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
    ap.add_argument("--dir", type=Path, required=True, help="this point's folder on this host")
    ap.add_argument("--point", required=True, help="the point's id (tags the barrier's messages)")
    ap.add_argument("--agent-cpus", default="", help="CPUs for this helper (default: not pinned)")
    ap.add_argument("--warmup-s", type=float, required=True)
    ap.add_argument("--duration-s", type=float, required=True)
    ap.add_argument("--nofile", type=int, default=0, help="open-files limit to raise to (0: the hard limit)")
    ap.add_argument("--sample-interval", type=float, default=0.1)
    ap.add_argument("command", nargs=argparse.REMAINDER, help=f"-- {what}")
    return ap


def parse_point_args(ap: argparse.ArgumentParser, argv: list[str], cpus_required: bool) -> argparse.Namespace:
    """Parses, drops the `--`, and reads --cpus and --agent-cpus into lists."""
    args = ap.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    try:
        args.cpu_list = cpulib.parse_list(args.cpus, "--cpus") if args.cpus or cpus_required else []
        args.agent_list = cpulib.parse_list(args.agent_cpus, "--agent-cpus") if args.agent_cpus else []
    except cpulib.CpuSetError as e:
        ap.error(str(e))
    return args


def run_helper(name: str, part, note) -> int:
    """part.run(), then part.finish() whatever happened (SIGTERM included),
    with this helper's pid recorded meanwhile for stop_run.py; note(text)
    records why it stopped early."""
    stop_on_signals()
    record_pid(name, os.getpid())
    status = 0
    try:
        part.run()
    except KeyboardInterrupt:
        note("stopped (SIGTERM or Ctrl-C) before the point ended")
    except Exception as e:  # recorded; what it started is still stopped in finish()
        note(f"{name}: {type(e).__name__}: {e}")
        status = 1
    finally:
        part.finish()
        forget_pid(name)
    return status
