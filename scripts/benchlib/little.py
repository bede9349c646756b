"""Little's law as a check of a closed-loop point's accounting.

In a closed loop every connection always has its requests outstanding
(one, or the pipeline depth), so goodput x mean latency = requests in
flight. little_ratio = goodput x mean latency / in flight should be near 1;
a point outside LOW..HIGH is one whose figures leave out (or double count)
some waiting, and the report lists it with the reason found here. The mean
is the loadgen's lower-bound-aware mean (format 2: every measured request,
the unanswered ones with their age), so a point where requests waited past
the window still closes, or shows by how much it cannot.
"""
from __future__ import annotations

from typing import Optional

LOW, HIGH = 0.8, 1.2


def ratio(goodput_rps, mean_us, in_flight: int) -> Optional[float]:
    try:
        g, m = float(goodput_rps), float(mean_us)
    except (TypeError, ValueError):
        return None
    if in_flight <= 0 or m <= 0:
        return None
    return round(g * m * 1e-6 / in_flight, 4)


def _f(row: dict, key: str) -> float:
    try:
        return float(row.get(key))
    except (TypeError, ValueError):
        return 0.0


def _share(x: float) -> str:
    """A share as a reader needs it: 0.03 %, not a misleading 0 %."""
    return f"{x:.2%}" if x < 0.01 else f"{x:.1%}" if x < 0.1 else f"{x:.0%}"


def reasons(row: dict) -> str:
    """Why a point's ratio is outside LOW..HIGH, from the point's own
    figures; "" when it is inside (or not computed)."""
    r = row.get("little_ratio")
    if not isinstance(r, (int, float)) or LOW <= r <= HIGH:
        return ""
    out = []
    if row.get("loadgen_format") == 1:
        out.append("loadgen format 1: its mean covers answered requests only, the requests still "
                   "waiting at the end are in no figure")
    answered = _f(row, "answered_2xx") + _f(row, "non_2xx")
    if r < LOW and _f(row, "non_2xx") > 0.05 * max(1.0, answered):
        out.append(f"{_share(_f(row, 'non_2xx_rate'))} of the answers were rejections, which are not "
                   "goodput")
    if _f(row, "not_opened") > 0:
        out.append(f"{_f(row, 'not_opened'):.0f} connections never opened, so fewer requests were "
                   "in flight than connections")
    elif r < LOW and _f(row, "errors_connect") > 0:
        out.append(f"{_f(row, 'errors_connect'):.0f} connection attempts failed or timed out (a "
                   "server that accepts one connection at a time leaves the rest in the backlog), so "
                   "fewer requests were in flight than connections")
    censored = _f(row, "censored_share")
    if censored > 0 and r < LOW and row.get("mean_lower_bound") == 1:
        out.append(f"{_share(censored)} of the requests got no answer in the window: the mean is only "
                   "a lower bound of their wait")
    if censored > 0 and r > HIGH:
        out.append(f"{_share(censored)} of the requests got no answer: their ages reach back into the "
                   "warm-up, before the window the goodput is counted over")
    if r < LOW and row.get("saturation") in ("client-bound", "both"):
        out.append("the load generator's CPUs were saturated: the time between an answer and the "
                   "next send is in no latency")
    if r < LOW and row.get("conn_requests"):
        out.append(f"every connection reconnects after {row['conn_requests']} requests: connecting "
                   "is in no latency")
    if r < LOW and _f(row, "requests") and _f(row, "requests") < _f(row, "connections"):
        out.append("fewer answers than connections: the window is shorter than one round")
    return "; ".join(out) or "not explained by the point's own figures"
