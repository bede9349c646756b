#!/usr/bin/python3
"""One shard of one point's load on a client host.

    run_shard.py --dir DIR --point ID --barrier SERVER:8081 --shard 2/3 --clock-offset 0.0012 \
        --cpus 1 --warmup-s 1 --duration-s 3 -- loadgen -c 100 ... URL

Asks the server host's helper for the start barrier T (barrier.py), then
runs the load generator pinned to --cpus, with `--shard`, `--start-at T`,
`--clock-offset` and `--json DIR/loadgen.json` added, and reads what it cost over exactly its measured window: the
loadgen prints `window monotonic_ns START END` before the barrier, so its
CPU time (schedstat) and the per-CPU time of its CPUs (/proc/stat) are read
at those edges (scripts/benchlib/accounting.py), and it is sampled
throughout (loadgen_samples.csv). Then shard.json (the command, the exit
and its rusage, this host's accounting) and the loadgen's files are packed
into DIR/result.tgz.

It ends by itself: the loadgen runs under `timeout` (a barrier is refused
more than a day ahead, so without it a lost run could wait that long), this
helper under the playbook's; SIGTERM stops the loadgen, which still writes
its JSON.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import barrier
import hostlib
from benchlib import accounting, cpus as cpulib, procfs
from benchlib.procs import pin
from benchlib.sampler import Sampler

# The window line comes before any connection opens: within a second of the
# start even on a loaded host.
LINE_WAIT_S = 10.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--dir", type=Path, required=True, help="this point's folder on this host")
    ap.add_argument("--cpus", default="", help="the load generator's CPUs (taskset list; default: not pinned)")
    ap.add_argument("--agent-cpus", default="", help="CPUs for this helper (default: not pinned)")
    ap.add_argument("--point", required=True, help="the point's id (tags the barrier's messages)")
    ap.add_argument("--barrier", required=True, metavar="HOST:PORT",
                    help="the server host's start barrier (UDP)")
    ap.add_argument("--barrier-timeout-s", type=float, default=90.0)
    ap.add_argument("--shard", default="", help="I/N: this host's shard (none: the whole load)")
    ap.add_argument("--clock-offset", type=float, default=0.0,
                    help="this host's clock minus the reference clock (seconds)")
    ap.add_argument("--warmup-s", type=float, required=True)
    ap.add_argument("--duration-s", type=float, required=True)
    ap.add_argument("--timeout-s", type=float, default=5.0, help="the loadgen's --timeout")
    ap.add_argument("--nofile", type=int, default=0, help="open-files limit to raise to (0: the hard limit)")
    ap.add_argument("--sample-interval", type=float, default=0.1)
    ap.add_argument("loadgen", nargs=argparse.REMAINDER, help="-- the loadgen's command line")
    args = ap.parse_args(argv)
    if args.loadgen[:1] == ["--"]:
        args.loadgen = args.loadgen[1:]
    if not args.loadgen:
        ap.error("no loadgen command line after --")
    host, _, port = args.barrier.rpartition(":")
    if not host or not port.isdigit():
        ap.error(f"--barrier {args.barrier}: write HOST:PORT")
    args.barrier_addr = (host, int(port))
    args.shard_index = int(args.shard.split("/")[0]) if args.shard else 1
    try:
        args.cpu_list = cpulib.parse_list(args.cpus, "--cpus") if args.cpus else []
        args.agent_list = cpulib.parse_list(args.agent_cpus, "--agent-cpus") if args.agent_cpus else []
    except cpulib.CpuSetError as e:
        ap.error(str(e))
    return args


def bound_s(args, start_at: float) -> float:
    """From now to the loadgen's end, with room for closing and writing."""
    ahead = max(0.0, start_at + args.clock_offset - time.time())
    return ahead + args.warmup_s + args.duration_s + args.timeout_s + 30


class Shard:
    def __init__(self, args):
        self.args = args
        self.dir = hostlib.fresh_dir(args.dir)
        self.info: dict = {"role": "client", "host": os.uname().nodename, "cpus": args.cpu_list,
                           "shard": args.shard or None, "clock_offset_s": args.clock_offset,
                           # problems: what the point's reason must say; notes: the rest
                           "problems": [], "notes": []}
        self.loadgen = self.sampler = self.acct = None

    def run(self) -> None:
        args, info = self.args, self.info
        # A limit it could not raise is said once per host, in the run's
        # notices (hostinfo.py), not in every point.
        info["nofile"], info["nofile_note"] = hostlib.raise_nofile(args.nofile)
        hostlib.pin_self(args.agent_list)
        answer = barrier.ask(*args.barrier_addr, args.point, args.shard_index, args.barrier_timeout_s)
        if answer.get("start_at") is None:
            info["problems"].append(f"nothing run: {answer.get('failed') or 'no start barrier'}")
            return
        start_at = info["start_at"] = float(answer["start_at"])
        # KEY=VALUE: a negative offset ("-6e-06") must not read as an option.
        command = [*args.loadgen, *(["--shard", args.shard] if args.shard else []),
                   f"--start-at={start_at!r}", f"--clock-offset={args.clock_offset!r}",
                   "--json", str(self.dir / "loadgen.json")]
        info["loadgen_command"] = command
        pinned = pin(args.cpu_list, [str(hostlib.binary(command[0])), *command[1:]])
        info["loadgen_argv"] = pinned
        bound = bound_s(args, start_at)
        self.loadgen, pid = hostlib.start_bounded(pinned, self.dir, "loadgen", bound, shown=pinned)
        pids = lambda: procfs.children(pid)  # noqa: E731
        self.sampler = Sampler(pid, args.sample_interval, pids=pids).start()
        info["marks"] = {"client_t0_unix": self.sampler.t0_unix}
        window = self._window()
        if window is None:
            info["notes"].append("no window line from the loadgen: its CPU was not read at the edges")
        else:
            acct = accounting.Accountant(accounting.Side(None, lambda: [], ctx=False),
                                         accounting.Side(None, pids, ctx=False),
                                         [], args.cpu_list, None)
            on_time = acct.edge(window.start_ns, self.loadgen.alive)
            on_time = acct.edge(window.end_ns, self.loadgen.alive) and on_time
            full = acct.result(window, cut_short=not on_time)
            self.acct = {"window": full["window"], "client": full["client"],
                         "cpus": args.cpu_list, "per_cpu": full["per_cpu"]}
        if not self.loadgen.wait(max(0.0, bound - (time.monotonic() - self.loadgen.t_start))):
            info["problems"].append(f"loadgen ran past {bound:.0f} s and was stopped")

    def _window(self):
        deadline = time.monotonic() + LINE_WAIT_S
        while time.monotonic() < deadline:
            found = accounting.parse_window_line(self.loadgen.stdout_text())
            if found:
                start, end = found
                if end is None:
                    end = start + int(self.args.duration_s * 1e9)
                return accounting.Window(start, end, "loadgen-line")
            if not self.loadgen.alive():
                return None
            time.sleep(accounting.LINE_POLL_S)
        return None

    def finish(self) -> None:
        info = self.info
        if self.loadgen is not None:
            ex = self.loadgen.stop()
            info["loadgen_exit"] = asdict(ex)
            if ex.status not in (0, None):
                info["problems"].append(f"loadgen exit {ex.status}: " + self.loadgen.stderr_tail(2))
            hostlib.forget_pid("loadgen")
        if self.sampler is not None:
            self.sampler.stop()
            self.sampler.write_csv(self.dir / "loadgen_samples.csv")
        info["accounting"] = self.acct
        hostlib.write_json(self.dir / "shard.json", info)
        hostlib.pack(self.dir, self.dir / "result.tgz")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    hostlib.stop_on_signals()
    hostlib.record_pid("shard", os.getpid())
    shard = Shard(args)
    status = 0
    try:
        shard.run()
    except KeyboardInterrupt:
        shard.info["problems"].append("stopped (SIGTERM or Ctrl-C) before the point ended")
    except Exception as e:  # recorded; the loadgen is still stopped below
        shard.info["problems"].append(f"run_shard.py: {type(e).__name__}: {e}")
        status = 1
    finally:
        shard.finish()
        hostlib.forget_pid("shard")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
