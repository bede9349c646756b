"""The numbers a reader asks for first, computed from the run itself: the
comparisons with the reference peers as ratios (issue 9's goals), and one
line each for the sleep, stall and idle scenarios. Everything here comes from the
same run, so the ratios compare like with like on this machine."""
from __future__ import annotations

from typing import Optional

from .summary import _num, grouped


def _at(rows: list[dict], scenario: str, model: str, x: float, col: str) -> Optional[float]:
    for e in grouped(rows, scenario).get(model, []):
        if e["n_ok"] and _num(e.get("x")) == x:
            v = _num(e.get(col))
            return v if v and v > 0 else None
    return None


def _largest_common(rows: list[dict], scenario: str, a: str, b: str, col: str) -> Optional[float]:
    g = grouped(rows, scenario)
    xs = [_num(e["x"]) for e in g.get(a, []) if e["n_ok"] and _num(e.get(col))]
    ys = {_num(e["x"]) for e in g.get(b, []) if e["n_ok"] and _num(e.get(col))}
    common = [x for x in xs if x in ys and x > 0]
    return max(common) if common else None


# (what, scenario, x or None for the largest common, column, model, peer, goal ratio, unit)
GOALS = [
    ("server CPU per request", "hello", 100, "server_cpu_us_per_req", "epoll", "nginx", 1.0),
    ("server CPU per request", "hello", 1000, "server_cpu_us_per_req", "epoll", "nginx", 1.0),
    ("server CPU per request", "hello", 100, "server_cpu_us_per_req", "epoll", "node", 0.5),
    ("server CPU per request", "hello", 1000, "server_cpu_us_per_req", "epoll", "node", 0.5),
    ("server CPU per request", "hello", 100, "server_cpu_us_per_req", "epoll", "floor", 1.1),
    ("server CPU per request", "hello", 1000, "server_cpu_us_per_req", "epoll", "floor", 1.1),
    ("p99 latency", "hello", 1000, "p99_us", "epoll", "nginx", 1.0),
    ("memory per idle connection", "idle", None, "rss_per_idle_conn_bytes", "epoll", "nginx", 1.0),
    ("server CPU per request", "hello", 1000, "server_cpu_us_per_req", "uring", "epoll", None),
    ("server CPU per request", "hello", 100, "server_cpu_us_per_req", "uring", "epoll", None),
]


def peer_ratios(rows: list[dict]) -> list[str]:
    models = {r["model"] for r in rows}
    out = []
    for what, sc, x, col, a, b, goal in GOALS:
        if a not in models or b not in models:
            continue
        xx = x if x is not None else _largest_common(rows, sc, a, b, col)
        va = _at(rows, sc, a, xx, col) if xx else None
        vb = _at(rows, sc, b, xx, col) if xx else None
        at = f"`{sc}` at {xx:g} {'idle connections' if sc == 'idle' else 'connections'}" if xx else f"`{sc}`"
        if va is None or vb is None:
            out.append(f"| {a} / {b}: {what} | {at} | – | {_goal(goal)} | not measured |")
            continue
        ratio = va / vb
        verdict = "–" if goal is None else ("met" if ratio <= goal else "**not met**")
        out.append(f"| {a} / {b}: {what} | {at} | {va:,.2f} / {vb:,.2f} = **{ratio:.3f}** | "
                   f"{_goal(goal)} | {verdict} |")
    if not out:
        return []
    return ["### Against the reference peers (same run, ratios)\n",
            "Issue 9's goals for `server-epoll --reactors 1`, as ratios of the medians measured in "
            "this run (µs for CPU and latency, bytes for memory). A ratio from a client-bound or "
            "starved point deserves the markers' caution in the plots below.\n",
            "| comparison | where | ratio | goal | |", "|---|---|---:|---|---|", *out, ""]


def _goal(goal: Optional[float]) -> str:
    return "both ways, honestly" if goal is None else f"≤ {goal:g}"


def scenario_lines(rows: list[dict]) -> list[str]:
    out = []
    g = grouped(rows, "sleep")
    if g:
        xs = sorted({_num(e["x"]) for es in g.values() for e in es if e["n_ok"]})
        x = 1000.0 if 1000.0 in xs else (xs[-1] if xs else None)
        if x:
            parts = [f"{m} {v:,.0f}" for m in sorted(g)
                     if (v := _at(rows, "sleep", m, x, "throughput_rps"))]
            if parts:
                out.append(f"- **sleep** (`/sleep/10`) at {x:g} connections, requests/s: "
                           + ", ".join(parts) + ". One thread waiting 10 ms at a time caps at "
                           "100 requests/s; a pool of N at N × 100.")
    out += stall_line(rows)
    g = grouped(rows, "idle")
    if g:
        parts = []
        for m in sorted(g):
            best = [(e["x"], _num(e.get("rss_per_idle_conn_bytes"))) for e in g[m]
                    if e["n_ok"] and _num(e.get("rss_per_idle_conn_bytes"))]
            if best:
                x, v = max(best, key=lambda t: float(t[0]))
                parts.append(f"{m} {v / 1024:,.2f} KiB (at {float(x):g})")
        if parts:
            out.append("- **idle**: server RSS per idle keep-alive connection: " + ", ".join(parts)
                       + ". User-space memory only; the kernel's socket memory is not in RSS.")
    return (["### In one line per scenario\n", *out, ""] if out else [])


def stall_line(rows: list[dict], plain: str = "epoll", offload: str = "epoll-offload2") -> list[str]:
    """issue 9's check in one sentence: /hello p99 of the offloading loop and
    of the plain loop at the largest background CPU time both measured, with
    the offloading loop's no-background figure as the yardstick."""
    g = grouped(rows, "stall")
    if plain not in g or offload not in g:
        return []
    x = _largest_common(rows, "stall", plain, offload, "p99_us")
    if not x:
        return []
    off, loop = _at(rows, "stall", offload, x, "p99_us"), _at(rows, "stall", plain, x, "p99_us")
    base = _at(rows, "stall", offload, 0.0, "p99_us")
    busy = next((e.get("background_connections") for e in g[plain] if _num(e["x"]) == x), "")
    others = [f"{m} {v / 1000:,.2f} ms" for m in sorted(g) if m not in (plain, offload)
              and (v := _at(rows, "stall", m, x, "p99_us"))]
    return [f"- **stall**: while {_num(busy) or 0:g} other connections each burn {x / 1000:g} ms of "
            f"CPU per request (`/cpu/{x:g}`), `epoll --offload 2` keeps /hello p99 at "
            f"{off / 1000:,.2f} ms" + (f" ({base / 1000:,.2f} ms with no background)" if base else "")
            + f" while the plain loop's reaches {loop / 1000:,.2f} ms"
            + (f"; {', '.join(others)}" if others else "") + "."]
