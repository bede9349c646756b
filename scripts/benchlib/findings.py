"""The numbers a reader asks for first, computed from the run itself: the
A/A control (the run's noise floor), the comparisons with the reference
peers as ratios with a 95 % bootstrap interval and a three-way verdict
(issue 9's goals), the cost at equal load, and one line each for the sleep,
stall and idle scenarios.

Only valid points are evidence (summary.is_valid): a point the load
generator called invalid, or whose answers were mostly rejections, is drawn
but never decides a goal. Every figure says which point it came from."""
from __future__ import annotations

from typing import Optional

from . import stats
from .profiles import AA_SUFFIX
from .summary import _num, grouped, is_valid, repeats

X_UNITS = {"idle": "idle connections", "open-loop": "× the reference capacity",
           "stall": "µs of background CPU"}


def _at(rows: list[dict], scenario: str, model: str, x: float, col: str) -> Optional[float]:
    """The median over the valid repeats at x, or None."""
    for e in grouped(rows, scenario).get(model, []):
        if e["n_valid"] and _key(e) == x:
            v = _num(e.get(col))
            return v if v and v > 0 else None
    return None


def _key(e: dict) -> float:
    return _num(e.get("rate_fraction")) if _num(e.get("rate_fraction")) is not None else _num(e["x"])


def _largest_common(rows: list[dict], scenario: str, a: str, b: str, col: str) -> Optional[float]:
    g = grouped(rows, scenario)
    xs = {_key(e) for e in g.get(a, []) if e["n_valid"] and _num(e.get(col))}
    ys = {_key(e) for e in g.get(b, []) if e["n_valid"] and _num(e.get(col))}
    common = [x for x in xs & ys if x > 0]
    return max(common) if common else None


def where(scenario: str, x: Optional[float]) -> str:
    if x is None:
        return f"`{scenario}`"
    return f"`{scenario}` at {x:g} {X_UNITS.get(scenario, 'connections')}"


def point_ids(rows: list[dict], scenario: str, model: str, x: float) -> list[str]:
    """The folders of the valid repeats a figure came from."""
    ids = []
    for r in rows:
        if r["scenario"] == scenario and r["model"] == model and _rowkey(r) == x \
                and r["status"] == "ok" and is_valid(r):
            xs = f"{float(r['rate_fraction']):g}x" if r.get("rate_fraction") not in ("", None) \
                else f"{int(float(r['x']))}"
            ids.append(f"{scenario}__{model}__{xs}__r{r['repeat']}")
    return sorted(ids)


def _rowkey(r: dict) -> float:
    return float(r["rate_fraction"]) if r.get("rate_fraction") not in ("", None) else float(r["x"])


def _source(rows, scenario, a, b, x) -> str:
    ia, ib = point_ids(rows, scenario, a, x), point_ids(rows, scenario, b, x)
    return f"{len(ia)} + {len(ib)} valid repeats"


def interval(rows: list[dict], scenario: str, x: float, col: str, a: str, b: str
             ) -> Optional[stats.Interval]:
    return stats.ratio_interval(repeats(rows, scenario, a, x, col), repeats(rows, scenario, b, x, col))


# (what, scenario, x or None for the largest common, column, model, peer, goal ratio)
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
# The same CPU goals at equal load: every model offered the same absolute
# rate, below all the fast models' capacity (issue 14: the fairest cost
# comparison, untouched by client saturation). x: the repeated fractions.
EQUAL_LOAD_GOALS = [
    ("server CPU per request at equal load", "server_cpu_us_per_req", "epoll", "nginx", 1.0),
    ("server CPU per request at equal load", "server_cpu_us_per_req", "epoll", "node", 0.5),
    ("server CPU per request at equal load", "server_cpu_us_per_req", "epoll", "floor", 1.1),
]


def equal_load_fractions(rows: list[dict]) -> list[float]:
    """The open-loop fractions repeated as headline points in this run."""
    return sorted({float(r["rate_fraction"]) for r in rows if r["scenario"] == "open-loop"
                   and _num(r.get("headline")) and r.get("rate_fraction") not in ("", None)})


def _goal(goal: Optional[float]) -> str:
    return "both ways, honestly" if goal is None else f"≤ {goal:g}"


def _ratio_line(rows, what, sc, x, col, a, b, goal) -> str:
    at = where(sc, x)
    iv = interval(rows, sc, x, col, a, b) if x is not None else None
    if iv is None:
        return f"| {a} / {b}: {what} | {at} | – | {_goal(goal)} | **undecided**: not measured on a valid point |"
    va, vb = _at(rows, sc, a, x, col), _at(rows, sc, b, x, col)
    if goal is None:
        verdict = stats.compare(iv)
    else:
        v, why = stats.verdict(iv, goal)
        verdict = f"**{v}**: {why}"
    medians = f"{va:,.2f} / {vb:,.2f}; " if va and vb else ""
    return (f"| {a} / {b}: {what} | {at} ({_source(rows, sc, a, b, x)}) | {medians}**{iv.text()}** "
            f"({iv.confidence_text()}) | {_goal(goal)} | {verdict} |")


def peer_ratios(rows: list[dict]) -> list[str]:
    models = {r["model"] for r in rows}
    out = []
    for what, sc, x, col, a, b, goal in GOALS:
        if a not in models or b not in models:
            continue
        xx = x if x is not None else _largest_common(rows, sc, a, b, col)
        out.append(_ratio_line(rows, what, sc, xx, col, a, b, goal))
    for f in equal_load_fractions(rows):
        for what, col, a, b, goal in EQUAL_LOAD_GOALS:
            if a in models and b in models:
                out.append(_ratio_line(rows, what, "open-loop", f, col, a, b, goal))
    if not out:
        return []
    return ["### Against the reference peers (same run, ratios with their intervals)\n",
            "Issue 9's goals for `server-epoll --reactors 1`. Each ratio is the median of the "
            "per-round ratios of the valid repeats (the models of a round ran side by side, in a "
            "shuffled order), with its 95 % percentile-bootstrap interval in brackets; the verdict "
            "is *met* when the whole interval is within the goal, *not met* when the whole "
            "interval is outside it, and *undecided* when the interval straddles the goal or a "
            "side has a single valid repeat. " + CONFIDENCE_NOTE + " Compare every interval's "
            "width with the A/A noise floor above. µs for CPU and latency, bytes for memory.\n",
            "| comparison | where (evidence) | medians; ratio [interval] (confidence) | goal | verdict |",
            "|---|---|---|---|---|", *out, ""]


# Said wherever intervals are printed (benchlib/stats.py explains it).
CONFIDENCE_NOTE = ("From a few repeats a bootstrap interval of the median is the range of the "
                   "per-round ratios, and its real confidence is lower than 95 %: the figure in "
                   "parentheses is the exact chance that it holds the true median ratio (75 % "
                   "from 3 repeats, 94 % from 5, 97 % from 6; `--repeats 6` for a 95 % decision).")


def noise_floor(rows: list[dict]) -> list[str]:
    """The A/A control: the same server measured twice as two models, in
    the same rounds. Its ratio should be 1; its interval is the smallest
    difference this run can tell from noise."""
    controls = sorted({(r["model"], r.get("control_of")) for r in rows if r.get("control_of")})
    if not controls:
        return ["### Noise floor (A/A control)\n",
                "No A/A control in this run (it runs the same server twice as if two models; the "
                "run predates it or its server was left out).", ""]
    out = []
    for copy, base in controls:
        xs = sorted({float(r["x"]) for r in rows if r["model"] == copy and r["scenario"] == "hello"})
        for x in xs:
            for col, what in (("server_cpu_us_per_req", "server CPU per request"),
                              ("goodput_rps", "goodput"), ("p99_us", "p99 latency")):
                iv = interval(rows, "hello", x, col, copy, base)
                if iv is None:
                    out.append(f"| {copy} / {base}: {what} | {where('hello', x)} | – | no valid pair |")
                    continue
                half = max(iv.hi - 1, 1 - iv.lo)
                miss = (f" (a {iv.confidence_text()} interval misses the truth "
                        f"{1 - iv.confidence:.0%} of the time by chance alone)"
                        if iv.confidence is not None and iv.confidence < stats.LEVEL else "")
                out.append(f"| {copy} / {base}: {what} | {where('hello', x)} "
                           f"({_source(rows, 'hello', copy, base, x)}) | **{iv.text()}** "
                           f"({iv.confidence_text()}) | "
                           + ("contains 1 as it should; " if iv.contains(1.0) else
                              "**does not contain 1**: the machine drifted between the two copies' "
                              f"turns, or the rounds were too few{miss}; ")
                           + (f"differences within ±{half:.0%} are noise |" if iv.method != "single"
                              else "one repeat: no interval |"))
    return ["### Noise floor (A/A control)\n",
            f"The same server (`{controls[0][1]}`) measured twice in every round, as if it were two "
            "models. Its ratio should be 1.000; the width of its interval is the smallest "
            "difference between two models that this run can tell from the machine's noise. "
            "Read every ratio below against it. " + CONFIDENCE_NOTE + "\n",
            "| control | where (evidence) | ratio [interval] (confidence) | reading |",
            "|---|---|---|---|",
            *out, ""]


def latency_cell(e: dict, col: str, flag: str) -> str:
    """A latency in ms for a table: ≥ when it is only a lower bound; "–"
    when there is none, or when format 1 timed only the lucky few of an
    invalid point (the requests still waiting are in no figure)."""
    v = _num(e.get(col))
    if not v:
        return "–"
    if not e.get("n_valid") and _num(e.get("loadgen_format")) == 1:
        return "– (answered only)"
    return ("≥ " if _num(e.get(flag)) else "") + f"{v / 1000:,.2f} ms"


def equal_load(rows: list[dict], reference: Optional[dict]) -> list[str]:
    """Per model, CPU per served request and latency at each common
    open-loop rate: every model offered the same absolute load."""
    g = grouped(rows, "open-loop")
    if not g:
        return []
    head = ["## Cost at equal load\n"]
    rates = {}
    for es in g.values():
        for e in es:
            if _num(e.get("offered_rps")):
                rates.setdefault(_key(e), set()).add(round(_num(e["offered_rps"])))
    if not reference or any(len(v) > 1 for v in rates.values()):
        return head + ["This run's open-loop rates are fractions of each model's own closed-loop "
                       "maximum (a run older than the equal-load rates), so no rate is common to "
                       "every model: no cost at equal load can be read from it.", ""]
    fractions = [float(f) for f in reference.get("equal_load", [])] or sorted(rates)
    out = head + [
        f"Every model offered the same absolute rates, open loop on 100 connections: fractions of "
        f"the reference capacity, {reference['reference_rps']:,.0f} requests/s, the closed-loop "
        f"capacity of `{reference['reference_model']}` (the slowest of the models within "
        f"{reference.get('fast_share', 0.5):.0%} of the best; measured in this run's hello "
        "sweep). Below every fast model's capacity, these compare what the same work costs, "
        "untouched by client saturation. CPU per served (2xx) request, median of the valid "
        "repeats [min–max]; latency from the scheduled send; the send lag is how late the load "
        "generator sent (p99), and *no* under 'schedule' means it could not keep its schedule, "
        "so the offered load was lower than stated.\n"]
    for f in fractions:
        rate = next(iter(rates.get(f, {0})))
        out += [f"**{f:g} × reference = {rate:,} requests/s**\n",
                "| model | server CPU µs/request | p50 | p99 | goodput/s | send lag p99 | schedule | "
                "saturation | evidence |",
                "|---|---:|---:|---:|---:|---:|---|---|---|"]
        for model in sorted(g, key=lambda m: (m.endswith(AA_SUFFIX), m)):
            e = next((e for e in g[model] if _key(e) == f), None)
            if e is None or e["status"] == "n/a":
                continue
            if not e["n_ok"]:
                out.append(f"| {e['label']} | missing: {e['reason'][:120]} ||||||||")
                continue
            cpu = _num(e.get("server_cpu_us_per_req"))
            spread = (f" [{e['server_cpu_us_per_req_lo']:.2f}–{e['server_cpu_us_per_req_hi']:.2f}]"
                      if cpu is not None and e.get("n", 1) > 1 else "")
            kept = {1: "kept", 0: "**no**"}.get(int(_num(e.get("schedule_kept"))) if
                                               _num(e.get("schedule_kept")) is not None else -1, "–")
            lag = _num(e.get("send_lag_p99_us"))
            evidence = (f"{e['n_valid']} valid" if e["n_valid"] else
                        f"not valid: {e.get('invalid_reason') or e.get('reason')}"[:90])
            out.append(f"| {e['label']} | {f'{cpu:.2f}{spread}' if cpu is not None else '–'} | "
                       f"{latency_cell(e, 'p50_us', 'p50_lower_bound')} | {latency_cell(e, 'p99_us', 'p99_lower_bound')} | "
                       f"{_num(e.get('goodput_rps')) or 0:,.0f} | "
                       f"{f'{lag:,.0f} µs' if lag is not None else '–'} | {kept} | "
                       f"{e.get('saturation') or '–'} | {evidence} |")
        out.append("")
    return out


def schedule_problems(rows: list[dict]) -> list[str]:
    """Open-loop points where the load generator could not keep its
    schedule: their offered rate is not what their x says."""
    bad = [r for r in rows if r["scenario"] in ("open-loop", "stall") and r["status"] == "ok"
           and (_num(r.get("schedule_kept")) == 0 or _num(r.get("rate_sustained")) == 0)]
    if not bad:
        return []
    out = ["The load generator could not keep its schedule at these points (it sent late, or "
           "less than the offered rate): their latency is measured from the scheduled send, "
           "but the load was lower than stated.\n"]
    for r in bad:
        lag = _num(r.get("send_lag_p99_us"))
        at = f"{_num(r.get('offered_rps')) or 0:,.0f} requests/s"
        if r["scenario"] == "stall":
            at = f"{float(r['x']) / 1000:g} ms of background CPU ({at} of /hello)"
        out.append(f"- {r['scenario']} {r['model']} at {at} (repeat {r['repeat']}): "
                   + (f"send lag p99 {lag:,.0f} µs" if lag is not None else "rate not sustained"))
    return out + [""]


def scenario_lines(rows: list[dict]) -> list[str]:
    out = []
    g = grouped(rows, "sleep")
    if g:
        xs = sorted({_key(e) for es in g.values() for e in es if e["n_valid"]})
        x = 1000.0 if 1000.0 in xs else (xs[-1] if xs else None)
        if x:
            parts = [f"{m} {v:,.0f}" for m in sorted(g)
                     if (v := _at(rows, "sleep", m, x, "goodput_rps"))]
            invalid = [m for m in sorted(g) if not _at(rows, "sleep", m, x, "goodput_rps")
                       and any(_key(e) == x and e["n_ok"] for e in g[m])]
            if parts:
                out.append(f"- **sleep** (`/sleep/10`, keep-alive) at {x:g} connections, served "
                           "requests/s: " + ", ".join(parts)
                           + (f" ({', '.join(invalid)}: not a valid point, most connections got no "
                              "answer)" if invalid else "")
                           + ". One thread waiting 10 ms at a time caps at 100 requests/s; a pool of "
                           "N at N × 100.")
    out += stall_line(rows)
    g = grouped(rows, "idle")
    if g:
        parts = []
        for m in sorted(g):
            best = [(_key(e), _num(e.get("rss_per_idle_conn_bytes"))) for e in g[m]
                    if e["n_valid"] and _num(e.get("rss_per_idle_conn_bytes"))]
            if best:
                x, v = max(best, key=lambda t: t[0])
                parts.append(f"{m} {v / 1024:,.2f} KiB (at {x:g})")
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
    busy = next((e.get("background_connections") for e in g[plain] if _key(e) == x), "")
    others = [f"{m} {v / 1000:,.2f} ms" for m in sorted(g) if m not in (plain, offload)
              and (v := _at(rows, "stall", m, x, "p99_us"))]
    iv = interval(rows, "stall", x, "p99_us", offload, plain)
    ratio = (f" (offload / plain p99: {iv.text(3)}, {_source(rows, 'stall', offload, plain, x)})"
             if iv and iv.method != "single" else "")
    return [f"- **stall**: while {_num(busy) or 0:g} other connections each burn {x / 1000:g} ms of "
            f"CPU per request (`/cpu/{x:g}`), `epoll --offload 2` keeps /hello p99 at "
            f"{off / 1000:,.2f} ms" + (f" ({base / 1000:,.2f} ms with no background)" if base else "")
            + f" while the plain loop's reaches {loop / 1000:,.2f} ms" + ratio
            + (f"; {', '.join(others)}" if others else "") + "."]
