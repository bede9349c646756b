#!/usr/bin/python3
"""The claims table: each claim of the "why Node.js" article (the blog post
in ../shared/background-article.txt), the figure measured in a run, and a
verdict computed from that figure. Nothing here is typed in: every number
comes from the run folder, and every verdict from a threshold below.

    scripts/claims.py RUN_FOLDER          # prints the markdown section
    import claims; claims.claims_markdown(run_dir)   # what REPORT.md embeds

RUN_FOLDER is a bench run (summary.csv + micro/*.json) or a micro run of
scripts/microbench.py (*.json); whatever is missing is "not measured in this
run".

Only valid macro points are evidence: a point the load generator called
invalid (exit 3), whose answers were mostly rejections, or where some
connections never opened is left out, and every macro figure names the
point folders it came from (the table's last column). Where a point was
repeated, the ratios carry a bootstrap interval and its real confidence (benchlib/stats.py)
and a verdict that the interval does not settle is *undecided*.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import micro_results  # noqa: E402
from benchlib import stats  # noqa: E402

HOLDS, NUANCE, FAILS, MISSING = ("holds", "holds with a nuance", "does not hold",
                                 "not measured in this run")
UNDECIDED = "undecided"

# --- Thresholds, and why ---------------------------------------------------
# "One client at a time": with N times the clients, a server that serves one
# at a time gets at most the throughput of one client; 1.5x leaves room for
# the overlap of accept() with the previous close and for noise.
ONE_AT_A_TIME_MAX_GAIN = 1.5
# "2 MB RAM per thread": the claim holds if a blocked thread really keeps at
# least half of 2 MB resident (its user pages plus its kernel stack).
CLAIMED_THREAD_BYTES = 2 * 1024 * 1024
RESIDENT_SHARE_FOR_HOLDS = 0.5
# "160 bytes per watched fd on 64-bit": within 25% is the same figure (slab
# objects come in size classes: 128 + 64 is what the kernel can give), within
# a factor 2 the same order of magnitude.
CLAIMED_EPOLL_BYTES = 160
SAME_FIGURE = 0.25
SAME_ORDER = 2.0
# "Context switching costs": a thread hand-off is costly if it takes 10x a
# callback; the switch itself is a real cost if an eventfd hand-off between
# two threads takes at least 1.5x the same eventfd hand-off inside one event
# loop (the same system calls plus an epoll_wait, minus the switch): the
# switch then adds half again to what the kernel charges anyway. (Measured
# 1.8x-2.7x on the 2-core development machine, from run to run.)
SWITCH_VS_CALLBACK = 10.0
SWITCH_VS_KERNEL_LOOP = 1.5
# "Thread pools are less efficient": server CPU per request of the pool over
# that of the event loop; 25% more is clearly less efficient, under 5% more
# is the same within the noise of this shared 2-core machine.
POOL_CLEARLY_WORSE = 1.25
POOL_SAME = 1.05
# "epoll scales with many fds": epoll_wait() over 10 000 sockets may take at
# most 2x its time over 1, while poll() takes at least 10x epoll's; and in
# the macro run, throughput with the most idle connections keeps 70% of the
# throughput without them.
EPOLL_FLAT = 2.0
POLL_VS_EPOLL = 10.0
MACRO_KEEPS = 0.7


@dataclass
class Claim:
    claim: str  # a brief quote or paraphrase of the article
    micro: str
    macro: str
    verdict: str
    why: str
    # The bench points the macro figures came from (folders under points/).
    sources: tuple[str, ...] = ()


# --- Formatting ------------------------------------------------------------

def ns(value: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} ns"


def size(value: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"


# --- Macro results (summary.csv of scripts/bench.py) -----------------------

def _num(value) -> Optional[float]:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


# A point whose answers were mostly rejections measured the rejecting.
MOSTLY_REJECTED = 0.5


def evidence(row: dict) -> bool:
    """Whether a summary.csv row may decide a claim. The `valid` column says
    so where the CSV has it; older CSVs are judged from what they have: the
    loadgen's exit 3 in the reason, mostly non-2xx answers, connections that
    never opened (they did not measure what their connection count says)."""
    if row.get("status", "ok") not in ("ok", ""):
        return False
    if (_num(row.get("not_opened")) or 0) > 0:
        return False
    if row.get("valid") not in (None, ""):
        return bool(_num(row["valid"]))
    if "exit 3" in (row.get("reason") or "") or "INVALID" in (row.get("reason") or ""):
        return False
    answered, rejected = _num(row.get("requests")), _num(row.get("non_2xx"))
    return not (answered and rejected and rejected > MOSTLY_REJECTED * answered)


def point_id(row: dict) -> str:
    """The point's folder name, as scripts/benchlib/profiles.Point.id."""
    if row.get("rate_fraction") not in (None, ""):
        x = f"{float(row['rate_fraction']):g}x"
    else:
        x = _num(row.get("x"))
        x = f"{int(x if x is not None else _num(row.get('connections')) or 0)}"
    return f"{row.get('scenario')}__{row.get('model')}__{x}__r{row.get('repeat') or 0}"


class Macro:
    """summary.csv, repeats folded into their median, with only the points
    that are evidence (evidence()). Tolerates missing columns: every
    accessor returns None instead."""

    def __init__(self, run_dir: Path):
        self.rows: list[dict] = []
        for path in (run_dir / "summary.csv", run_dir.parent / "summary.csv"):
            if path.is_file():
                with open(path, newline="") as f:
                    self.rows = [r for r in csv.DictReader(f) if evidence(r)
                                 and not r.get("control_of")]
                break
        self.cited: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.rows)

    def cite(self, *rows: dict) -> None:
        """Records the points a claim's figures come from (evaluate() hands
        them to the claim's `sources`)."""
        for r in rows:
            for i in (r or {}).get("_ids", ()):
                if i not in self.cited:
                    self.cited.append(i)

    def models(self, scenario: str) -> set[str]:
        return {r.get("model", "") for r in self.rows if r.get("scenario") == scenario}

    def points(self, scenario: str, model: str) -> list[tuple[float, dict]]:
        """(x, row of medians) sorted by x: connections, or idle connections.
        The row's "_ids" are the folders of the repeats folded into it, and
        "_by_repeat" maps column -> {repeat: value} for the intervals."""
        groups: dict[float, list[dict]] = {}
        for r in self.rows:
            if r.get("scenario") != scenario or r.get("model") != model:
                continue
            x = _num(r.get("idle_connections") if scenario == "idle" else r.get("connections"))
            if x is None:
                x = _num(r.get("x"))
            if x is not None:
                groups.setdefault(x, []).append(r)
        out = []
        for x, rows in sorted(groups.items()):
            merged = {}
            for key in rows[0]:
                values = [v for v in (_num(r.get(key)) for r in rows) if v is not None]
                merged[key] = statistics.median(values) if values else rows[0].get(key)
            merged["_ids"] = tuple(sorted(point_id(r) for r in rows))
            merged["_by_repeat"] = {key: {int(_num(r.get("repeat")) or i): _num(r.get(key))
                                          for i, r in enumerate(rows) if _num(r.get(key)) is not None}
                                    for key in rows[0]}
            out.append((x, merged))
        return out


def col(row: dict, *names: str) -> Optional[float]:
    """The first of `names` the row has a number for (the CSV's columns
    were renamed once: threads/threads_max, ctx_switches_per_req/ctx_per_req)."""
    for name in names:
        value = _num(row.get(name))
        if value is not None:
            return value
    return None


def _pool_model(models: set[str]) -> Optional[str]:
    pools = sorted(m for m in models if m.startswith("threaded-pool") and m != "threaded-pool0")
    return pools[0] if pools else None


def _epoll_model(models: set[str]) -> Optional[str]:
    if "epoll" in models:
        return "epoll"
    loops = sorted(m for m in models if m.startswith("epoll"))
    return loops[0] if loops else None


def _common_point(macro: Macro, scenario: str, a: str, b: str):
    """The largest x both models measured validly, with both rows."""
    pa, pb = dict(macro.points(scenario, a)), dict(macro.points(scenario, b))
    common = sorted(set(pa) & set(pb))
    return (common[-1], pa[common[-1]], pb[common[-1]]) if common else None


def _best_common(macro: Macro, scenarios, a: str, b: str):
    """(scenario, x, row a, row b) at the largest x both models measured
    validly in any of `scenarios` (the first scenario wins a tie)."""
    best = None
    for sc in scenarios:
        point = _common_point(macro, sc, a, b)
        if point and (best is None or point[0] > best[1]):
            best = (sc, *point)
    return best


def _ratio(ra: dict, rb: dict, column: str) -> Optional[stats.Interval]:
    """a / b of one column, over the repeats of both points (paired by
    repeat where they pair), or None."""
    a = (ra.get("_by_repeat") or {}).get(column) or {}
    b = (rb.get("_by_repeat") or {}).get(column) or {}
    return stats.ratio_interval(a, b)


# --- The claims ------------------------------------------------------------

def blocking_one_client(micro: dict, macro: Macro) -> Claim:
    claim = "Blocking accept: \"can only handle one client at time\""
    micro_text = "no micro-benchmark: a property of the whole server"
    # rotate: every connection reconnects after 100 requests, so the one
    # thread serves them all in turn (with keep-alive it serves one only,
    # and the others' points are not valid).
    for scenario in ("sleep", "rotate", "hello"):
        pts = macro.points(scenario, "blocking")
        pts = [(x, r) for x, r in pts if col(r, "throughput_rps")]
        if len(pts) < 2:
            continue
        (x1, r1), (xn, rn) = pts[0], pts[-1]
        gain = rn["throughput_rps"] / r1["throughput_rps"]
        macro.cite(r1, rn)
        text = (f"`{scenario}`, server-blocking: {r1['throughput_rps']:,.0f} req/s with {x1:.0f} "
                f"connection(s), {rn['throughput_rps']:,.0f} with {xn:.0f} ({gain:.2f}x)")
        # No latency here: the p99 of the requests that completed leaves out
        # the clients still waiting in the backlog, the very ones in question.
        epoll = _epoll_model(macro.models(scenario))
        if epoll:
            e = dict(macro.points(scenario, epoll)).get(xn)
            if e and col(e, "throughput_rps"):
                text += f"; {epoll} at {xn:.0f}: {e['throughput_rps']:,.0f} req/s"
        if gain > ONE_AT_A_TIME_MAX_GAIN:
            return Claim(claim, micro_text, text, FAILS,
                         f"{xn / x1:.0f}x the clients gave {gain:.2f}x the throughput: more than "
                         "one client was being served")
        if scenario == "sleep":
            return Claim(claim, micro_text, text, HOLDS,
                         f"{xn / x1:.0f}x the clients, {gain:.2f}x the throughput: every request "
                         "waits for the one before it")
        return Claim(claim, micro_text, text, NUANCE,
                     f"throughput stays flat ({gain:.2f}x) while clients queue, but with a fast "
                     "handler one client at a time is still many requests a second")
    return Claim(claim, micro_text, MISSING, MISSING, "needs the macro run (server-blocking)")


def thread_memory(micro: dict, macro: Macro) -> Claim:
    claim = "\"2 MB RAM per thread\""
    default = next((e for n, e in micro.items()
                    if n.startswith("BM_BlockedThreadsMemory/stack:0") and not e["error"]), None)
    small = next((e for n, e in micro.items()
                  if n.startswith("BM_BlockedThreadsMemory/stack:65536") and not e["error"]), None)
    macro_text = MISSING
    idle = macro.points("idle", "threaded-pool0")
    idle = [(x, r) for x, r in idle if x > 0 and col(r, "rss_per_idle_conn_bytes")]
    if idle:
        x, r = idle[-1]
        macro.cite(r)
        macro_text = (f"server-threaded --pool 0 holding {x:.0f} idle connections (a thread "
                      f"each): {size(r['rss_per_idle_conn_bytes'])} RSS per connection")
    if default is None:
        if idle:
            per_connection = idle[-1][1]["rss_per_idle_conn_bytes"]
            verdict = (HOLDS if per_connection >= RESIDENT_SHARE_FOR_HOLDS * CLAIMED_THREAD_BYTES
                       else FAILS)
            return Claim(claim, MISSING, macro_text, verdict,
                         f"macro only: a connection with its own blocked thread adds "
                         f"{size(per_connection)} of RSS (the kernel's share is not in RSS)")
        return Claim(claim, MISSING, macro_text, MISSING, "BM_BlockedThreadsMemory did not run")
    c = default["counters"]
    rss = c.get("rss_bytes_per_thread", 0)
    kstack = c.get("kernel_stack_bytes_per_thread", 0)
    # task_struct, not the machine-wide slab total that others' frees blur.
    slab = c.get("task_struct_bytes_per_thread", 0)
    virt = c.get("virtual_bytes_per_thread", 0)
    # Machine-wide kernel figures can dip below zero with others' frees.
    resident = rss + max(kstack, 0) + max(slab, 0)
    micro_text = (f"1 000 blocked threads, default stack ({size(c.get('stack_bytes', 0))}): "
                  f"virtual {size(virt)}, RSS {size(rss)} + kernel stack {size(kstack)} + "
                  f"task_struct {size(slab)} per thread")
    if small:
        s = small["counters"]
        micro_text += (f"; 64 KiB stacks: virtual {size(s.get('virtual_bytes_per_thread', 0))}, "
                       f"RSS {size(s.get('rss_bytes_per_thread', 0))}")
    if resident >= RESIDENT_SHARE_FOR_HOLDS * CLAIMED_THREAD_BYTES:
        return Claim(claim, micro_text, macro_text, HOLDS,
                     f"a blocked thread keeps {size(resident)} resident")
    if virt >= RESIDENT_SHARE_FOR_HOLDS * CLAIMED_THREAD_BYTES:
        return Claim(claim, micro_text, macro_text, FAILS,
                     f"the {size(virt)} is reserved address space, not RAM: a blocked thread "
                     f"keeps {size(resident)} resident, {CLAIMED_THREAD_BYTES / resident:.0f}x "
                     "less than claimed (it still limits how many fit in a 32-bit or "
                     "ulimit -v address space)")
    return Claim(claim, micro_text, macro_text, FAILS,
                 f"a thread reserves {size(virt)} and keeps {size(resident)} resident")


def epoll_watch_bytes(micro: dict, macro: Macro) -> Claim:
    claim = "epoll \"monitoring only cost 90 byte (160 bytes in 64bits)\" per fd"
    watch = next((e for n, e in micro.items()
                  if n.startswith("BM_KernelMemoryPerEpollWatch") and not e["error"]), None)
    sock = next((e for n, e in micro.items()
                 if n.startswith("BM_KernelMemoryPerIdleSocket") and not e["error"]), None)
    macro_text = MISSING
    epoll = _epoll_model(macro.models("idle"))
    if epoll:
        idle = [(x, r) for x, r in macro.points("idle", epoll)
                if x > 0 and col(r, "rss_per_idle_conn_bytes") is not None]
        if idle:
            x, r = idle[-1]
            macro.cite(r)
            macro_text = (f"{epoll} holding {x:.0f} idle connections: "
                          f"{size(r['rss_per_idle_conn_bytes'])} of user-space RSS per connection")
    if watch is None:
        return Claim(claim, MISSING, macro_text, MISSING, "BM_KernelMemoryPerEpollWatch did not run")
    c = watch["counters"]
    if c.get("slabinfo_readable"):
        per_watch = c.get("epi_bytes_per_watch", 0) + c.get("pwq_bytes_per_watch", 0)
        source = (f"/proc/slabinfo: eventpoll_epi {size(c.get('epi_bytes_per_watch', 0))} + "
                  f"eventpoll_pwq {size(c.get('pwq_bytes_per_watch', 0))}")
        if "merged" in watch.get("label", ""):
            source += (" (both caches merged with others on this kernel: counted as the growth "
                       "of the shared cache while only watches were added)")
    else:
        per_watch = c.get("meminfo_slab_bytes_per_watch", 0)
        source = ("/proc/meminfo Slab delta, /proc/slabinfo being unreadable: a lower bound, "
                  "since new objects first fill the free slots of slabs already counted")
    micro_text = (f"{size(per_watch)} of kernel memory per watched socket, "
                  f"{c.get('watches', 0):.0f} watches; {source}")
    socket_bytes = None
    if sock:
        s = sock["counters"]
        socket_bytes = (s.get("slabinfo_bytes_per_socket") if s.get("slabinfo_readable")
                        else s.get("meminfo_slab_bytes_per_socket"))
        if socket_bytes:
            micro_text += f"; an idle TCP socket itself: {size(socket_bytes)} of slab"
    ratio = per_watch / CLAIMED_EPOLL_BYTES
    if not c.get("slabinfo_readable") and ratio < 1 - SAME_FIGURE:
        return Claim(claim, micro_text, macro_text, MISSING,
                     f"only a lower bound ({size(per_watch)}) without /proc/slabinfo: run as root")
    context = (f"; the socket it watches costs {socket_bytes / per_watch:.0f}x more"
               if socket_bytes and per_watch > 0 else "")
    if abs(ratio - 1) <= SAME_FIGURE:
        return Claim(claim, micro_text, macro_text, HOLDS,
                     f"{size(per_watch)} vs 160 B claimed ({ratio:.2f}x){context}")
    if 1 / SAME_ORDER <= ratio <= SAME_ORDER:
        return Claim(claim, micro_text, macro_text, NUANCE,
                     f"{size(per_watch)}: the same order as 160 B, not the figure "
                     f"({ratio:.2f}x){context}")
    return Claim(claim, micro_text, macro_text, FAILS,
                 f"{size(per_watch)} is {ratio:.1f}x the 160 B claimed{context}")


def _per_handoff(micro: dict, name: str) -> Optional[float]:
    e = micro.get(name)
    return e["real_ns"] / 2 if e and not e["error"] and e["real_ns"] > 0 else None


def context_switches(micro: dict, macro: Macro) -> Claim:
    claim = "\"the time it takes to switch between worker threads (context switching)\""
    threads = {kind: _per_handoff(micro, f"BM_PingPong/{kind}")
               for kind in ("pipe", "eventfd", "condvar", "futex")}
    threads = {k: v for k, v in threads.items() if v}
    callback = _per_handoff(micro, "BM_PingPong/loop_callback")
    kernel_loop = _per_handoff(micro, "BM_PingPong/loop_eventfd_epoll")
    unpinned = _per_handoff(micro, "BM_PingPong/futex@unpinned")

    macro_text = MISSING
    hello = macro.models("hello")
    epoll, pool = _epoll_model(hello), ("threaded-pool0" if "threaded-pool0" in hello
                                        else _pool_model(hello))
    if epoll and pool:
        point = _common_point(macro, "hello", pool, epoll)
        if point:
            x, rp, re = point
            cp, ce = col(rp, "ctx_per_req", "ctx_switches_per_req"), col(re, "ctx_per_req",
                                                                           "ctx_switches_per_req")
            if cp is not None and ce is not None:
                macro.cite(rp, re)
                macro_text = (f"`hello` at {x:.0f} connections: {cp:.2f} context switches per "
                              f"request in {pool}, {ce:.2f} in {epoll}")
    if not threads or callback is None:
        return Claim(claim, MISSING, macro_text, MISSING,
                     "BM_PingPong did not run: the macro run counts switches, not their cost")
    kind, switch = min(threads.items(), key=lambda kv: kv[1])
    micro_text = ("per hand-off, one CPU: " +
                  ", ".join(f"{k} {ns(v)}" for k, v in threads.items()) +
                  f"; event loop: callback {ns(callback)}")
    if kernel_loop:
        micro_text += f", via eventfd + epoll_wait {ns(kernel_loop)}"
    if unpinned:
        micro_text += f"; futex across 2 CPUs {ns(unpinned)}"
    if switch < SWITCH_VS_CALLBACK * callback:
        return Claim(claim, micro_text, macro_text, FAILS,
                     f"the cheapest thread hand-off ({kind}, {ns(switch)}) is within "
                     f"{SWITCH_VS_CALLBACK:.0f}x of a callback")
    # The switch itself: the same eventfd hand-off between two threads and
    # inside one loop differ by the switch (the loop adds an epoll_wait).
    via_eventfd = threads.get("eventfd")
    if kernel_loop and via_eventfd and via_eventfd < SWITCH_VS_KERNEL_LOOP * kernel_loop:
        if via_eventfd <= kernel_loop:
            detail = (f"an eventfd hand-off between threads ({ns(via_eventfd)}) costs no more "
                      f"than the same inside one loop ({ns(kernel_loop)}): the system calls "
                      "cost, not the switch")
        else:
            detail = (f"an eventfd hand-off between threads ({ns(via_eventfd)}) is only "
                      f"{via_eventfd / kernel_loop:.1f}x the same inside one loop "
                      f"({ns(kernel_loop)}): the switch adds {ns(via_eventfd - kernel_loop)}")
        return Claim(claim, micro_text, macro_text, NUANCE,
                     f"the cheapest thread hand-off ({kind}, {ns(switch)}) is "
                     f"{switch / callback:,.0f}x a callback, but {detail}")
    return Claim(claim, micro_text, macro_text, HOLDS,
                 f"the cheapest thread hand-off ({kind}, {ns(switch)}) costs "
                 f"{switch / callback:,.0f}x a callback" +
                 (f"; through an eventfd the switch makes a hand-off "
                  f"{via_eventfd / kernel_loop:.1f}x dearer than inside one loop "
                  f"(+{ns(via_eventfd - kernel_loop)})" if kernel_loop and via_eventfd else ""))


def pool_efficiency(micro: dict, macro: Macro) -> Claim:
    claim = "thread pools are \"not as efficient as a non-blocking solution\""
    handoff = micro.get("BM_PoolHandOff")
    callback = _per_handoff(micro, "BM_PingPong/loop_callback")
    create = micro.get("BM_ThreadCreateJoin")
    parts = []
    if handoff and not handoff["error"]:
        parts.append(f"hand a task to a waiting pool thread and back: {ns(handoff['real_ns'])}")
    if create and not create["error"]:
        parts.append(f"create + join a thread: {ns(create['real_ns'])}")
    if callback:
        parts.append(f"event-loop callback: {ns(callback)}")
    micro_text = "; ".join(parts) or MISSING

    hello = macro.models("hello") | macro.models("rotate")
    pool, epoll = _pool_model(hello), _epoll_model(hello)
    # Keep-alive (hello) or reconnecting (rotate): a fixed pool serves only
    # as many keep-alive connections as it has threads, so its larger hello
    # points are not valid; the claim is read where both are valid at the
    # most connections.
    point = _best_common(macro, ("hello", "rotate"), pool, epoll) if pool and epoll else None
    if point:
        scenario, x, rp, re = point
        macro.cite(rp, re)
        cp, ce = col(rp, "server_cpu_us_per_req"), col(re, "server_cpu_us_per_req")
        tp, te = (col(rp, "goodput_rps", "throughput_rps"), col(re, "goodput_rps", "throughput_rps"))
        bound = any(col(r, "client_bound") for r in (rp, re))
        macro_text = f"`{scenario}` at {x:.0f} connections: "
        macro_text += ", ".join(
            f"{m}: {t:,.0f} req/s" + (f", {c:.2f} µs CPU/req" if c is not None else "")
            + (f", {col(r, 'threads_max', 'threads'):.0f} threads"
               if col(r, "threads_max", "threads") is not None else "")
            for m, t, c, r in ((pool, tp, cp, rp), (epoll, te, ce, re)) if t is not None)
        note = " (the load generator's CPU was saturated: throughput is the client's limit)" \
            if bound else ""
        if cp and ce:
            iv = _ratio(rp, re, "server_cpu_us_per_req")
            if iv is not None and iv.method != "single":
                spread = (f"{iv.text(2)} (interval over {iv.n} repeats, "
                          f"{iv.confidence_text()} confidence)")
                if iv.lo >= POOL_CLEARLY_WORSE:
                    return Claim(claim, micro_text, macro_text, HOLDS,
                                 f"the pool spends {spread} the server CPU per request{note}")
                if iv.lo >= POOL_SAME:
                    return Claim(claim, micro_text, macro_text, NUANCE,
                                 f"the pool spends {spread} the CPU per request: less efficient, "
                                 f"but only slightly at this load{note}")
                if iv.hi < POOL_SAME:
                    return Claim(claim, micro_text, macro_text, FAILS,
                                 f"the pool spends {spread} the event loop's CPU per request{note}")
                return Claim(claim, micro_text, macro_text, UNDECIDED,
                             f"the pool spends {spread} the event loop's CPU per request: the "
                             f"interval straddles {POOL_SAME:g}{note}")
            r = cp / ce
            one = " (one repeat: no interval)" if iv is not None else ""
            if r >= POOL_CLEARLY_WORSE:
                return Claim(claim, micro_text, macro_text, HOLDS,
                             f"the pool spends {r:.2f}x the server CPU per request{one}{note}")
            if r >= POOL_SAME:
                return Claim(claim, micro_text, macro_text, NUANCE,
                             f"the pool spends {r:.2f}x the CPU per request: less efficient, "
                             f"but only slightly at this load{one}{note}")
            return Claim(claim, micro_text, macro_text, FAILS,
                         f"the pool spends {r:.2f}x the event loop's CPU per request{one}{note}")
        if tp and te:
            r = te / tp
            verdict = HOLDS if r >= POOL_CLEARLY_WORSE else NUANCE if r >= POOL_SAME else FAILS
            return Claim(claim, micro_text, macro_text, verdict,
                         f"the event loop served {r:.2f}x the pool's throughput (no CPU figures)"
                         f"{note}")
    if handoff and not handoff["error"] and callback:
        ratio = handoff["real_ns"] / callback
        verdict = NUANCE if ratio >= SWITCH_VS_CALLBACK else FAILS
        return Claim(claim, micro_text, MISSING, verdict,
                     f"micro only: a pool hand-off costs {ratio:,.0f}x a callback per task; "
                     "whether that matters depends on the work per request")
    return Claim(claim, micro_text, MISSING, MISSING, "needs the macro run or BM_PoolHandOff")


def epoll_scales(micro: dict, macro: Macro) -> Claim:
    claim = "\"Epoll API scale well monitoring large set of file descriptor\""

    def at(prefix: str) -> dict[int, float]:
        return {int(n.rsplit(":", 1)[1]): e["cpu_ns"] for n, e in micro.items()
                if n.startswith(prefix + "/fds:") and "@" not in n and not e["error"]}

    epoll, poll, select = at("BM_EpollWait"), at("BM_Poll"), at("BM_Select")
    macro_text, macro_keeps = MISSING, None
    loop = _epoll_model(macro.models("idle"))
    if loop:
        idle = [(x, r) for x, r in macro.points("idle", loop) if col(r, "throughput_rps")]
        if len(idle) >= 2:
            (x0, r0), (xn, rn) = idle[0], idle[-1]
            macro_keeps = rn["throughput_rps"] / r0["throughput_rps"]
            macro.cite(r0, rn)
            macro_text = (f"{loop}, one active client beside {x0:.0f} → {xn:.0f} idle connections: "
                          f"{r0['throughput_rps']:,.0f} → {rn['throughput_rps']:,.0f} req/s "
                          f"({macro_keeps:.0%})")
    if len(epoll) < 2:
        if macro_keeps is not None:
            return Claim(claim, MISSING, macro_text,
                         HOLDS if macro_keeps >= MACRO_KEEPS else NUANCE,
                         f"macro only: with the idle connections the server kept "
                         f"{macro_keeps:.0%} of its throughput")
        return Claim(claim, MISSING, macro_text, MISSING, "BM_EpollWait did not run")
    lo, hi = min(epoll), max(epoll)
    growth = epoll[hi] / epoll[lo]
    micro_text = (f"CPU per call finding 1 ready among N: epoll_wait {ns(epoll[lo])} at N={lo}, "
                  f"{ns(epoll[hi])} at N={hi}")
    poll_ratio = None
    if hi in poll:
        poll_ratio = poll[hi] / epoll[hi]
        micro_text += f"; poll {ns(poll[hi])} at N={hi} ({poll_ratio:.0f}x epoll)"
    if select:
        top = max(select)
        micro_text += f"; select {ns(select[top])} at N={top}, then stops (FD_SETSIZE)"
    ready = {int(n.rsplit(":", 1)[1]): e["cpu_ns"] for n, e in micro.items()
             if n.startswith("BM_EpollWaitReady/ready:") and not e["error"]}
    if len(ready) >= 2:
        most = max(ready)
        micro_text += (f"; with {most} of 10000 ready, epoll_wait takes {ns(ready[most])}: "
                       "its cost follows the ready sockets")
    if growth > EPOLL_FLAT:
        return Claim(claim, micro_text, macro_text, FAILS,
                     f"epoll_wait took {growth:.1f}x longer over {hi} sockets than over {lo}")
    if macro_keeps is not None and macro_keeps < MACRO_KEEPS:
        return Claim(claim, micro_text, macro_text, NUANCE,
                     f"the wait is flat ({growth:.2f}x from N={lo} to {hi}), but the server "
                     f"kept only {macro_keeps:.0%} of its throughput with the idle connections")
    if poll_ratio is not None and poll_ratio < POLL_VS_EPOLL:
        return Claim(claim, micro_text, macro_text, NUANCE,
                     f"epoll is flat ({growth:.2f}x) but poll is only {poll_ratio:.1f}x slower "
                     f"at N={hi}")
    # Not a verdict, a reading aid: what each *ready* socket costs epoll,
    # against what each *watched* socket costs poll.
    per_ready = ""
    if len(ready) >= 2 and hi in poll:
        most = max(ready)
        per_ready = (f"; each ready socket still costs epoll_wait {ns(ready[most] / most)}, "
                     f"the order of poll's {ns(poll[hi] / hi)} per watched one: the gain is "
                     "for sets that are mostly idle")
    return Claim(claim, micro_text, macro_text, HOLDS,
                 f"flat: {growth:.2f}x from N={lo} to {hi}" +
                 (f", while poll costs {poll_ratio:.0f}x more at N={hi}" if poll_ratio else "")
                 + per_ready)


CLAIMS = [blocking_one_client, thread_memory, epoll_watch_bytes, context_switches,
          pool_efficiency, epoll_scales]


def evaluate(run_dir: Path) -> list[Claim]:
    run_dir = Path(run_dir)
    micro, macro = micro_results.load(run_dir), Macro(run_dir)
    return [_checked(check, micro, macro) for check in CLAIMS]


def _checked(check, micro: dict, macro: Macro) -> Claim:
    """One claim, with the points its macro figures came from."""
    macro.cited = []
    claim = check(micro, macro)
    return replace(claim, sources=tuple(macro.cited))


def _protocol_share(micro: dict, macro: Macro) -> Optional[str]:
    """What the protocol library costs per request, against what a request
    costs the server in all (the rest: system calls, waiting, switching)."""
    parts = []
    for batch in (1, 16):
        e = micro.get(f"BM_ProtocolHello/batch:{batch}")
        if e and not e["error"]:
            parts.append((batch, e["cpu_ns"] / batch))
    if not parts:
        return None
    text = "Parse + route + serialise of a `/hello` costs " + ", ".join(
        f"{ns(v)} per request {'alone' if b == 1 else f'in a pipelined batch of {b}'}"
        for b, v in parts)
    for model in sorted(macro.models("hello")):
        pts = [(x, r) for x, r in macro.points("hello", model) if col(r, "server_cpu_us_per_req")]
        if pts and model == _epoll_model(macro.models("hello")):
            x, r = pts[-1]
            total = r["server_cpu_us_per_req"] * 1e3
            text += (f"; {model} spends {ns(total)} of CPU per request at {x:.0f} connections, "
                     f"so the protocol is {parts[0][1] / total:.0%} of it and the I/O path "
                     "the rest")
    parsers = {n.split("/")[1]: e["cpu_ns"] / 16 for n, e in micro.items()
               if n.startswith("BM_Parser/") and n.endswith("batch:16") and not e["error"]}
    if parsers:
        text += ". Parsing alone, per request in a batch of 16: " + ", ".join(
            f"{k} {ns(v)}" for k, v in sorted(parsers.items(), key=lambda kv: kv[1]))
    return text + "."


def claims_markdown(run_dir, heading: bool = True) -> str:
    """The section as markdown; heading=False leaves out its "## " title for
    a caller that writes its own."""
    run_dir = Path(run_dir)
    claims = evaluate(run_dir)
    micro, macro = micro_results.load(run_dir), Macro(run_dir)
    m = micro_results.machine(run_dir)
    where = (f"{m.get('cpu_model', 'unknown CPU')}, {m.get('cpus', '?')} CPUs, "
             f"Linux {m.get('kernel', '?')}" if m else "the machine of this run")
    lines = ["## The claims, measured", ""] if heading else []
    lines += [
        f"Each claim of the \"why Node.js\" article beside what this run measured on {where}. "
        "The verdicts are computed by `scripts/claims.py` from the figures, with the thresholds "
        "explained there; a figure is this machine's, not a universal constant.",
        "",
        "Only valid points are evidence: a point the load generator called invalid, or whose "
        "answers were mostly rejections, decides nothing; the last column names the point "
        "folders (`points/<id>/`) each macro figure came from.",
        "",
        "| claim | measured (micro) | measured (macro) | verdict | points |",
        "|---|---|---|---|---|",
    ]

    def cell(text: str) -> str:
        return text.replace("|", "/").replace("\n", " ")

    for c in claims:
        verdict = f"**{c.verdict}**" + (f": {c.why}" if c.why else "")
        lines.append(f"| {cell(c.claim)} | {cell(c.micro)} | {cell(c.macro)} | {cell(verdict)} | "
                     f"{cell(_cite(c.sources))} |")
    lines.append("")
    lines += [f"- Verdict: {c.claim}: **{c.verdict}**" for c in claims]
    share = _protocol_share(micro, macro)
    if share:
        lines += ["", share]
    return "\n".join(lines)


def _cite(sources: tuple[str, ...]) -> str:
    """Point folders, repeats folded: hello__epoll__1000__r0,1,2."""
    if not sources:
        return "–"
    by: dict[str, list[str]] = {}
    for s in sources:
        base, _, rep = s.rpartition("__")
        by.setdefault(base, []).append(rep)
    return ", ".join(f"`{b}__{'r' + ','.join(r[1:] for r in sorted(reps)) if len(reps) > 1 else reps[0]}`"
                     for b, reps in by.items())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run folder (bench or micro)")
    parser.add_argument("--out", type=Path, help="write the markdown here instead of stdout")
    args = parser.parse_args(argv)
    if not args.run_dir.is_dir():
        parser.error(f"{args.run_dir} is not a folder")
    text = claims_markdown(args.run_dir)
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
