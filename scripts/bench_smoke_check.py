#!/usr/bin/python3
"""Checks a bench run folder (used by bench_smoke_test.sh): REPORT.md shows
every plot, every plot exists as PNG and SVG, and summary.csv has a row for
every model x scenario, each measured or carrying the reason it was not."""
import csv
import sys
from pathlib import Path

EXPECTED_PLOTS = ["throughput", "latency", "peak_rss", "ctx_per_request", "cpu_per_request",
                  "threads", "idle", "open_loop", "spectrum", "ramp", "stall"]
OUR_MODELS = {"blocking", "threaded-pool0", "epoll"}
SCENARIOS = ["hello", "sleep", "cpu", "stall", "idle", "pipelined", "open-loop", "ramp"]


def stall_problems(run: Path, rows: list[dict]) -> list[str]:
    """stall measures /hello beside /cpu: a point with a background must
    keep the background's JSON and show that it was served, or the /hello
    latency was not measured beside anything."""
    problems = []
    stall = [r for r in rows if r["scenario"] == "stall" and r["status"] == "ok"]
    if not any(r["model"] == "epoll" for r in stall):
        problems.append("no measured stall point for epoll")
    for r in stall:
        if float(r["x"]) <= 0:
            continue
        point = run / "points" / f"stall__{r['model']}__{int(float(r['x']))}__r{r['repeat']}"
        if not (point / "background.json").exists():
            problems.append(f"{point.name}: background.json missing")
        if float(r["background_rps"] or 0) <= 0:
            problems.append(f"{point.name}: the background /cpu load got no answers")
        if r["p99_us"] == "":
            problems.append(f"{point.name}: no /hello p99")
    return problems


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
    problems += stall_problems(run, rows)
    ok_hello = [r for r in rows if r["scenario"] == "hello" and r["status"] == "ok"
                and float(r["throughput_rps"] or 0) > 0]
    if not ok_hello:
        problems.append("no hello point served any request")
    for p in problems:
        print("bench smoke check: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
