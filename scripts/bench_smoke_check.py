#!/usr/bin/python3
"""Checks a bench run folder (used by bench_smoke_test.sh): REPORT.md shows
every plot, every plot exists as PNG and SVG, and summary.csv has a row for
every model x scenario, each measured or carrying the reason it was not."""
import csv
import sys
from pathlib import Path

EXPECTED_PLOTS = ["throughput", "latency", "peak_rss", "ctx_per_request", "cpu_per_request",
                  "threads", "idle", "open_loop", "spectrum", "ramp"]
OUR_MODELS = {"blocking", "threaded-pool0", "epoll"}
SCENARIOS = ["hello", "sleep", "cpu", "idle", "pipelined", "open-loop", "ramp"]


def main(run: Path) -> int:
    problems = []
    report = (run / "REPORT.md").read_text() if (run / "REPORT.md").exists() else ""
    if not report:
        problems.append("REPORT.md missing or empty")
    for name in EXPECTED_PLOTS:
        for ext in ("png", "svg"):
            f = run / "plots" / f"{name}.{ext}"
            if not f.exists() or f.stat().st_size < 1000:
                problems.append(f"plot missing: {f.name}")
        if f"plots/{name}.png" not in report:
            problems.append(f"REPORT.md does not show {name}.png")
    with open(run / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    models = {r["model"] for r in rows}
    if not OUR_MODELS <= models:
        problems.append(f"models missing from summary.csv: {OUR_MODELS - models}")
    if not any(m.startswith("threaded-pool") and m != "threaded-pool0" for m in models):
        problems.append("no threaded --pool N model in summary.csv")
    for m in sorted(models):
        for sc in SCENARIOS:
            mine = [r for r in rows if r["model"] == m and r["scenario"] == sc]
            if not mine:
                problems.append(f"no row for {m} x {sc}")
            for r in mine:
                if r["status"] != "ok" and not r["reason"]:
                    problems.append(f"{m} x {sc} x={r['x']}: status {r['status']} without a reason")
                if r["status"] == "ok" and r["throughput_rps"] == "":
                    problems.append(f"{m} x {sc} x={r['x']}: ok but no throughput")
    ok_hello = [r for r in rows if r["scenario"] == "hello" and r["status"] == "ok"
                and float(r["throughput_rps"] or 0) > 0]
    if not ok_hello:
        problems.append("no hello point served any request")
    for p in problems:
        print("bench smoke check: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
