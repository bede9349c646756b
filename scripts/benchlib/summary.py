"""summary.csv: one row per measured (or skipped) point, computed from the
point's raw files alone, and the grouping that turns repeats into a median
and a spread."""
from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path
from typing import Optional

from .sampler import read_samples, window_delta

# A client core busier than this cannot be trusted to have offered all the
# load the server could take (issue 5): the point is client-bound.
CLIENT_BOUND = 0.95
# A point where timeouts plus connections never opened reach this share of
# the requests in flight is marked starved.
STARVED = 0.05
# Per-request figures need at least this many answered requests.
MIN_REQUESTS = 100

COLUMNS = [
    "scenario", "model", "label", "peer", "x", "connections", "idle_connections",
    "offered_rps", "rate_fraction", "pipeline", "repeat", "status", "reason", "network",
    "throughput_rps", "requests", "errors_total", "errors_timeout", "errors_connect",
    "errors_other", "non_2xx", "not_opened", "unanswered", "starved_share", "starved",
    "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us", "p99_uncorrected_us",
    "server_cpu_us_per_req", "ctx_per_req", "vol_ctx_per_req", "invol_ctx_per_req",
    "server_cpu_util", "client_cpu_util", "client_bound",
    "peak_rss_kib", "rss_end_kib", "threads_max", "rss_per_idle_conn_bytes", "idle_held", "idle_answered",
    "server_utime_s", "server_stime_s", "server_nvcsw", "server_nivcsw",
    "client_utime_s", "client_stime_s",
    # stall: the background load generator's /cpu/{us} beside the measured /hello.
    "background_us", "background_connections", "background_rps", "background_p99_us",
]


def _num(v) -> Optional[float]:
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def point_row(pdir: Path) -> Optional[dict]:
    try:
        info = json.loads((pdir / "point.json").read_text())
    except (OSError, ValueError):
        return None
    pt = info["point"]
    row = {k: "" for k in COLUMNS}
    row.update(scenario=pt["scenario"], model=info["model"], label=info["label"],
               peer=int(bool(info["peer"])), x=pt["x"], connections=pt["connections"],
               idle_connections=pt["idle"], offered_rps=pt["rate"] or "",
               rate_fraction=pt["rate_fraction"] if pt["rate_fraction"] is not None else "",
               pipeline=pt["pipeline"], repeat=pt["repeat"], status=info["status"],
               reason=info.get("reason", ""), network=info.get("network", ""),
               background_us=pt.get("background_us") or "",
               background_connections=pt.get("background_connections") or "")
    sx = info.get("server_exit") or {}
    ru = sx.get("rusage") or {}
    if ru:
        row.update(server_utime_s=ru["utime_s"],
                   server_stime_s=ru["stime_s"], server_nvcsw=ru["nvcsw"], server_nivcsw=ru["nivcsw"])
    exits = info.get("loadgen_exits") or ([info["loadgen_exit"]] if info.get("loadgen_exit") else [])
    cx = [e["rusage"] for e in exits if e.get("rusage")]
    if cx:
        row.update(client_utime_s=round(sum(c["utime_s"] for c in cx), 6),
                   client_stime_s=round(sum(c["stime_s"] for c in cx), 6))
    lg_path = pdir / "loadgen.json"
    if info["status"] != "ok" or not lg_path.exists():
        return row
    bg = _background(pdir)
    if bg:
        row.update(background_rps=bg.get("throughput_rps"),
                   background_p99_us=(bg.get("latency_us") or {}).get("p99"))
    try:
        lg = json.loads(lg_path.read_text())
    except ValueError as e:
        row.update(status="failed", reason=f"unreadable loadgen.json: {e}")
        return row
    lat = lg.get("latency_us") or {}
    errors = lg.get("errors") or {}
    status = lg.get("status") or {}
    requests = lg.get("requests") or 0
    duration = lg.get("duration_s") or pt["duration_s"]
    row.update(throughput_rps=lg.get("throughput_rps"), requests=requests,
               errors_total=errors.get("total", sum(v for v in errors.values() if isinstance(v, (int, float)))),
               not_opened=(lg.get("connections") or {}).get("not_opened", "") if isinstance(lg.get("connections"), dict) else "",
               errors_timeout=errors.get("timeout", 0), errors_connect=errors.get("connect", 0),
               non_2xx=sum(v for k, v in status.items() if not str(k).startswith("2")),
               p50_us=lat.get("p50"), p90_us=lat.get("p90"), p99_us=lat.get("p99"),
               p99_9_us=lat.get("p99_9"), max_us=lat.get("max"),
               p99_uncorrected_us=(lg.get("latency_uncorrected_us") or {}).get("p99", ""))
    row["errors_other"] = row["errors_total"] - row["errors_timeout"] - row["errors_connect"]
    # Starvation: requests that timed out (the timeout is shorter than the
    # point) and connections never opened. The latency percentiles cover only
    # answered requests, so a server that serves a few connections and starves
    # the rest looks fast unless this is shown beside them. (Requests merely
    # in flight when the run ends are not starvation: a closed loop always
    # has one per connection.)
    in_flight = max(1, pt["connections"] * pt["pipeline"])
    unanswered = (row["errors_timeout"] or 0) + (row["not_opened"] or 0)
    row["unanswered"] = unanswered
    row["starved_share"] = round(min(1.0, unanswered / in_flight), 4)
    row["starved"] = int(row["starved_share"] >= STARVED)
    # Fewer answers than connections without starvation: the window was
    # shorter than one round of the connections (10000 connections x 100 us
    # of /cpu each is a 1 s round), so its rate counts only the stragglers.
    # Not a result: drawn as missing with this reason.
    if 0 < requests < pt["connections"] and not row["starved"] and pt["rate"] is None:
        row["status"] = "too short"
        row["reason"] = (f"{requests} answers from {pt['connections']} connections in the "
                         f"{duration:g} s window: shorter than one round of the connections; "
                         "the full profile's longer points measure it. " + row["reason"]).strip()
        for col in ("throughput_rps", "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us"):
            row[col] = ""
        return row

    # The measured window is the last `duration` seconds before the loadgen
    # exited (warm-up and connecting come before it); the server's CPU and
    # context switches are taken over that window from the samples.
    samples = read_samples(pdir / "samples.csv")
    marks = info.get("marks") or {}
    end = marks.get("loadgen_end_t")
    if samples and end:
        # The window the loadgen measured, on the sampler's clock: from its
        # start_unix_s when it reports one; else the last `duration` seconds
        # before it exited (which also counts its closing of connections).
        start = max(end - duration, marks.get("loadgen_start_t", 0))
        t0_unix = marks.get("sampler_t0_unix")
        if lg.get("start_unix_s") and t0_unix:
            start = lg["start_unix_s"] - t0_unix
            end = start + duration
        cpu = window_delta(samples, "cpu_s", start, end)
        vol = window_delta(samples, "vol_ctx", start, end)
        inv = window_delta(samples, "invol_ctx", start, end)
        span = end - start
        # stall: the server's CPU and switches serve /cpu and /hello together,
        # so no per-request quotient is shown (only the CPU's utilisation).
        per_request = requests >= MIN_REQUESTS and not pt.get("background_connections")
        if cpu is not None and span > 0:
            row["server_cpu_util"] = round(cpu / span, 3)
            # Too few answers to divide by: the quotient would be noise (a
            # server that stalled, or a point drowned in its connections).
            if per_request:
                row["server_cpu_us_per_req"] = round(cpu * 1e6 / (requests * span / duration), 2)
        if vol is not None and per_request:
            per = requests * span / duration
            row.update(vol_ctx_per_req=round(vol / per, 4), invol_ctx_per_req=round(inv / per, 4),
                       ctx_per_req=round((vol + inv) / per, 4))
        row["threads_max"] = int(max(r["threads"] for r in samples))
        row["rss_end_kib"] = int(samples[-1]["rss_kib"])
        row["peak_rss_kib"] = int(max(max(r.get("hwm_kib", 0), r["rss_kib"]) for r in samples))
        # The busiest load generator decides: one saturated client is enough
        # to cap what the server was offered.
        utils = []
        offset = marks.get("loadgen_start_t", 0)
        if t0_unix and marks.get("client_t0_unix"):
            offset = marks["client_t0_unix"][0] - t0_unix
        for f in sorted(pdir.glob("loadgen_samples*.csv")):
            ccpu = window_delta(read_samples(f), "cpu_s", start - offset, end - offset)
            if ccpu is not None and span > 0:
                utils.append(ccpu / span / max(1, _count_cpus(info)))
        # stall's background loadgen runs on the same client CPUs as the
        # measured one: together they decide whether those CPUs were full.
        bg_samples = pdir / "background_samples.csv"
        if utils and t0_unix and marks.get("background_t0_unix") and bg_samples.exists():
            bg_off = marks["background_t0_unix"] - t0_unix
            bcpu = window_delta(read_samples(bg_samples), "cpu_s", start - bg_off, end - bg_off)
            if bcpu is not None and span > 0:
                utils[0] += bcpu / span / max(1, _count_cpus(info))
        if utils:
            row["client_cpu_util"] = round(max(utils), 3)
            row["client_bound"] = int(max(utils) >= CLIENT_BOUND)
    if pt["idle"]:
        held = marks.get("idle_held") or 0
        row["idle_held"] = held
        row["idle_answered"] = marks.get("idle_answered", "")
        before, after = marks.get("rss_before_idle_kib"), marks.get("rss_idle_kib")
        # Only when the server answered every one: otherwise the connections
        # sit in its accept queue (kernel memory) and RSS says nothing of them.
        if held and held == marks.get("idle_answered") and before is not None and after is not None:
            row["rss_per_idle_conn_bytes"] = round((after - before) * 1024 / held, 1)
        if marks.get("idle_problem"):
            row["reason"] = (row["reason"] + "; idle: " + marks["idle_problem"]).strip("; ")
    return row


def _background(pdir: Path) -> Optional[dict]:
    try:
        return json.loads((pdir / "background.json").read_text())
    except (OSError, ValueError):
        return None


def _count_cpus(info: dict) -> int:
    # The client's cpu list is in its argv: taskset -c LIST ...
    argv = info.get("loadgen_argv") or []
    if "taskset" in argv:
        spec = argv[argv.index("taskset") + 2]
        n = 0
        for part in spec.split(","):
            lo, _, hi = part.partition("-")
            n += int(hi) - int(lo) + 1 if hi else 1
        return n
    return 1


def collect(run_dir: Path) -> list[dict]:
    rows = []
    for pdir in sorted((run_dir / "points").glob("*")):
        row = point_row(pdir)
        if row:
            rows.append(row)
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def grouped(rows: list[dict], scenario: str) -> dict[str, list[dict]]:
    """Rows of one scenario by model, repeats folded into one entry per x:
    each numeric column becomes its median, with col+"_lo"/"_hi" the spread.
    An x where no repeat succeeded stays, with status and reason, so that it
    can be drawn as missing."""
    by_model: dict[str, dict[float, list[dict]]] = {}
    for r in rows:
        if r["scenario"] != scenario:
            continue
        key = float(r["rate_fraction"]) if r["rate_fraction"] not in ("", None) else float(r["x"])
        by_model.setdefault(r["model"], {}).setdefault(key, []).append(r)
    out: dict[str, list[dict]] = {}
    for model, by_x in by_model.items():
        folded = []
        for key in sorted(by_x):
            reps = by_x[key]
            ok = [r for r in reps if r["status"] == "ok"]
            entry = dict(reps[0]) if not ok else dict(ok[0])
            entry["n_ok"] = len(ok)
            for col in COLUMNS:
                vals = [v for v in (_num(r[col]) for r in ok) if v is not None]
                if vals and col not in ("scenario", "model", "label", "status", "reason", "network"):
                    entry[col] = statistics.median(vals)
                    entry[col + "_lo"], entry[col + "_hi"] = min(vals), max(vals)
            if ok:
                entry["client_bound"] = int(any(_num(r["client_bound"]) for r in ok))
                entry["starved"] = int(any(_num(r["starved"]) for r in ok))
            folded.append(entry)
        out[model] = folded
    return out
