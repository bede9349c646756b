"""Point folders for the tests, written from the contracts alone
(docs/coord interfaces A and B: the loadgen's JSON format 2 and the
per-point accounting.json; format 1 as the committed reference run has it),
so that the analysis is tested against what the measurement side promises
rather than against whatever it happens to write today."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

from .profiles import Point, make_point, PROFILES

WINDOW_NS = (1_000_000_000, 2_500_000_000)  # 1.5 s


def loadgen_v2(ok: int, other: int = 0, censored: int = 0, *, duration: float = 1.5,
               mean_us: float = 500.0, p50: float = 400.0, p99: float = 2000.0,
               lower: tuple[str, ...] = (), connections: int = 100, rate: Optional[float] = None,
               lag_p99: float = 50.0, kept: bool = True) -> dict:
    lat = {"p50": p50, "p75": p50 * 1.2, "p90": p50 * 2, "p99": p99, "p99_9": p99 * 1.5,
           "p99_99": p99 * 2, "max": p99 * 3, "mean": mean_us, "stdev": mean_us / 2,
           "lower_bound": {k: k in lower for k in ("p50", "p75", "p90", "p99", "p99_9",
                                                   "p99_99", "max", "mean")}}
    out = {
        "tool": "loadgen", "format_version": 2,
        "config": {"connections": connections, "rate": rate, "mode": "open" if rate else "closed",
                   "pipeline": 1, "duration_s": duration},
        "duration_s": duration, "requests": ok + other, "sent": ok + other + censored,
        "throughput_rps": (ok + other) / duration, "goodput_rps": ok / duration,
        "status": {k: v for k, v in (("200", ok), ("503", other)) if v},
        "errors": {"connect": 0, "read": 0, "write": 0, "timeout": censored, "status": other,
                   "parse": 0, "body": 0, "total": censored + other},
        "connections": {"asked": connections, "opened": connections, "not_opened": 0},
        "outcomes": {"measured": ok + other + censored, "answered_2xx": ok, "answered_other": other,
                     "failed": {"read": 0, "reset": 0, "write": 0, "parse": 0, "body": 0},
                     "timed_out": censored, "open_at_end": 0, "never_sent": 0},
        "latency_us": lat,
        "latency_answered_us": {k: v for k, v in lat.items() if k != "lower_bound"},
        "fairness": {"connections": connections, "answered": connections,
                     "answered_share": 1.0, "first_answer_us": {"p50": 100, "p99": 200, "max": 300,
                                                                "lower_bound": {}}},
        "window": {"start_unix_s": 1795692280.0, "end_unix_s": 1795692281.5,
                   "start_monotonic_ns": WINDOW_NS[0], "end_monotonic_ns": WINDOW_NS[1]},
        "start_unix_s": 1795692280.0,
    }
    if rate:
        out.update(target_rps=rate, scheduled=int(rate * duration), rate_sustained=kept,
                   schedule_kept=kept, send_lag_us={"p50": lag_p99 / 5, "p99": lag_p99,
                                                    "max": lag_p99 * 3})
    return out


def loadgen_v1(requests: int, non_2xx: int = 0, duration: float = 1.5, p50: float = 40.0,
               p99: float = 60.0, mean_us: float = 45.0, timeouts: int = 0) -> dict:
    return {"tool": "loadgen", "format_version": 1, "duration_s": duration, "requests": requests,
            "throughput_rps": requests / duration,
            "status": {k: v for k, v in (("200", requests - non_2xx), ("503", non_2xx)) if v},
            "errors": {"connect": 0, "timeout": timeouts, "status": non_2xx,
                       "total": timeouts + non_2xx},
            "connections": {"asked": 100, "opened": 100, "not_opened": 0},
            "latency_us": {"p50": p50, "p90": p50 * 1.3, "p99": p99, "p99_9": p99, "max": p99,
                           "mean": mean_us, "stdev": 1.0},
            "start_unix_s": 1795692280.0}


def accounting(server_cpu_s: float, client_cpu_s: float = 0.5, server_idle: float = 0.5,
               client_idle: float = 0.5, method: str = "cgroup-v1", nvcsw: Optional[int] = 1000,
               nivcsw: Optional[int] = 10) -> dict:
    """accounting.json for a 1.5 s window, server on CPU 0 and client on CPU 1;
    *_idle is each CPU's idle share of the window."""
    def cpu(idle: float) -> dict:
        busy = 1.5 * (1 - idle)
        return {"user_s": busy * 0.4, "nice_s": 0.0, "system_s": busy * 0.5, "idle_s": 1.5 * idle,
                "iowait_s": 0.0, "irq_s": 0.0, "softirq_s": busy * 0.1, "steal_s": 0.0}
    return {"window": {"start_monotonic_ns": WINDOW_NS[0], "end_monotonic_ns": WINDOW_NS[1],
                       "source": "loadgen-line"},
            "server": {"method": method, "cpu_s": server_cpu_s, "user_s": server_cpu_s / 2,
                       "system_s": server_cpu_s / 2, "nvcsw": nvcsw, "nivcsw": nivcsw,
                       "memory_peak_kib": 5000, "memory_current_kib": 4000,
                       "memory_method": "cgroup-v1"},
            "client": {"method": method, "cpu_s": client_cpu_s, "user_s": client_cpu_s / 2,
                       "system_s": client_cpu_s / 2},
            "harness": {"cpu_s": 0.004},
            "cpus": {"server": [0], "client": [1]},
            "per_cpu": {"0": cpu(server_idle), "1": cpu(client_idle)},
            "sampler": {"interval_s": 0.5, "samples": 3, "cpu_s": 0.003}}


def write_point(run_dir: Path, pt: Point, lg: Optional[dict], *, acc: Optional[dict] = None,
                exit_status: int = 0, status: str = "ok", reason: str = "", label: str = "",
                peer: bool = False) -> Path:
    pdir = run_dir / "points" / pt.id
    pdir.mkdir(parents=True, exist_ok=True)
    ex = {"status": exit_status, "wall_s": 2.0,
          "rusage": {"utime_s": 0.1, "stime_s": 0.5, "maxrss_kib": 5000, "nvcsw": 1, "nivcsw": 1}}
    info = {"point": asdict(pt), "id": pt.id, "model": pt.model, "label": label or pt.model,
            "peer": peer, "status": status, "reason": reason, "network": "isolated",
            "loadgen_exit": ex, "loadgen_exits": [ex], "server_exit": ex,
            "server_argv": ["taskset", "-c", "0", "server"],
            "loadgen_argv": ["taskset", "-c", "1", "loadgen"],
            "marks": {"loadgen_start_t": 0.0, "loadgen_end_t": 2.1, "sampler_t0_unix": 1795692279.5,
                      "client_t0_unix": [1795692279.5]}}
    (pdir / "point.json").write_text(json.dumps(info))
    if lg is not None:
        (pdir / "loadgen.json").write_text(json.dumps(lg))
    if acc is not None:
        (pdir / "accounting.json").write_text(json.dumps(acc))
    # The samples: 10 Hz over 2.2 s, 1 s of CPU per second.
    rows = ["t_s,rss_kib,hwm_kib,threads,cpu_s,vol_ctx,invol_ctx,fds"]
    rows += [f"{t / 10:.1f},4000,4100,1,{t / 10:.2f},{t * 10},{t},10" for t in range(23)]
    (pdir / "samples.csv").write_text("\n".join(rows) + "\n")
    client = ["t_s,rss_kib,hwm_kib,threads,cpu_s,vol_ctx,invol_ctx,fds"]
    client += [f"{t / 10:.1f},9000,9000,1,{t / 20:.2f},0,0,110" for t in range(23)]
    (pdir / "loadgen_samples.csv").write_text("\n".join(client) + "\n")
    return pdir


def point(scenario: str, model: str, x: float, repeat: int = 0, **kw) -> Point:
    from dataclasses import replace
    pt = make_point(PROFILES["quick"], scenario, model, x, repeat)
    if pt.rate_fraction is not None:
        pt = pt.resolved(kw.pop("reference_rps", 100000))
    return replace(pt, **kw)
