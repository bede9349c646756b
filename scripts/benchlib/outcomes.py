"""What a point's requests came to, from its loadgen.json: served (2xx),
rejected (other statuses), censored (no answer: their latency is only a
lower bound), and whether the point is evidence at all.

Reads both forms of the loadgen's JSON. format_version 2 accounts for every
measured request (`outcomes`, `goodput_rps`, lower-bound flags, send lag);
version 1 (the committed reference run) does not: its goodput comes from
the status counts and the columns only version 2 can fill stay empty.
"""
from __future__ import annotations

from typing import Optional

# A point whose answers are mostly rejections measured the rejecting, not
# the serving: it is not evidence of what serving costs.
MOSTLY_REJECTED = 0.5
# The loadgen's exit status for a run it completed but calls invalid.
INVALID_EXIT = 3


def _is_2xx(code) -> bool:
    return str(code).startswith("2")


def _flag(v) -> object:
    return "" if v is None else int(bool(v))


def served(lg: dict, duration_s: float) -> dict:
    """The served/rejected/censored columns of one loadgen JSON."""
    status = lg.get("status") or {}
    requests = lg.get("requests") or 0
    row: dict = {"loadgen_format": lg.get("format_version", 1)}
    oc = lg.get("outcomes")
    if isinstance(oc, dict):
        ok, other = oc.get("answered_2xx") or 0, oc.get("answered_other") or 0
        measured = oc.get("measured") or 0
        row.update(answered_2xx=ok, non_2xx=other, measured=measured,
                   censored=max(0, measured - ok - other))
        row["censored_share"] = round(row["censored"] / measured, 4) if measured else ""
    else:
        ok = sum(v for k, v in status.items() if _is_2xx(k))
        other = sum(v for k, v in status.items() if not _is_2xx(k))
        row.update(answered_2xx=ok, non_2xx=other, measured="", censored="", censored_share="")
    goodput = lg.get("goodput_rps")
    if goodput is None and duration_s:
        goodput = ok / duration_s
    row["goodput_rps"] = round(goodput, 3) if goodput is not None else ""
    answered = ok + other or requests
    row["non_2xx_rate"] = round(other / answered, 4) if answered else ""
    lat = lg.get("latency_us") or {}
    lb = lat.get("lower_bound") if isinstance(lat.get("lower_bound"), dict) else {}
    row.update(mean_us=lat.get("mean", ""),
               p50_lower_bound=_flag(lb.get("p50")), p99_lower_bound=_flag(lb.get("p99")),
               mean_lower_bound=_flag(lb.get("mean")))
    # Fairness: a server that serves one connection at a time answers that
    # one fast, so its per-request p50 stays small while the other clients
    # wait; the share of connections answered and the time to each one's
    # first answer (never answered: a lower bound) show the waiting.
    fair = lg.get("fairness") or {}
    first = fair.get("first_answer_us") if isinstance(fair.get("first_answer_us"), dict) else {}
    first_lb = first.get("lower_bound") if isinstance(first.get("lower_bound"), dict) else {}
    row.update(answered_conn_share=fair.get("answered_share", ""),
               first_answer_p50_us=first.get("p50", ""), first_answer_p99_us=first.get("p99", ""),
               first_answer_p50_lower_bound=_flag(first_lb.get("p50")),
               first_answer_p99_lower_bound=_flag(first_lb.get("p99")))
    lag = lg.get("send_lag_us") or {}
    row.update(send_lag_p50_us=lag.get("p50", ""), send_lag_p99_us=lag.get("p99", ""),
               send_lag_max_us=lag.get("max", ""),
               schedule_kept=_flag(lg.get("schedule_kept")),
               rate_sustained=_flag(lg.get("rate_sustained")))
    return row


def loadgen_exit(info: dict) -> Optional[int]:
    """The worst exit status of the point's load generators (3 beats 0)."""
    exits = info.get("loadgen_exits") or ([info["loadgen_exit"]] if info.get("loadgen_exit") else [])
    codes = [e.get("status") for e in exits if isinstance(e, dict) and e.get("status") is not None]
    if not codes:
        return None
    return max(codes, key=lambda c: (c != 0, c == INVALID_EXIT, c))


def invalid_reason(exit_status: Optional[int], row: dict) -> str:
    """Why a measured point is not evidence, or "" if it is."""
    reasons = []
    if exit_status == INVALID_EXIT:
        reasons.append("the load generator called the run invalid (exit 3)")
    elif exit_status not in (0, None):
        reasons.append(f"the load generator exited {exit_status}")
    rate = row.get("non_2xx_rate")
    if isinstance(rate, (int, float)) and rate > MOSTLY_REJECTED:
        reasons.append(f"{row['non_2xx']:,} of {row['answered_2xx'] + row['non_2xx']:,} answers "
                       "were rejections (non-2xx)")
    elif not row.get("answered_2xx"):
        reasons.append("no 2xx answer")
    return "; ".join(reasons)
