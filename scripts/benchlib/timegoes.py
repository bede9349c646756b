"""REPORT.md's "Where the time goes": why each model costs what it costs per
request. From the run's summary rows and each point's folder
(perfcount.json, profile.json, accounting.json):

* a stacked bar per model of server CPU per request: user, kernel split by
  kind (each syscall group, the scheduler, softirq, other kernel work), and
  beside it the time its threads waited for a CPU (not CPU, so not stacked);
* the syscalls-per-request table;
* links to the flame graphs of the reference points, and a differential
  one (thread per connection against epoll: which kernel paths grow);
* one line saying what was skipped and how to enable it, when perf was not
  there.

The kernel's share comes from accounting.json's system time, split in the
proportions of the point's profile when it has one; without a profile, the
per-CPU softirq time of the server's CPUs (/proc/stat) is carved out of it
(with tick-based accounting, as here, a softirq tick that lands on the
server is charged to it as system time) and the rest is one "kernel" part.
"""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Optional

from . import flamegraph, flamepng, flamesvg, perfcount, perfctl, profilerec

TITLE = "## Where the time goes"
KERNEL_REST = "kernel"
# One colour per part of the bar, fixed so that every run reads the same.
COLOURS = {
    "user": "#4c72b0", "read": "#dd8452", "write": "#c44e52", "epoll_wait": "#55a868",
    "epoll_ctl": "#8fd19e", "poll": "#64b5cd", "select": "#8172b3", "io_uring_enter": "#17becf",
    "accept": "#937860", "futex": "#da8bc3", "close": "#8c8c8c", "clock_nanosleep": "#ccb974",
    "other syscalls": "#b0b0b0", "scheduler": "#e377c2", "softirq": "#ff9f1c",
    "kernel other": "#6d6d6d", KERNEL_REST: "#9b9b9b",
}
# Above this share of other work on the server's CPUs a model's counts are
# marked (perf counts those CPUs whole in the bench).
FOREIGN_MAX = 0.10
TABLE_GROUPS = ["read", "write", "epoll_wait", "epoll_ctl", "poll", "select", "io_uring_enter",
                "accept", "futex", "close", "clock_nanosleep"]


def _num(v) -> Optional[float]:
    try:
        return None if v in (None, "") else float(v)
    except (TypeError, ValueError):
        return None


def point_id(row: dict) -> str:
    """The point folder's name for a summary row (profiles.Point.id)."""
    rf = _num(row.get("rate_fraction"))
    x = f"{rf:g}x" if rf is not None else f"{int(float(row['x']))}"
    return f"{row['scenario']}__{row['model']}__{x}__r{int(float(row.get('repeat') or 0))}"


def reference_rows(rows: list[dict], scenario: str, connections: int) -> dict[str, list[dict]]:
    """The ok rows of `scenario` at the x closest to `connections`, by model
    (several when the profile repeats points), in the rows' order."""
    # A/A control rows (the bench's `control_of`) repeat a model: left out.
    ok = [r for r in rows if r.get("scenario") == scenario and r.get("status") == "ok"
          and not r.get("control_of")]
    xs = sorted({float(r["x"]) for r in ok})
    if not xs:
        return {}
    x = min(xs, key=lambda v: abs(v - connections))
    out: dict[str, list[dict]] = {}
    for r in ok:
        if float(r["x"]) == x:
            out.setdefault(r["model"], []).append(r)
    return out


def _median_row(reps: list[dict]) -> dict:
    """The repeat with the median server CPU per request (its folder is the
    one drawn: a median of parts from different runs would not add up)."""
    keyed = sorted(reps, key=lambda r: _num(r.get("server_cpu_us_per_req")) or 0.0)
    return keyed[(len(keyed) - 1) // 2]


def cpu_parts(row: dict, pdir: Path, profile_dir: Optional[Path] = None) -> Optional[dict]:
    """{part: µs per request} of one point's server CPU, bottom up, or None
    when nothing says how much CPU it used. profile_dir: the repeat of the
    same point that has the flame graph (the first round's), when this one
    has none: its proportions split this one's kernel time."""
    requests = _num(row.get("requests"))
    if not requests:
        return None
    acc = perfctl.read_json(pdir / "accounting.json") or {}
    srv = acc.get("server") or {}
    user, system = _num(srv.get("user_s")), _num(srv.get("system_s"))
    prof = profilerec.load(pdir) or profilerec.load(profile_dir or pdir) or {}
    cats = prof.get("categories_ns") if prof.get("status") == "ok" else None
    if user is None or system is None:
        # No accounting: the profile's own split of the CPU figure in the row.
        total = _num(row.get("server_cpu_us_per_req"))
        if total is None or not cats or not sum(cats.values()):
            return None if total is None else {KERNEL_REST: total}
        scale = total / sum(cats.values())
        return {k: v * scale for k, v in cats.items() if v}
    out = {"user": user * 1e6 / requests}
    kernel_us = system * 1e6 / requests
    kernel_cats = {k: v for k, v in (cats or {}).items() if k != "user" and v}
    if kernel_cats:
        whole = sum(kernel_cats.values())
        out.update({k: kernel_us * v / whole for k, v in kernel_cats.items()})
        return out
    cpus = [str(c) for c in (acc.get("cpus") or {}).get("server", [])]
    soft = sum(_num(((acc.get("per_cpu") or {}).get(c) or {}).get("softirq_s")) or 0.0 for c in cpus)
    soft_us = min(kernel_us, soft * 1e6 / requests)
    if soft_us > 0:
        out["softirq"] = soft_us
    out[KERNEL_REST] = kernel_us - soft_us
    return out


def _wait_us(row: dict, pdir: Path) -> Optional[float]:
    v = _num(row.get("sched_delay_us_per_req"))
    if v is not None:
        return v
    cols = perfcount.per_request_columns(perfcount.load(pdir), _num(row.get("requests")),
                                         _num(_window_s(pdir)))
    return _num(cols["sched_delay_us_per_req"])


def _window_s(pdir: Path) -> Optional[float]:
    lg = perfctl.read_json(pdir / "loadgen.json") or {}
    return lg.get("duration_s")


def draw_bars(parts: dict[str, dict], waits: dict[str, Optional[float]], labels: dict[str, str],
              path: Path, title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(parts)
    order = [c for c in flamegraph.CATEGORIES + [KERNEL_REST] if any(c in p for p in parts.values())]
    fig, (ax, axw) = plt.subplots(1, 2, figsize=(12, 1.9 + 0.5 * max(3, len(models))),
                                  gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    labelled = set()
    for i, m in enumerate(models):
        left = 0.0
        for c in order:
            v = parts[m].get(c, 0.0)
            if v > 0:
                ax.barh(i, v, left=left, color=COLOURS.get(c, "#999999"), edgecolor="white",
                        linewidth=0.5, label=None if c in labelled else c)
                labelled.add(c)
                left += v
        ax.text(left, i, f" {left:.1f}", va="center", fontsize=8)
        w = waits.get(m)
        if w is not None:
            axw.barh(i, w, color="#bbbbbb", hatch="//", edgecolor="#777777")
            axw.text(w, i, f" {w:.1f}", va="center", fontsize=8)
    ax.set_yticks(range(len(models)), [labels.get(m, m) for m in models], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("server CPU µs per request")
    ax.set_title(title, fontsize=10)
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, names, fontsize=7, ncol=min(8, len(names)), loc="lower center",
               frameon=False)
    axw.set_xlabel("µs per request waiting for a CPU")
    axw.set_title("runnable, not running", fontsize=9)
    known = [w for w in waits.values() if w]
    if known and max(known) > 100 * max(min(known), 1e-3):
        # A thread per connection can wait thousands of times longer than
        # a loop: a linear axis would show the loop's bar as nothing.
        axw.set_xscale("log")
    for a in (ax, axw):
        a.grid(axis="x", alpha=0.3)
        a.margins(x=0.15)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def syscall_table(ref: dict[str, list[dict]], run_dir: Path, labels: dict[str, str]) -> list[str]:
    cols = [("syscalls", "syscalls_per_req")] + [(g, f"sys_{g}_per_req") for g in TABLE_GROUPS] + [
        ("other", "sys_other_per_req"), ("vol. switches", "cs_vol_per_req"),
        ("invol. switches", "cs_invol_per_req"), ("wait for CPU µs", "sched_delay_us_per_req")]
    table, named_only, shared = {}, set(), {}
    for model, reps in ref.items():
        vals = []
        for r in reps:
            pdir = run_dir / "points" / point_id(r)
            from_doc = perfcount.per_request_columns(perfcount.load(pdir), _num(r.get("requests")),
                                                     _window_s(pdir))
            v = {k: _num(r.get(k)) if _num(r.get(k)) is not None else _num(from_doc[k])
                 for _, k in cols}
            # Counting the server's CPUs whole leaves the switches to the
            # accounting (its per-thread sweeps), as exact and per request.
            for k, acc in (("cs_vol_per_req", "vol_ctx_per_req"), ("cs_invol_per_req", "invol_ctx_per_req")):
                if v[k] is None:
                    v[k] = _num(r.get(acc))
            vals.append(v)
            if (r.get("syscalls_scope") or from_doc["syscalls_scope"]) == "named":
                named_only.add(model)
            foreign = _num(r.get("server_cpus_foreign"))
            if foreign is not None and foreign > FOREIGN_MAX:
                shared[model] = max(shared.get(model, 0.0), foreign)
        table[model] = {k: statistics.median([v[k] for v in vals if v[k] is not None])
                        if any(v[k] is not None for v in vals) else None for _, k in cols}
    # Columns nobody used (poll, select for our models) only widen the table.
    shown = [(h, k) for h, k in cols if k in ("syscalls_per_req", "sched_delay_us_per_req") or
             any((t[k] or 0) >= 0.005 for t in table.values())]
    if not any(t["syscalls_per_req"] is not None for t in table.values()):
        return []
    out = ["| model | " + " | ".join(h for h, _ in shown) + " |",
           "|---|" + "---:|" * len(shown)]
    for model, t in table.items():
        cells = []
        for _, k in shown:
            v = t[k]
            cells.append("–" if v is None else (f"{v:.1f}" if k == "sched_delay_us_per_req" else
                                                f"{v:.2f}" if v >= 0.01 or v == 0 else f"{v:.3f}"))
            if k == "syscalls_per_req" and model in named_only and v is not None:
                cells[-1] += " *"
            if k == "syscalls_per_req" and model in shared and v is not None:
                cells[-1] += " ‡"
        out.append(f"| {labels.get(model, model)} | " + " | ".join(cells) + " |")
    if named_only:
        out += ["", "\\* the named calls only (the sweep's light counting, which leaves the others "
                "uncounted to stay cheap); `make profile ... PROFILE_ARGS=--count` counts every call."]
    if shared:
        out += ["", "‡ other work took " + ", ".join(f"{labels.get(m, m)} {f:.0%}" for m, f in shared.items())
                + " of the server CPU's busy time (`server_cpus_foreign`): perf counts everything on "
                "the server's CPUs, so these counts include its calls (a shared machine)."]
    return out


def _profiles(rows: list[dict], run_dir: Path, refs: list[tuple[str, int]]) -> list[tuple]:
    """(scenario, x, model, label, point dir) of every ok profile at the
    reference points."""
    out = []
    for scenario, conns in refs:
        for model, reps in reference_rows(rows, scenario, conns).items():
            for r in reps:
                pdir = run_dir / "points" / point_id(r)
                prof = profilerec.load(pdir)
                if prof and prof.get("status") == "ok":
                    out.append((scenario, int(float(r["x"])), model, r.get("label", model), pdir, r))
                    break
    return out


def differential(a: tuple, b: tuple, plots_dir: Path, top: int = 8) -> tuple[list[str], list[Path]]:
    """b against a (same scenario and x): a differential flame graph of
    their kernel stacks (where two different programs meet) and the kernel
    functions whose own time per request grew most."""
    (sc, x, ma, la, pa, ra), (_, _, mb, lb, pb, rb) = a, b
    fa, fb = (flamegraph.kernel_only(flamegraph.read_folded(p / "profile.folded")) for p in (pa, pb))
    na, nb = _num(ra.get("requests")) or 1, _num(rb.get("requests")) or 1
    # The profiles sample the window: their weights per request compare
    # directly, whatever the two throughputs were.
    root, colour, label = flamesvg.differential(fa, fb, na, nb)
    stem = f"flame-diff-{sc}-{x}-{mb}-vs-{ma}"
    title = f"{lb} against {la}: {sc}, {x} connections, kernel stacks"
    files = [flamesvg.write(fb, plots_dir / f"{stem}.svg", title,
                            "per request; user space folded into [user]", root=root,
                            colour=colour, label=label),
             flamepng.write(fb, plots_dir / f"{stem}.png", title, "red: more time per request than "
                            f"{la}, blue: less", root=root, colour=colour)]
    ka, kb = flamegraph.kernel_self(fa), flamegraph.kernel_self(fb)
    growth = sorted(((kb[f] / nb - ka.get(f, 0) / na) / 1e3, f) for f in kb)
    lines = [f"| kernel function (own time) | {la} µs/request | {lb} µs/request | growth |",
             "|---|---:|---:|---:|"]
    for g, f in reversed(growth[-top:]):
        if g <= 0:
            break
        lines.append(f"| `{f}` | {ka.get(f, 0) / na / 1e3:.2f} | {kb[f] / nb / 1e3:.2f} | +{g:.2f} |")
    return lines, files


def bars_finding(parts: dict, waits: dict, labels: dict) -> str:
    """Two sentences on the bars, from their numbers."""
    totals = {m: sum(p.values()) for m, p in parts.items()}
    hi, lo = max(totals, key=totals.get), min(totals, key=totals.get)
    out = "What to look at first: the length of each bar (server CPU per request) and the part "
    if hi == lo:
        out += "that dominates it. "
    else:
        cats = set(parts[hi]) | set(parts[lo])
        part = max(cats, key=lambda c: parts[hi].get(c, 0) - parts[lo].get(c, 0))
        grow = parts[hi].get(part, 0) - parts[lo].get(part, 0)
        out += (f"that makes the difference: {labels.get(hi, hi)} spends {totals[hi] - totals[lo]:.1f} "
                f"µs more per request than {labels.get(lo, lo)}, {grow:.1f} of them in "
                f"{part}. ")
    known = {m: w for m, w in waits.items() if w is not None}
    if known:
        w = max(known, key=known.get)
        out += (f"The hatched bars are not CPU but time spent runnable and waiting for it: "
                f"{labels.get(w, w)} waited longest, {known[w]:.1f} µs per request.")
    return out


def diff_finding(lines: list[str], before: str, after: str) -> str:
    if len(lines) <= 2:
        return f"No kernel function takes more time per request in {after} than in {before}."
    first = lines[2].split("|")
    return (f"What to look at first: the top row, `{first[1].strip(' `')}`, {first[4].strip()} µs "
            f"per request in {after}. Scheduler functions there (`finish_task_switch`, "
            "`__schedule`, `try_to_wake_up`) mean the extra time goes to switching threads; "
            "socket and copy functions (`tcp_*`, `_copy_*`) mean the calls themselves cost more.")


def skipped_line(run_dir: Path, rows: list[dict]) -> str:
    """One line: what perf could not do in this run and how to enable it."""
    reasons = {}
    for r in rows:
        pdir = run_dir / "points" / point_id(r)
        for what, doc in (("syscall counting", perfcount.load(pdir)),
                          ("flame graphs", profilerec.load(pdir))):
            if doc and doc.get("status") == "skipped" and doc.get("reason"):
                reasons.setdefault(doc["reason"], set()).add(what)
    if not reasons:
        return ""
    return " ".join(f"Skipped: {' and '.join(sorted(w))} ({why.rstrip('.')})."
                    for why, w in reasons.items())


def section(run_dir: Path, rows: list[dict], plots_dir: Optional[Path] = None,
            scenario: str = "hello", connections: int = 1000,
            flame_refs: tuple = (("hello", 1000), ("sleep", 1000)),
            diff_pair: tuple = ("threaded-pool0", "epoll")) -> tuple[str, list[Path]]:
    """The section's markdown and the figures it wrote (into plots_dir,
    default run_dir/plots). Links are relative to run_dir (REPORT.md's
    folder). Returns ("", []) when the run has nothing to show."""
    run_dir = Path(run_dir)
    plots_dir = Path(plots_dir or run_dir / "plots")
    plots_dir.mkdir(parents=True, exist_ok=True)
    ref = reference_rows(rows, scenario, connections)
    labels = {r["model"]: r.get("label") or r["model"] for r in rows}
    md: list[str] = [TITLE, ""]
    figures: list[Path] = []
    skip = skipped_line(run_dir, rows)
    if skip:
        md += [skip, ""]
    if not ref:
        return ("\n".join(md + [f"No `{scenario}` point ran, so there is nothing to break down.", ""])
                if skip else "", [])
    x = int(float(next(iter(ref.values()))[0]["x"]))
    parts, waits = {}, {}
    for model, reps in ref.items():
        r = _median_row(reps)
        pdir = run_dir / "points" / point_id(r)
        # The flame graph is recorded in the first round only; its
        # proportions split the median repeat's kernel time.
        profiled = next((run_dir / "points" / point_id(x) for x in reps
                         if (profilerec.load(run_dir / "points" / point_id(x)) or {}).get("status") == "ok"),
                        None)
        p = cpu_parts(r, pdir, profiled)
        if p:
            parts[model] = p
            waits[model] = _wait_us(r, pdir)
    if parts:
        bar = draw_bars(parts, waits, labels, plots_dir / "where-time-goes.png",
                        f"{scenario}, {x} connections: where each request's server CPU goes")
        figures.append(bar)
        md += [f"![where the time goes]({bar.relative_to(run_dir)})", "",
               bars_finding(parts, waits, labels), ""]
    table = syscall_table(ref, run_dir, labels)
    if table:
        md += [f"Syscalls and context switches per request, `{scenario}` at {x} connections "
               "(counted by perf over the measured window, all the server's threads):", ""] + table + [
            "", "What to look at first: the total, the figure a workshop can predict before it "
            "looks (a read and a write per request plus the loop's share of `epoll_wait`: about "
            "2 for epoll; far below 1 for io_uring when one `io_uring_enter` carries a batch). "
            "Then the voluntary switches: about one per request means a thread went to sleep "
            "and was woken for every request, which the last column's wait for a CPU follows.",
            ""]
    profiles = _profiles(rows, run_dir, list(flame_refs))
    if profiles:
        md += ["Flame graphs (on-CPU, user and kernel stacks; the SVG zooms on click in a "
               "browser):", "", "| point | model | flame graph |", "|---|---|---|"]
        for sc, px, model, label, pdir, _ in profiles:
            rel = pdir.relative_to(run_dir)
            md.append(f"| {sc} {px} | {label} | [SVG]({rel}/profile.svg) · [PNG]({rel}/profile.png) |")
        md += ["", "What to look at first: the widest towers, and what they stand on: "
               "`do_syscall_64` (a syscall's own work), `handle_softirqs` (on loopback, the "
               "network stack delivering packets inside the sender's syscall) or `__schedule` "
               "(switching threads). The server's own code is in the red-yellow frames at the "
               "bottom (named in a Release build because it keeps frame pointers).", ""]
        by_key = {(p[0], p[1], p[2]): p for p in profiles}
        for sc, px in dict.fromkeys((p[0], p[1]) for p in profiles):  # in flame_refs order
            a, b = by_key.get((sc, px, diff_pair[1])), by_key.get((sc, px, diff_pair[0]))
            if a and b:
                lines, files = differential(a, b, plots_dir)
                figures += files
                md += [f"Differential, {b[3]} against {a[3]} at `{sc}` {px}: "
                       f"[SVG]({files[0].relative_to(run_dir)}) · [PNG]({files[1].relative_to(run_dir)}); "
                       "the kernel functions whose own time grows most per request:", ""] + lines + [
                    "", diff_finding(lines, a[3], b[3]), ""]
    return "\n".join(md), figures
