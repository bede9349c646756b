#!/usr/bin/python3
"""A client host's part of one point: a shard of the measured load, idle
connections held beside it, or both; for `stall`, shard 1's host also runs
the background load.

    run_shard.py --dir DIR --point ID --party 2 --barrier SERVER:8081 --shard 2/3 \\
        --clock-offset 0.0012 --cpus 1 --warmup-s 1 --duration-s 3 -- loadgen -c 100 ... URL
    run_shard.py ... --party 3 --idle 5000 --idle-url URL          # idle connections only

Asks the server host's helper for the start barrier T (barrier.py); for an
idle point it is first told to hold its connections (`loadgen --idle N`)
and reports how many it holds. Then it runs the load generator pinned to
--cpus, with `--shard`, `--start-at T`, `--clock-offset` and `--json
DIR/loadgen.json` added, and reads what it cost over exactly its measured
window: the loadgen prints `window monotonic_ns START END` before the
barrier, so its CPU time (schedstat) and the per-CPU time of its CPUs
(/proc/stat) are read at those edges (scripts/benchlib/accounting.py); it
is sampled throughout (loadgen_samples.csv). Then shard.json (the commands,
the exits and their rusage, this host's accounting) and the loadgen's files
are packed into DIR/result.tgz.

It ends by itself: every loadgen runs under `timeout` (a barrier is
refused more than a day ahead, so without it a lost run could wait that
long), this helper under the playbook's; SIGTERM stops them, and each
still writes its JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict

import barrier
import hostlib
from benchlib import accounting, procfs
from benchlib.window import LINE_POLL_S, parse_window_line
from benchlib.point import HOLDING
from benchlib.procs import pin
from benchlib.profiles import STALL_LEAD_S
from benchlib.sampler import Sampler

# The window line comes before any connection opens: within a second of the
# start even on a loaded host.
LINE_WAIT_S = 10.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = hostlib.point_parser(__doc__, "the measured loadgen's command line")
    ap.add_argument("--party", type=int, required=True, help="this host's number among the point's client hosts")
    ap.add_argument("--barrier", required=True, metavar="HOST:PORT",
                    help="the server host's start barrier (UDP)")
    ap.add_argument("--barrier-timeout-s", type=float, default=90.0)
    ap.add_argument("--shard", default="", help="I/N: this host's shard of the measured load")
    ap.add_argument("--idle", type=int, default=0, help="idle connections to hold beside it")
    ap.add_argument("--idle-url", default="", help="the URL the idle connections ask once")
    ap.add_argument("--background", default="",
                    help="stall: the background loadgen's command line, as a JSON list")
    ap.add_argument("--cpus", default="", help="the load generator's CPUs (taskset list; default: not pinned)")
    ap.add_argument("--clock-offset", type=float, default=0.0,
                    help="this host's clock minus the reference clock (seconds)")
    ap.add_argument("--timeout-s", type=float, default=5.0, help="the loadgen's --timeout")
    args = hostlib.parse_point_args(ap, argv, cpus_required=False)
    if args.shard and not args.command:
        ap.error("--shard without a loadgen command line after --")
    if args.idle and not args.idle_url:
        ap.error("--idle needs --idle-url")
    host, _, port = args.barrier.rpartition(":")
    if not host or not port.isdigit():
        ap.error(f"--barrier {args.barrier}: write HOST:PORT")
    args.barrier_addr = (host, int(port))
    try:
        args.background = json.loads(args.background) if args.background else []
    except ValueError as e:
        ap.error(f"--background: {e}")
    return args


class Part:
    def __init__(self, args):
        self.args = args
        self.dir = hostlib.fresh_dir(args.dir)
        self.info: dict = {"role": "client", "host": os.uname().nodename, "cpus": args.cpu_list,
                           "party": args.party, "shard": args.shard or None, "idle": args.idle,
                           "clock_offset_s": args.clock_offset,
                           # problems: what the point's reason must say; notes: the rest
                           "problems": [], "notes": []}
        self.loadgen = self.sampler = self.acct = None
        self.holder = self.background = self.bg_sampler = None
        self.deadline = time.monotonic() + 3600.0

    def ask(self, message: dict, until) -> dict:
        return barrier.ask(*self.args.barrier_addr, self.args.point, self.args.party,
                           self.args.barrier_timeout_s, message, until)

    def bounded(self, command: list[str], name: str, start_at: float):
        """command (a loadgen) pinned, under `timeout` until this part's end."""
        pinned = pin(self.args.cpu_list, [str(hostlib.binary(command[0])), *command[1:]])
        left = max(0.0, start_at + self.args.clock_offset - time.time())
        bound = left + self.args.warmup_s + self.args.duration_s + self.args.timeout_s + 30
        self.deadline = time.monotonic() + bound
        return hostlib.start_bounded(pinned, self.dir, name, bound, shown=pinned)

    def run(self) -> None:
        args, info = self.args, self.info
        # A limit it could not raise is said once per host, in the run's
        # notices (hostinfo.py), not in every point.
        info["nofile"], info["nofile_note"] = hostlib.raise_nofile(args.nofile)
        hostlib.pin_self(args.agent_list)
        answer = self.ask({"ask": True}, ("hold", "start_at", "failed"))
        if "hold" in answer:
            answer = self.ask(self.hold(), ("start_at", "failed"))
        if answer.get("start_at") is None:
            info["problems"].append(f"nothing run: {answer.get('failed') or 'no start barrier'}")
            return
        start_at = info["start_at"] = float(answer["start_at"])
        if args.background:
            self.start_background(start_at)
        if args.command:
            self.run_loadgen(start_at)
        else:
            # Idle connections only: held until the window has closed.
            end = start_at + args.clock_offset + args.warmup_s + args.duration_s + 0.5
            while time.time() < end and (self.holder is None or self.holder.alive()):
                time.sleep(0.05)

    def hold(self) -> dict:
        """Opens this host's idle connections; the report for the barrier."""
        n = self.args.idle
        if n <= 0:
            return {"held": 0, "answered": 0}
        command = ["loadgen", "--idle", str(n), "--idle-answer-wait", f"{max(2.0, n / 2000):g}s",
                   self.args.idle_url]
        self.holder, _ = self.bounded(command, "idle", time.time() + 120 + n / 200)
        self.info["idle_argv"] = self.holder.shown_argv
        m = self.holder.wait_for_line(HOLDING, timeout_s=max(40, n / 200))
        report = {"held": int(m.group(1)) if m else 0, "answered": int(m.group(2)) if m else 0}
        if not m or m.group(3):
            report["problem"] = m.group(4) if m else "idle holder said nothing: " + self.holder.stderr_tail()
        self.info["idle_report"] = report
        return report

    def start_background(self, start_at: float) -> None:
        """stall's /cpu load, started STALL_LEAD_S before the measured one."""
        command = [*self.args.background, f"--start-at={start_at - STALL_LEAD_S!r}",
                   f"--clock-offset={self.args.clock_offset!r}", "--json", str(self.dir / "background.json")]
        self.background, pid = self.bounded(command, "background", start_at)
        self.info["background_argv"] = self.background.shown_argv
        self.bg_sampler = Sampler(pid, self.args.sample_interval).start()
        self.info.setdefault("marks", {})["background_t0_unix"] = self.bg_sampler.t0_unix

    def run_loadgen(self, start_at: float) -> None:
        args, info = self.args, self.info
        # KEY=VALUE: a negative offset ("-6e-06") must not read as an option.
        command = [*args.command, *(["--shard", args.shard] if args.shard else []),
                   f"--start-at={start_at!r}", f"--clock-offset={args.clock_offset!r}",
                   "--json", str(self.dir / "loadgen.json")]
        info["loadgen_command"] = command
        self.loadgen, pid = self.bounded(command, "loadgen", start_at)
        info["loadgen_argv"] = self.loadgen.shown_argv
        pids = lambda: procfs.children(pid)  # noqa: E731
        self.sampler = Sampler(pid, args.sample_interval, pids=pids).start()
        info.setdefault("marks", {})["client_t0_unix"] = self.sampler.t0_unix
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
        if not self.loadgen.wait(max(0.0, self.deadline - time.monotonic())):
            info["problems"].append("loadgen ran past its bound and was stopped")
        if self.background is not None and not self.background.alive():
            info["problems"].append("background loadgen ended before the measured one: "
                                    + (self.background.stderr_tail() or f"exit {self.background.exit.status}"))

    def _window(self):
        deadline = time.monotonic() + LINE_WAIT_S
        while time.monotonic() < deadline:
            found = parse_window_line(self.loadgen.stdout_text())
            if found:
                if found.end_ns is None:
                    found.end_ns = found.start_ns + int(self.args.duration_s * 1e9)
                return found
            if not self.loadgen.alive():
                return None
            time.sleep(LINE_POLL_S)
        return None

    def finish(self) -> None:
        info = self.info
        if self.loadgen is not None:
            info["loadgen_exit"] = self._stop(self.loadgen, "loadgen", problem=True)
        if self.sampler is not None:
            self.sampler.stop()
            self.sampler.write_csv(self.dir / "loadgen_samples.csv")
        if self.background is not None:
            # Still running by design: SIGTERM ends it, and it writes its JSON.
            info["background_exit"] = self._stop(self.background, "background", problem=False)
            self.bg_sampler.stop()
            self.bg_sampler.write_csv(self.dir / "background_samples.csv")
            if not (self.dir / "background.json").exists():
                info["problems"].append("background loadgen wrote no JSON: " + self.background.stderr_tail())
        if self.holder is not None:
            info["idle_exit"] = self._stop(self.holder, "idle", problem=False)
        info["accounting"] = self.acct
        hostlib.write_json(self.dir / "shard.json", info)
        hostlib.pack(self.dir, self.dir / "result.tgz")

    def _stop(self, child, name: str, problem: bool) -> dict:
        ex = child.stop()
        hostlib.forget_pid(name)
        if problem and ex.status not in (0, None):
            self.info["problems"].append(f"{name} exit {ex.status}: " + child.stderr_tail(2))
        return asdict(ex)


def main(argv: list[str]) -> int:
    part = Part(parse_args(argv))
    return hostlib.run_helper("shard", part, part.info["problems"].append)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
