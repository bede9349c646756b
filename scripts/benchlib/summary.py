"""summary.csv: one row per measured (or skipped) point, computed from the
point's raw files alone, and the grouping that turns repeats into a median
and a spread. scripts/benchlib/README.md documents every column."""
from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Optional

from . import little, outcomes, perfcount, saturation
from .profiles import CLOSED_LOOP
from .sampler import read_samples, window_delta

# A point where timeouts plus connections never opened reach this share of
# the requests in flight is marked starved.
STARVED = 0.05
# Per-request figures need at least this many served requests.
MIN_REQUESTS = 100

COLUMNS = [
    "scenario", "model", "label", "peer", "control_of", "headline", "x", "connections",
    "idle_connections", "offered_rps", "rate_fraction", "pipeline", "conn_requests", "repeat",
    "status", "reason", "network",
    # Evidence: a point the loadgen called invalid, or whose answers were
    # mostly rejections, is drawn but decides nothing.
    "valid", "invalid_reason", "loadgen_format", "loadgen_exit",
    "throughput_rps", "goodput_rps", "requests", "answered_2xx", "non_2xx", "non_2xx_rate",
    "measured", "censored", "censored_share",
    "errors_total", "errors_timeout", "errors_connect", "errors_other", "not_opened", "unanswered",
    "starved_share", "starved",
    "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us", "mean_us", "p99_uncorrected_us",
    "p50_lower_bound", "p99_lower_bound", "mean_lower_bound",
    "little_ratio", "little_note", "answered_conn_share",
    "first_answer_p50_us", "first_answer_p99_us", "first_answer_p50_lower_bound",
    "first_answer_p99_lower_bound",
    "send_lag_p50_us", "send_lag_p99_us", "send_lag_max_us", "schedule_kept", "rate_sustained",
    "server_cpu_us_per_req", "ctx_per_req", "vol_ctx_per_req", "invol_ctx_per_req",
    "server_cpu_util", "client_cpu_util", "client_bound", "saturation", "saturation_source",
    "server_cpus_busy", "server_cpus_user", "server_cpus_system", "server_cpus_softirq",
    "server_cpus_steal", "server_cpus_foreign", "client_cpus_busy", "client_cpus_user", "client_cpus_system",
    "client_cpus_softirq", "client_cpus_steal",
    "cpu_method", "memory_method", "harness_cpu_s", "sampler_cpu_util",
    "peak_rss_kib", "rss_end_kib", "threads_max", "rss_per_idle_conn_bytes", "idle_held", "idle_answered",
    "server_utime_s", "server_stime_s", "server_nvcsw", "server_nivcsw",
    "client_utime_s", "client_stime_s",
    # stall: the background load generator's /cpu/{us} beside the measured /hello.
    "background_us", "background_connections", "background_rps", "background_p99_us",
]
# Where the time goes (issue 17): syscalls, switches and the wait for a CPU
# per served request, from the point's perfcount.json.
COLUMNS += perfcount.COLUMNS


def _num(v) -> Optional[float]:
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def _json(path: Path) -> Optional[dict]:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def point_row(pdir: Path) -> Optional[dict]:
    info = _json(pdir / "point.json")
    if info is None or "point" not in info:
        return None
    pt = info["point"]
    row = {k: "" for k in COLUMNS}
    row.update(scenario=pt["scenario"], model=info["model"], label=info["label"],
               peer=int(bool(info["peer"])), control_of=pt.get("control_of") or "",
               headline=int(bool(pt.get("headline"))), x=pt["x"], connections=pt["connections"],
               idle_connections=pt["idle"], offered_rps=pt["rate"] or "",
               rate_fraction=pt["rate_fraction"] if pt["rate_fraction"] is not None else "",
               pipeline=pt["pipeline"], conn_requests=pt.get("conn_requests") or "",
               repeat=pt["repeat"], status=info["status"],
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
        row["valid"] = 0
        return row
    bg = _background(pdir)
    if bg:
        row.update(background_rps=bg.get("throughput_rps"),
                   background_p99_us=(bg.get("latency_us") or {}).get("p99"))
    try:
        lg = json.loads(lg_path.read_text())
    except ValueError as e:
        row.update(status="failed", reason=f"unreadable loadgen.json: {e}", valid=0)
        return row
    lat = lg.get("latency_us") or {}
    errors = lg.get("errors") or {}
    requests = lg.get("requests") or 0
    duration = lg.get("duration_s") or pt["duration_s"]
    row.update(throughput_rps=lg.get("throughput_rps"), requests=requests,
               errors_total=errors.get("total", sum(v for v in errors.values() if isinstance(v, (int, float)))),
               not_opened=(lg.get("connections") or {}).get("not_opened", "") if isinstance(lg.get("connections"), dict) else "",
               errors_timeout=errors.get("timeout", 0), errors_connect=errors.get("connect", 0),
               p50_us=lat.get("p50"), p90_us=lat.get("p90"), p99_us=lat.get("p99"),
               p99_9_us=lat.get("p99_9"), max_us=lat.get("max"),
               p99_uncorrected_us=(lg.get("latency_uncorrected_us") or {}).get("p99", ""))
    row.update(outcomes.served(lg, duration))
    row["errors_other"] = row["errors_total"] - row["errors_timeout"] - row["errors_connect"]
    row["loadgen_exit"] = outcomes.loadgen_exit(info)
    if row["loadgen_exit"] is None:
        row["loadgen_exit"] = ""
    # Starvation: requests that timed out and connections never opened, as a
    # share of the requests in flight. (Format 2 says more precisely which
    # requests got no answer: censored_share.)
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
        row["valid"] = 0
        row["reason"] = (f"{requests} answers from {pt['connections']} connections in the "
                         f"{duration:g} s window: shorter than one round of the connections; "
                         "the full profile's longer points measure it. " + row["reason"]).strip()
        for col in ("throughput_rps", "goodput_rps", "p50_us", "p90_us", "p99_us", "p99_9_us",
                    "max_us", "mean_us"):
            row[col] = ""
        return row
    why = outcomes.invalid_reason(row["loadgen_exit"] if row["loadgen_exit"] != "" else None, row)
    row["valid"] = int(not why)
    row["invalid_reason"] = why

    _resources(pdir, info, pt, lg, duration, row)
    if pt["scenario"] in CLOSED_LOOP and pt["rate"] is None:
        r = little.ratio(row["goodput_rps"], row["mean_us"], in_flight)
        row["little_ratio"] = "" if r is None else r
        row["little_note"] = little.reasons(row)
    if pt["idle"]:
        held = (info.get("marks") or {}).get("idle_held") or 0
        marks = info.get("marks") or {}
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


def _resources(pdir: Path, info: dict, pt: dict, lg: dict, duration: float, row: dict) -> None:
    """Server CPU, context switches and memory over the loadgen's window,
    the client's CPU, and which side was saturated. From accounting.json
    (exactly the window, precise counters) where the point has one, else
    from the ~10 Hz samples (10 ms ticks, the window interpolated)."""
    acc = _json(pdir / "accounting.json")
    served = row["answered_2xx"] or 0
    # stall: the server's CPU and switches serve /cpu and /hello together,
    # so no per-request quotient is shown (only the CPU's utilisation).
    per_request = served >= MIN_REQUESTS and not pt.get("background_connections")
    samples = read_samples(pdir / "samples.csv")
    marks = info.get("marks") or {}
    start, end = _sample_window(marks, lg, duration)
    span = (end - start) if start is not None else None
    have = set(samples[0]) if samples else set()

    cpu = vol = inv = None
    if acc:
        srv = acc.get("server") or {}
        cpu, vol, inv = _num(srv.get("cpu_s")), _num(srv.get("nvcsw")), _num(srv.get("nivcsw"))
        w = acc.get("window") or {}
        if _num(w.get("start_monotonic_ns")) is not None and _num(w.get("end_monotonic_ns")) is not None:
            span = (w["end_monotonic_ns"] - w["start_monotonic_ns"]) / 1e9
        row.update(cpu_method=srv.get("method") or "", memory_method=srv.get("memory_method") or "",
                   harness_cpu_s=(acc.get("harness") or {}).get("cpu_s", ""))
        smp = acc.get("sampler") or {}
        if _num(smp.get("cpu_s")) is not None and span:
            row["sampler_cpu_util"] = round(smp["cpu_s"] / span, 4)
        row.update(saturation.columns(acc))
    if samples and span and start is not None:
        if cpu is None and "cpu_s" in have:
            cpu = window_delta(samples, "cpu_s", start, end)
            row["cpu_method"] = row["cpu_method"] or "samples (/proc/PID/stat, 10 ms ticks)"
        if vol is None and "vol_ctx" in have:
            vol = window_delta(samples, "vol_ctx", start, end)
            inv = window_delta(samples, "invol_ctx", start, end)
        if "threads" in have:
            row["threads_max"] = int(max(r["threads"] for r in samples))
        if "rss_kib" in have:
            row["rss_end_kib"] = int(samples[-1]["rss_kib"])
            row["peak_rss_kib"] = int(max(max(r.get("hwm_kib", 0), r["rss_kib"]) for r in samples))
    if cpu is not None and span:
        row["server_cpu_util"] = round(cpu / span, 3)
        # Per *served* request: a rejection is cheap, and counting it as work
        # made a pool that rejected 98 % of its requests look frugal.
        if per_request:
            row["server_cpu_us_per_req"] = round(cpu * 1e6 / (served * span / duration), 2)
    if per_request:
        # Over the span perf counted, per served request of the loadgen's
        # window (per_request_columns scales one to the other).
        row.update(perfcount.per_request_columns(perfcount.load(pdir), served, duration))
    if vol is not None and inv is not None and per_request:
        per = served * span / duration
        row.update(vol_ctx_per_req=round(vol / per, 4), invol_ctx_per_req=round(inv / per, 4),
                   ctx_per_req=round((vol + inv) / per, 4))
    util = _client_util(pdir, info, acc, samples, marks, start, end, span)
    if util is not None:
        row["client_cpu_util"] = round(util, 3)
    if not row.get("saturation"):
        srv_util = _num(row["server_cpu_util"])
        row.update(saturation.fallback(
            None if srv_util is None else srv_util / max(1, _count_cpus(info.get("server_argv"))),
            util))
    row["client_bound"] = int(row.get("saturation") in ("client-bound", "both"))


def _sample_window(marks: dict, lg: dict, duration: float) -> tuple[Optional[float], Optional[float]]:
    """The loadgen's window on the sampler's clock: from its start_unix_s when
    it reports one; else the last `duration` seconds before it exited."""
    end = marks.get("loadgen_end_t")
    if not end:
        return None, None
    start = max(end - duration, marks.get("loadgen_start_t", 0))
    t0_unix = marks.get("sampler_t0_unix")
    if lg.get("start_unix_s") and t0_unix:
        start = lg["start_unix_s"] - t0_unix
        end = start + duration
    return start, end


def _client_util(pdir: Path, info: dict, acc: Optional[dict], samples, marks: dict,
                 start, end, span) -> Optional[float]:
    """The client CPUs' busy share from the load generators' own CPU time
    (accounting.json's client, else their samples): the busiest decides,
    since one saturated client is enough to cap what the server was offered."""
    ncpu = max(1, _count_cpus(info.get("loadgen_argv")))
    if acc and _num((acc.get("client") or {}).get("cpu_s")) is not None and span:
        return acc["client"]["cpu_s"] / span / ncpu
    if start is None or not span:
        return None
    utils = []
    t0_unix = marks.get("sampler_t0_unix")
    offset = marks.get("loadgen_start_t", 0)
    if t0_unix and marks.get("client_t0_unix"):
        offset = marks["client_t0_unix"][0] - t0_unix
    for f in sorted(pdir.glob("loadgen_samples*.csv")):
        rows = read_samples(f)
        if rows and "cpu_s" in rows[0]:
            ccpu = window_delta(rows, "cpu_s", start - offset, end - offset)
            if ccpu is not None:
                utils.append(ccpu / span / ncpu)
    # stall's background loadgen runs on the same client CPUs as the
    # measured one: together they decide whether those CPUs were full.
    bg_samples = pdir / "background_samples.csv"
    if utils and t0_unix and marks.get("background_t0_unix") and bg_samples.exists():
        bg_off = marks["background_t0_unix"] - t0_unix
        rows = read_samples(bg_samples)
        if rows and "cpu_s" in rows[0]:
            bcpu = window_delta(rows, "cpu_s", start - bg_off, end - bg_off)
            if bcpu is not None:
                utils[0] += bcpu / span / ncpu
    return max(utils) if utils else None


def _background(pdir: Path) -> Optional[dict]:
    try:
        return json.loads((pdir / "background.json").read_text())
    except (OSError, ValueError):
        return None


def _count_cpus(argv) -> int:
    """CPUs in the `taskset -c LIST` of an argv (1 without one)."""
    argv = argv or []
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


# Columns that are text, or flags folded by "any" rather than the median.
_TEXT = {"scenario", "model", "label", "status", "reason", "network", "invalid_reason",
         "little_note", "saturation", "saturation_source", "cpu_method", "memory_method",
         "control_of", "syscalls_scope"}
_ANY = {"client_bound", "starved", "p50_lower_bound", "p99_lower_bound", "mean_lower_bound",
        "first_answer_p50_lower_bound", "first_answer_p99_lower_bound"}


def _key(r: dict) -> float:
    return float(r["rate_fraction"]) if r.get("rate_fraction") not in ("", None) else float(r["x"])


def is_valid(r: dict) -> bool:
    """A row that is evidence. Rows of CSVs older than the `valid` column
    count when they ran ("ok")."""
    v = r.get("valid")
    if v in ("", None):
        return r.get("status") == "ok"
    return bool(_num(v))


def grouped(rows: list[dict], scenario: str) -> dict[str, list[dict]]:
    """Rows of one scenario by model, repeats folded into one entry per x.

    The valid repeats are folded when there are any (n_valid > 0), else the
    ones that merely ran (drawn faded: not evidence). Each numeric column
    becomes its median, with col+"_lo"/"_hi" the min and max; the lower-bound
    and client-bound flags are set if any folded repeat had them; the
    saturation class is the most common one. An x where no repeat ran stays,
    with status and reason, so that it can be drawn as missing."""
    by_model: dict[str, dict[float, list[dict]]] = {}
    for r in rows:
        if r["scenario"] != scenario:
            continue
        by_model.setdefault(r["model"], {}).setdefault(_key(r), []).append(r)
    out: dict[str, list[dict]] = {}
    for model, by_x in by_model.items():
        folded = []
        for key in sorted(by_x):
            reps = by_x[key]
            ok = [r for r in reps if r["status"] == "ok"]
            valid = [r for r in ok if is_valid(r)]
            used = valid or ok
            entry = dict(used[0] if used else reps[0])
            entry.update(n_ok=len(ok), n_valid=len(valid), valid=int(bool(valid)), n=len(used))
            for col in COLUMNS:
                if col in _TEXT:
                    continue
                vals = [v for v in (_num(r.get(col)) for r in used) if v is not None]
                if vals:
                    entry[col] = statistics.median(vals)
                    entry[col + "_lo"], entry[col + "_hi"] = min(vals), max(vals)
            if used:
                for col in _ANY:
                    entry[col] = int(any(_num(r.get(col)) for r in used))
                classes = Counter(r.get("saturation") or "" for r in used)
                entry["saturation"] = classes.most_common(1)[0][0]
            folded.append(entry)
        out[model] = folded
    return out


def repeats(rows: list[dict], scenario: str, model: str, x: float, col: str) -> dict[int, float]:
    """{repeat: value} of one column over the valid repeats of a point: what
    the bootstrap resamples (stats.ratio_interval pairs them by repeat)."""
    out = {}
    for r in rows:
        if (r["scenario"] == scenario and r["model"] == model and _key(r) == x
                and r["status"] == "ok" and is_valid(r)):
            v = _num(r.get(col))
            if v is not None:
                out[int(float(r["repeat"]))] = v
    return out
