#!/usr/bin/python3
"""Checks a bench run folder (used by bench_smoke_test.sh): REPORT.md shows
every plot and the sections that decide (noise floor, goal intervals and
verdicts, cost at equal load, the accounting that does not close, the
budget), every plot exists as PNG and SVG, summary.csv has the columns that
tell served from rejected and waited work and a row for every model x
scenario, each measured or carrying the reason it was not, every measured
point has its accounting.json (SPEC §6), the machine description records
the CPU sets, the load generator's command lines of all models at one point
differ only in the target, the plan ran its rounds, its A/A control and
one connection policy per scenario, and "Where the time goes" is there:
where perf ran, syscalls and the wait for a CPU per request at every
counted headline point and a flame graph (SVG and PNG) of every model at
each profiled point; where it could not, the report's one line says so."""
import csv
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import perfhooks  # noqa: E402

EXPECTED_PLOTS = ["throughput", "latency", "peak_rss", "ctx_per_request", "cpu_per_request",
                  "threads", "idle", "open_loop", "equal_load", "spectrum", "ramp", "stall"]
OUR_MODELS = {"blocking", "threaded-pool0", "epoll"}
SCENARIOS = ["hello", "sleep", "cpu", "stall", "idle", "pipelined", "open-loop", "rotate", "ramp"]
COLUMNS = ["goodput_rps", "non_2xx_rate", "censored_share", "little_ratio", "little_note",
           "p50_lower_bound", "p99_lower_bound", "valid", "invalid_reason", "saturation",
           "saturation_source", "conn_requests", "control_of", "headline", "send_lag_p99_us",
           "schedule_kept", "server_cpus_busy", "client_cpus_busy", "cpu_method",
           "answered_conn_share", "first_answer_p50_us", "first_answer_p50_lower_bound",
           "syscalls_per_req", "sys_read_per_req", "sched_delay_us_per_req", "cs_vol_per_req"]
SECTIONS = ["### Noise floor (A/A control)", "### Headline", "## Cost at equal load",
            "## Points whose accounting does not close", "## Plan, budget and what was thinned",
            "## Where the time goes"]
# Per-request figures need this many served requests (summary.MIN_REQUESTS).
MIN_SERVED = 100


def plan_problems(run: Path, rows: list[dict], report: str) -> list[str]:
    """Rounds, the A/A control, the shuffle's record, the open loop's
    common rates and one connection policy per scenario (issues 13, 14)."""
    problems = []
    try:
        plan = json.loads((run / "plan.json").read_text())
    except (OSError, ValueError):
        return ["plan.json missing or unreadable"]
    for key in ("seed", "order", "repeats", "estimate_s", "timing"):
        if key not in plan:
            problems.append(f"plan.json has no {key}")
    repeats = plan.get("repeats", 1)
    control = [r for r in rows if r["control_of"]]
    if not control:
        problems.append("no A/A control rows in summary.csv")
    head = {}
    for r in rows:
        if r["headline"] == "1" and r["status"] != "n/a":
            head.setdefault((r["scenario"], r["model"], r["rate_fraction"] or r["x"]), []).append(r)
    if not head:
        problems.append("no headline points in summary.csv")
    for key, reps in head.items():
        if len(reps) != repeats:
            problems.append(f"headline point {key}: {len(reps)} repeats, the plan says {repeats}")
    policies: dict[str, set] = {}
    for r in rows:
        if r["status"] != "n/a":
            policies.setdefault(r["scenario"], set()).add(r["conn_requests"])
    for sc, ps in policies.items():
        if len(ps) != 1:
            problems.append(f"{sc}: models ran different connection policies {ps}")
    if policies.get("rotate") and policies["rotate"] == {""}:
        problems.append("rotate ran without reconnecting")
    rates: dict[str, set] = {}
    for r in rows:
        if r["scenario"] == "open-loop" and r["status"] == "ok":
            rates.setdefault(r["rate_fraction"], set()).add(r["offered_rps"])
    for f, rs in rates.items():
        if len(rs) != 1:
            problems.append(f"open loop at {f}: different rates per model {rs}")
    if rates and not (run / "open_loop.json").exists():
        problems.append("open_loop.json missing")
    goals = [l for l in report.splitlines() if re.match(r"\| \S+ / \S+: ", l)]
    for line in goals:
        if not re.search(r"\[\d[\d.,]*, \d[\d.,]*\]|no interval|not measured|no valid pair", line):
            problems.append(f"a ratio without an interval: {line[:100]}")
        if "≤" in line and not re.search(r"\*\*(met|not met|undecided)\*\*", line):
            problems.append(f"a goal row without a three-way verdict: {line[:100]}")
    return problems


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


def accounting_problems(run: Path, rows: list[dict]) -> list[str]:
    """Each measured point's accounting.json: the window, a method and a CPU
    time for both sides, the per-CPU breakdown of both CPU sets, the bench's
    own CPU and the sampler's."""
    problems = []
    for r in rows:
        if r["status"] != "ok":
            continue
        pdir = run / "points" / _point_id(r)
        acct = _point_json(pdir, "accounting.json", problems)
        if acct is None:
            continue
        w = acct.get("window") or {}
        if w.get("source") not in ("loadgen-line", "estimated") or not w.get("end_monotonic_ns", 0) > \
                w.get("start_monotonic_ns", 0):
            problems.append(f"{pdir.name}: accounting window {w}")
        for side in ("server", "client"):
            a = acct.get(side) or {}
            if not a.get("method") or not isinstance(a.get("cpu_s"), (int, float)) or a["cpu_s"] < 0:
                problems.append(f"{pdir.name}: {side} accounting {a}")
        cpus = acct.get("cpus") or {}
        for cpu in cpus.get("server", []) + cpus.get("client", []):
            if "idle_s" not in (acct.get("per_cpu") or {}).get(str(cpu), {}):
                problems.append(f"{pdir.name}: no /proc/stat breakdown for CPU {cpu}")
        if not isinstance((acct.get("harness") or {}).get("cpu_s"), (int, float)):
            problems.append(f"{pdir.name}: the bench's own CPU is missing")
        if not isinstance((acct.get("sampler") or {}).get("cpu_s"), (int, float)):
            problems.append(f"{pdir.name}: the sampler's own CPU is missing")
    return problems


def _point_json(pdir: Path, name: str, problems: list[str]):
    """A point's JSON file, or None with the problem recorded."""
    try:
        return json.loads((pdir / name).read_text())
    except (OSError, ValueError) as e:
        problems.append(f"{pdir.name}: no {name} ({e})")
        return None


def _point_id(r: dict) -> str:
    x = f"{float(r['rate_fraction']):g}x" if r["rate_fraction"] not in ("", None) else f"{int(float(r['x']))}"
    return f"{r['scenario']}__{r['model']}__{x}__r{r['repeat']}"


def perf_problems(run: Path, rows: list[dict], report: str) -> list[str]:
    """Issue 17. Every counted headline point has its perfcount.json; where
    perf counted, its syscalls and wait for a CPU per request are in
    summary.csv; where it was skipped, the report's section says so in a
    line. Every model has a flame graph at each profiled point (first
    round) when perf could record."""
    problems = []
    statuses: set[str] = set()
    for r in rows:
        if not (r["headline"] == "1" and r["status"] == "ok" and r["scenario"] in perfhooks.COUNTED):
            continue
        pdir = run / "points" / _point_id(r)
        doc = _point_json(pdir, "perfcount.json", problems)
        if doc is None:
            continue
        statuses.add(doc.get("status"))
        if doc.get("status") == "failed":
            problems.append(f"{pdir.name}: perf counting failed: {doc.get('reason')}")
        elif doc.get("status") == "ok" and float(r["answered_2xx"] or 0) >= MIN_SERVED:
            for col in ("syscalls_per_req", "sched_delay_us_per_req"):
                if r[col] == "":
                    problems.append(f"{pdir.name}: perf counted but summary.csv has no {col}")
    if "skipped" in statuses and "\nSkipped: " not in report:
        problems.append("perf was skipped but 'Where the time goes' does not say so in a line")
    try:
        profiled = json.loads((run / "plan.json").read_text()).get("profiled") or []
    except (OSError, ValueError):
        profiled = []
    if not profiled:
        problems.append("plan.json names no profiled points")
    for scenario, x in profiled:
        for r in rows:
            if (r["scenario"], int(float(r["x"])), r["repeat"]) != (scenario, x, "0") \
                    or r["status"] != "ok" or r["control_of"]:
                continue
            pdir = run / "points" / _point_id(r)
            prof = _point_json(pdir, "profile.json", problems)
            if prof is None:
                continue
            if prof.get("status") == "skipped":
                continue
            if prof.get("status") != "ok":
                problems.append(f"{pdir.name}: no flame graph: {prof.get('reason')}")
                continue
            for f in ("profile.svg", "profile.png"):
                if not (pdir / f).exists() or (pdir / f).stat().st_size < 1000:
                    problems.append(f"{pdir.name}: {f} missing")
            if f"{pdir.name}/profile.svg" not in report:
                problems.append(f"REPORT.md does not link {pdir.name}'s flame graph")
    return problems


def same_workload_problems(run: Path) -> list[str]:
    """Issue 13: nothing per model in the loadgen's arguments but the target."""
    problems = []
    by_point: dict[tuple, dict[str, list[str]]] = {}
    for f in (run / "points").glob("*/point.json"):
        info = json.loads(f.read_text())
        argv = info.get("loadgen_command")
        if not argv:
            continue
        key = (info["point"]["scenario"], info["point"]["x"], info["point"]["repeat"])
        # The target, and the file each writes (in its own point folder).
        by_point.setdefault(key, {})[info["model"]] = [
            "URL" if a.startswith("http://") else "OUT" if a.endswith("loadgen.json") else a for a in argv]
    for key, argvs in by_point.items():
        if len({tuple(a) for a in argvs.values()}) > 1:
            problems.append(f"{key}: the loadgen command lines differ beyond the target: {argvs}")
    return problems


def machine_problems(run: Path) -> list[str]:
    try:
        m = json.loads((run / "machine.json").read_text())
    except (OSError, ValueError) as e:
        return [f"machine.json: {e}"]
    sets = m.get("cpu_sets") or {}
    if not sets.get("server") or not sets.get("client") or set(sets["server"]) & set(sets["client"]):
        return [f"machine.json: no disjoint server and client CPU sets: {sets}"]
    if not (run / "peers.json").exists():
        return ["peers.json missing"]
    return []


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
    for section in SECTIONS:
        if section not in report:
            problems.append(f"REPORT.md has no section {section!r}")
    if "server-bound" not in report or "grey band" not in report:
        problems.append("REPORT.md does not explain the markers under the plots")
    with open(run / "summary.csv") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        problems.append(f"summary.csv lacks columns {missing}")
        rows = [dict({c: "" for c in COLUMNS}, **r) for r in rows]
    models = {r["model"] for r in rows}
    if not OUR_MODELS <= models:
        problems.append(f"models missing from summary.csv: {OUR_MODELS - models}")
    if not any(m.startswith("threaded-pool") and m != "threaded-pool0" for m in models):
        problems.append("no threaded --pool N model in summary.csv")
    controls = {r["model"] for r in rows if r["control_of"]}
    for m in sorted(models - controls):
        for sc in SCENARIOS:
            mine = [r for r in rows if r["model"] == m and r["scenario"] == sc]
            if not mine:
                problems.append(f"no row for {m} x {sc}")
            for r in mine:
                if r["status"] != "ok" and not r["reason"]:
                    problems.append(f"{m} x {sc} x={r['x']}: status {r['status']} without a reason")
                if r["status"] == "ok" and (r["throughput_rps"] == "" or r["goodput_rps"] == ""):
                    problems.append(f"{m} x {sc} x={r['x']}: ok but no throughput or goodput")
                if r["status"] == "ok" and r["valid"] == "0" and not r["invalid_reason"]:
                    problems.append(f"{m} x {sc} x={r['x']}: not valid without a reason")
    problems += stall_problems(run, rows)
    problems += accounting_problems(run, rows)
    problems += same_workload_problems(run)
    problems += machine_problems(run)
    problems += plan_problems(run, rows, report)
    problems += perf_problems(run, rows, report)
    ok_hello = [r for r in rows if r["scenario"] == "hello" and r["status"] == "ok"
                and float(r["throughput_rps"] or 0) > 0]
    if not ok_hello:
        problems.append("no hello point served any request")
    for p in problems:
        print("bench smoke check: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
