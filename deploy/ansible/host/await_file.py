#!/usr/bin/python3
"""Waits until a helper has written a file, and prints it if asked.

    await_file.py PATH --timeout-s 30 [--print] [--job RESULTS_FILE]

One SSH round trip that returns within milliseconds of the file appearing,
where polling from the control machine (Ansible's `until`) costs a round
trip per try and whole seconds of delay. The helpers write their files
whole (rename), so what is found is complete. Exit 0 when found, 1 when
--timeout-s passed first, or as soon as the Ansible job that should have
written it (--job: its async results file) has ended without it, with
that job's error: a helper that could not start says why at once.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("path", type=Path)
    ap.add_argument("--timeout-s", type=float, required=True)
    ap.add_argument("--print", action="store_true", help="print the file's text once it is there")
    ap.add_argument("--job", default="", help="the async results file of the job that writes PATH")
    args = ap.parse_args(argv)
    deadline = time.monotonic() + args.timeout_s
    while not args.path.exists():
        ended = job_ended(args.job)
        if ended is not None and not args.path.exists():
            print(f"await_file.py: {args.path} was not written: its job ended: {ended}", file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            print(f"await_file.py: {args.path} did not appear within {args.timeout_s:g} s", file=sys.stderr)
            return 1
        time.sleep(0.02)
    if args.print:
        print(args.path.read_text())
    return 0


def job_ended(results_file: str):
    """None while the job runs (its file says "started"), else what it said."""
    if not results_file:
        return None
    try:
        with open(os.path.expanduser(results_file)) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None       # not there yet, or being rewritten
    if data.get("started") and not data.get("finished"):
        return None
    return (data.get("stderr") or data.get("msg") or f"exit {data.get('rc')}").strip()[-2000:]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
