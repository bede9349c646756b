#!/usr/bin/python3
"""Runs a Google Benchmark program briefly and checks its JSON output.

Used by ctest: the program must exit 0, write JSON that parses, and report
every expected benchmark name without an error.
"""
import argparse
import json
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("program")
    parser.add_argument("json_out")
    parser.add_argument("--filter", required=True, help="--benchmark_filter regex")
    parser.add_argument("--expect", nargs="+", required=True, help="benchmark names")
    args = parser.parse_args()

    command = [args.program, f"--benchmark_filter={args.filter}",
               "--benchmark_min_time=0.01", f"--benchmark_out={args.json_out}",
               "--benchmark_out_format=json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=100)
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\n")
        print(f"FAIL: {args.program} exited {done.returncode}")
        return 1
    with open(args.json_out) as f:
        report = json.load(f)  # raises on malformed JSON: the test fails
    if "context" not in report or "benchmarks" not in report:
        print("FAIL: no 'context'/'benchmarks' in the JSON")
        return 1
    # "/real_time" only says how iterations were chosen (UseRealTime()).
    found = {b["name"].removesuffix("/real_time"): b for b in report["benchmarks"]}
    failed = False
    for name in args.expect:
        bench = found.get(name)
        if bench is None:
            print(f"FAIL: {name} missing; found {sorted(found)}")
            failed = True
        elif bench.get("error_occurred"):
            print(f"FAIL: {name}: {bench.get('error_message')}")
            failed = True
        elif not bench.get("real_time", 0) > 0:
            print(f"FAIL: {name} has no positive real_time")
            failed = True
    if not failed:
        print(f"ok: {len(args.expect)} benchmarks in {args.json_out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
