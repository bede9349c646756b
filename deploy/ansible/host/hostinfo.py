#!/usr/bin/python3
"""What the control machine needs to know about a host before it plans:
its CPU sets and its description for machine.json.

    hostinfo.py --role server [--cpus 0-3]     # the server's CPUs, the helper's (the rest)
    hostinfo.py --role client [--cpus 4-7]     # the loadgen's CPUs (default: all), the helper's

Prints one JSON object. The server host splits its CPUs as the bench does
on one machine (scripts/benchlib/cpus.py: half the cores, SMT siblings
together), unless --cpus names the server's set; the one-core models then
run on its first CPU, the all-cores variants on all of it. The helper that
samples and reads counters runs on the CPUs the server does not get. A
client host gives the load generator every CPU (or --cpus) and its helper
the rest, if any.

The server host also asks each model that has a start-up probe in the
registry (server-uring --probe) whether this kernel can run it: the
server host's kernel decides, not the control machine's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import hostlib
from benchlib import cpus as cpulib, machine, registry
from benchlib.models import probe


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--role", choices=["server", "client"], required=True)
    ap.add_argument("--cpus", default="", help="this role's CPU list (default: see above)")
    ap.add_argument("--nofile", type=int, default=0, help="the open-files limit the helpers will ask for")
    args = ap.parse_args(argv)
    allowed = sorted(os.sched_getaffinity(0))
    split = None
    try:
        topo = cpulib.read_topology(cpulib.sysfs_reader())
        if args.role == "server" and not args.cpus:
            split = cpulib.split(topo, allowed)
            mine, rest, notes = split.server, split.client, split.notes
        else:
            mine = cpulib.parse_list(args.cpus, "--cpus") if args.cpus else allowed
            bad = [c for c in mine if c not in allowed]
            if bad:
                raise cpulib.CpuSetError(f"--cpus {args.cpus}: CPU {cpulib.format_list(bad)} is not "
                                         f"allowed here (allowed: {cpulib.format_list(allowed)})")
            # The rest may be nothing (all of a host for the server): the
            # helper then shares the CPUs it measures, and the notices say so.
            rest = [c for c in allowed if c not in mine]
            notes = [] if rest or args.role == "client" else [
                f"the server has every CPU ({cpulib.format_list(mine)}): the helper that samples it "
                "and reads its counters runs on them too"]
            if args.role == "server":
                split = cpulib.CpuSplit(mine, rest, "given", notes)
    except cpulib.CpuSetError as e:
        print(f"hostinfo.py: {os.uname().nodename}: {e}", file=sys.stderr)
        return 2
    out = {"hostname": os.uname().nodename, "role": args.role, "cpus": mine,
           "cpus_list": cpulib.format_list(mine), "agent_cpus": rest,
           "agent_cpus_list": cpulib.format_list(rest), "notes": notes,
           "machine": machine.describe(hostlib.ROOT / "bin", hostlib.ROOT, topo, split)}
    # What serve_point.py and run_shard.py will get: they raise it the same way.
    out["nofile"], note = hostlib.raise_nofile(args.nofile)
    if note:
        out["notes"].append(note)
    if args.role == "server":
        out["probes"] = probes()
    print(json.dumps(out))
    return 0


def probes() -> dict[str, list]:
    """model -> [ok, message] for the models whose binary is in the bundle."""
    out = {}
    for v in registry.variants(1, 1):
        path = hostlib.ROOT / "bin" / v.binary
        if v.probe and v.model not in out and path.exists():
            out[v.model] = list(probe(path, v.probe))
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
