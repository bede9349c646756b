"""Every figure of the report, drawn from summary rows and the raw files.

One colour per model across all figures; reference peers in muted colours
with dashed lines; the marker's shape says which side was saturated
(summary.saturation); an upward arrow marks a latency that is only a lower
bound; a point that is not valid is drawn faded and not joined by the line;
a missing point is a × in a grey band at the axis's worst end, apart from
the data. MARKER_LINE says so under every figure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.transforms as mtransforms  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from .summary import grouped, _num  # noqa: E402
from . import ramp, registry, spectrum  # noqa: E402

# Colours of our models and the peers come from the registry
# (servers/models.json, peers.PEER_STYLE), so a model keeps its colour from
# run to run; these are for names neither knows.
OURS_EXTRA = ["#e377c2", "#bcbd22", "#7f7f7f"]
MUTED = ["#8c8c8c", "#a89f7a", "#7a9a88", "#9a8aa8", "#a88a8a", "#7a8fa8"]


@dataclass
class Figure:
    name: str
    title: str
    caption: str


def colours(rows: list[dict]) -> dict[str, str]:
    """A fixed colour per model from the registry (registry.colour()); a
    name it does not know gets the next spare colour, in order of name so
    that the same run always draws the same colours."""
    out: dict[str, str] = {}
    models = sorted({(int(float(r["peer"] or 0)), r["model"]) for r in rows})
    extra = iter(OURS_EXTRA)
    muted = iter(MUTED)
    for peer, m in models:
        out[m] = registry.colour(m) or (next(muted, "#999999") if peer else next(extra, "#333333"))
    return out


# Which side limited a point (summary.saturation): marker shape and fill.
MARKERS = {"neither": ("o", True, 5), "server-bound": ("s", True, 5),
           "client-bound": ("D", False, 5), "both": ("*", True, 9), "": ("o", True, 4)}
# The flag that says a latency column is only a lower bound.
LOWER_BOUND = {"p50_us": "p50_lower_bound", "p99_us": "p99_lower_bound", "mean_us": "mean_lower_bound"}
MARKER_LINE = ("Markers: ● neither side saturated · ■ server-bound (server CPUs < 10 % idle) · "
               "◇ client-bound (load generator's CPUs < 10 % idle) · ★ both · ↑ only a lower bound "
               "(requests still unanswered)\nfaded: not valid (the load generator called it invalid, "
               "or mostly rejections) · × in the grey band: missing · bars: min–max over the repeats.")
# The share of an axis given to the band of missing points, at its worst end.
BAND = 0.12


class Drawer:
    def __init__(self, run_dir: Path, rows: list[dict]):
        self.run_dir = run_dir
        # The A/A control is the same server as another line: it is read in
        # the report's noise-floor table, not drawn twice.
        self.rows = [r for r in rows if not r.get("control_of")]
        self.colour = colours(self.rows)
        self.labels = {r["model"]: r["label"] for r in self.rows}
        self.peer = {r["model"]: bool(int(float(r["peer"] or 0))) for r in self.rows}
        self.out = run_dir / "plots"
        self.out.mkdir(exist_ok=True)
        self.figures: list[Figure] = []
        self._missing: dict = {}   # axis -> [(x, colour)]

    def order(self, models) -> list[str]:
        return sorted(models, key=lambda m: (self.peer.get(m, False), m))

    def series(self, ax, scenario: str, col: str, scale: float = 1.0, xcol: str = "x",
               rejections: bool = False) -> bool:
        """One line per model through its valid points; returns whether
        anything was drawn. rejections: also a dotted line of the non-2xx
        answers per second, for the models that rejected any."""
        drawn = False
        g = grouped(self.rows, scenario)
        flag = LOWER_BOUND.get(col)
        for model in self.order(g):
            c = self.colour[model]
            style = dict(color=c, linestyle="--" if self.peer[model] else "-",
                         linewidth=1.2 if self.peer[model] else 1.8)
            line_x, line_y, rej = [], [], []
            for e in g[model]:
                if e["status"] == "n/a":
                    continue
                x = _num(e.get(xcol))
                y = _num(e.get(col)) if e["n_ok"] else None
                if x is None or (x <= 0 and ax.get_xscale() == "log"):
                    continue
                if (y is None or y <= 0) and x == 0:
                    continue  # e.g. memory per idle connection with none held
                if flag and y and not e["n_valid"] and _num(e.get("loadgen_format")) == 1:
                    # Format 1 timed only the answered requests: an invalid
                    # point's latency is that of the lucky few, no figure.
                    y = None
                if y is None or y <= 0:
                    # Missing: drawn in a band of its own at the axis's worst
                    # end (finish()), never where it would read as "best".
                    self._missing.setdefault(ax, []).append((x, c))
                    continue
                y *= scale
                valid = bool(e["n_valid"])
                alpha = 1.0 if valid else 0.35
                if valid:
                    line_x.append(x)
                    line_y.append(y)
                lo, hi = _num(e.get(col + "_lo")), _num(e.get(col + "_hi"))
                if e.get("n", 1) > 1 and lo is not None and hi is not None and hi > lo:
                    ax.errorbar([x], [y], yerr=[[y - lo * scale], [hi * scale - y]], fmt="none",
                                ecolor=c, capsize=2, linewidth=1, alpha=alpha)
                shape, filled, size = MARKERS.get(e.get("saturation") or "", MARKERS[""])
                ax.plot([x], [y], marker=shape, markersize=size, color=c, alpha=alpha,
                        markerfacecolor=c if filled else "white", linestyle="none")
                if flag and _num(e.get(flag)):
                    # Only a lower bound: an arrow up from the bound.
                    ax.annotate("", xy=(x, y), xytext=(0, 18), textcoords="offset points",
                                arrowprops=dict(arrowstyle="<-", color=c, linewidth=1.4, alpha=alpha))
                if rejections:
                    rate, total = _num(e.get("non_2xx_rate")), _num(e.get("throughput_rps"))
                    if rate and total:
                        rej.append((x, rate * total * scale))
            if line_x:
                drawn = True
                ax.plot(line_x, line_y, label=self.labels[model], **style)
            elif any(e.get("n_ok") for e in g[model]):
                drawn = True
            if rej:
                ax.plot([x for x, _ in rej], [y for _, y in rej], color=c, linestyle=":",
                        marker="x", markersize=6, linewidth=1.2,
                        label=f"{self.labels[model]}: rejected (non-2xx)/s")
        return drawn

    def finish(self, ax, better: str = "lower") -> None:
        """The band of missing points at the worst end of the y axis (the top
        where lower is better, the bottom where higher is better), with room
        made for it so that no data point sits inside it."""
        miss = self._missing.pop(ax, [])
        if not miss:
            return
        lo, hi = ax.get_ylim()
        log = ax.get_yscale() == "log"
        if log and (lo <= 0 or hi <= lo):
            lo, hi = 1.0, 10.0
        grow = BAND / (1 - BAND)
        if better == "lower":
            hi = hi * (hi / lo) ** grow if log else hi + (hi - lo) * grow
            band, at = (1 - BAND, BAND), 1 - BAND / 2
        else:
            lo = lo / (hi / lo) ** grow if log else lo - (hi - lo) * grow
            band, at = (0.0, BAND), BAND / 2
        ax.set_ylim(lo, hi)
        ax.add_patch(Rectangle((0, band[0]), 1, band[1], transform=ax.transAxes,
                               facecolor="#eeeeee", edgecolor="none", zorder=0))
        blend = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        # The label where the crosses leave the most room.
        fx = [ax.transAxes.inverted().transform(blend.transform((x, at)))[0] for x, _ in miss]
        pos, ha = max(((0.01, "left"), (0.5, "center"), (0.99, "right")),
                      key=lambda p: min(abs(p[0] + {"left": 0.04, "center": 0, "right": -0.04}[p[1]] - f)
                                        for f in fx))
        ax.text(pos, at, "missing", transform=ax.transAxes, fontsize=7, color="#777777",
                va="center", ha=ha)
        for x, c in miss:
            ax.plot([x], [at], marker="x", color=c, transform=blend, clip_on=False,
                    markersize=7, markeredgewidth=2)

    def save(self, fig, name: str, title: str, caption: str, markers: bool = True) -> None:
        w, h = fig.get_size_inches()
        if markers and w < 10:
            fig.set_size_inches(10, h)  # room for the marker line in two lines
        fig.suptitle(title, fontsize=12)
        handles, labels = [], []
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        if handles:
            fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8,
                       frameon=False, bbox_to_anchor=(0.5, 0.03 if markers else 0.0))
        if markers:
            fig.text(0.5, 0.005, MARKER_LINE, ha="center", va="bottom", fontsize=6.5,
                     color="#444444")
        bottom = (0.07 if markers else 0.03) + 0.035 * math.ceil(len(labels) / 4)
        fig.tight_layout(rect=(0, bottom, 1, 0.95))
        for ext in ("png", "svg"):
            fig.savefig(self.out / f"{name}.{ext}", dpi=110)
        plt.close(fig)
        self.figures.append(Figure(name, title, caption + ("\n\n" + MARKER_LINE.replace("\n", " · ")
                                                           if markers else "")))

    def panels(self, name, title, caption, scenarios, col, ylabel, scale=1.0,
               logy=True, xlabel="connections (log scale)", xcol="x", better="lower",
               rejections=False):
        """A grid of panels, one per scenario, sharing the y label."""
        present = [s for s in scenarios if any(r["scenario"] == s for r in self.rows)]
        if not present:
            return
        ncol = 2 if len(present) == 4 else min(3, len(present))
        nrow = math.ceil(len(present) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.8 * nrow + 0.8), squeeze=False)
        any_drawn = False
        for ax, sc in zip(axes.flat, present):
            ax.set_xscale("log")  # before drawing: series() skips x <= 0 on a log axis
            any_drawn |= self.series(ax, sc, col, scale, xcol, rejections=rejections)
            if logy:
                ax.set_yscale("log")
            ax.set_title(SCENARIO_TITLES.get(sc, sc), fontsize=10)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="major", alpha=0.3)
            self.finish(ax, better)
        for ax in list(axes.flat)[len(present):]:
            ax.set_visible(False)
        if any_drawn:
            self.save(fig, name, title, caption)
        else:
            plt.close(fig)


SCENARIO_TITLES = {"hello": "hello: GET /hello", "sleep": "sleep: GET /sleep/10 (10 ms wait)",
                   "cpu": "cpu: GET /cpu/100 (100 µs CPU)", "pipelined": "pipelined: depth 16",
                   "rotate": "rotate: /hello, reconnect every 100",
                   "stall": "stall: GET /hello beside GET /cpu/x",
                   "idle": "idle connections + 1 active client", "open-loop": "open loop: GET /hello"}
CLOSED = ["hello", "sleep", "cpu"]
KEEP_ALIVE_NOTE = ("Every model gets the same workload: keep-alive connections everywhere except "
                   "`rotate`, where every model's connections reconnect after 100 requests.")


def draw_all(run_dir: Path, rows: list[dict]) -> list[Figure]:
    d = Drawer(run_dir, rows)
    d.panels("cpu_per_request", "Server CPU time per served request",
             "The headline comparison. Read it first: how many microseconds of server CPU one "
             "served (2xx) request costs in each model, measured over the load generator's window. "
             "Lower is better, and unlike requests/s it does not depend on whether the load "
             "generator kept up. A rejection is not a served request: a model that rejects most of "
             "its requests shows a high cost here, not a low one. " + KEEP_ALIVE_NOTE,
             CLOSED + ["pipelined", "rotate"], "server_cpu_us_per_req", "server CPU per request (µs)")
    d.panels("throughput", "Goodput vs connections",
             "Served (2xx) requests per second. Look at `sleep` first: a 10 ms wait caps a single "
             "thread at 100 requests/s and a pool of N at N × 100, while the event loop keeps "
             "scaling with connections. Dotted lines with × are the rejections (non-2xx answers per "
             "second) of a model that rejected: answers, but not served work.",
             CLOSED + ["pipelined", "rotate"], "goodput_rps", "served requests/s", better="higher",
             rejections=True)
    d.latency_panels()
    d.stall_panels()
    d.panels("peak_rss", "Peak resident memory vs connections",
             "The server's peak resident memory (VmHWM). Thread-per-connection grows with every "
             "connection (stacks, per-thread state); the event loop grows only by its buffers.",
             CLOSED + ["pipelined"], "peak_rss_kib", "peak RSS (MiB)", scale=1 / 1024)
    d.panels("threads", "Threads vs connections",
             "The largest thread count sampled during the point. One line should be flat at 1 "
             "(blocking, epoll), one flat at the pool size, and one climbing with connections.",
             CLOSED, "threads_max", "threads (max sampled)")
    d.panels("ctx_per_request", "Context switches per served request",
             "Voluntary plus involuntary context switches of the server per served request, summed "
             "over all its threads. Blocking I/O pays at least one switch per wait; an event loop "
             "with many ready connections pays well under one.",
             CLOSED + ["pipelined"], "ctx_per_req", "context switches per request")
    d.idle_panels()
    d.open_loop_panels()
    d.equal_load_figure()
    d.spectrum_figure()
    d.ramp_figure()
    return d.figures


def _latency(self: Drawer) -> None:
    present = [s for s in CLOSED + ["rotate"] if any(r["scenario"] == s for r in self.rows)]
    if not present:
        return
    fig, axes = plt.subplots(2, len(present), figsize=(4.2 * len(present), 7.8), squeeze=False)
    for row, (col, name) in enumerate((("p50_us", "p50"), ("p99_us", "p99"))):
        for ax, sc in zip(axes[row], present):
            ax.set_xscale("log")
            self.series(ax, sc, col, 1e-3)
            ax.set_yscale("log")
            ax.set_title(f"{SCENARIO_TITLES[sc]} — {name}", fontsize=9)
            ax.set_xlabel("connections (log scale)")
            ax.set_ylabel(f"{name} latency (ms)")
            ax.grid(True, which="major", alpha=0.3)
            self.finish(ax, "lower")
    self.save(fig, "latency", "Latency (p50 and p99) vs connections",
              "Top row the median, bottom row the 99th percentile, in milliseconds, over every "
              "measured request: a request still unanswered when the window closed (or given up) "
              "enters with its age, so a percentile that falls among those is only a lower bound, "
              "drawn with an arrow up. With more connections than workers, requests queue: latency "
              "grows with connections / workers × service time, and a server that serves a few "
              "keep-alive connections while the rest wait (blocking, a fixed pool) shows it as "
              "a lower bound near the window's length, not as a fast median. " + KEEP_ALIVE_NOTE)


def _stall(self: Drawer) -> None:
    """/hello latency while other clients keep the server busy with /cpu:
    the figure issue 9 checks --offload by."""
    rows = [r for r in self.rows if r["scenario"] == "stall"]
    if not rows:
        return
    busy = next((int(float(r["background_connections"])) for r in rows
                 if _num(r.get("background_connections"))), None)
    rate = next((float(r["offered_rps"]) for r in rows if _num(r.get("offered_rps"))), None)
    xs = sorted({float(r["x"]) for r in rows if float(r["x"]) > 0})
    fig, axes = plt.subplots(1, 2, figsize=(9, 5.0))
    for ax, (col, name) in zip(axes, (("p50_us", "p50"), ("p99_us", "p99"))):
        # Linear below 1 ms of CPU, so that x = 0 (no background) is drawn.
        ax.set_xscale("symlog", linthresh=1000)
        self.series(ax, "stall", col, 1e-3)
        if xs:
            # What a request waits when it lands behind one /cpu request on a
            # loop that runs /cpu itself: the stall plain loops should follow.
            # From a decade below the first x, so that one x still draws a line.
            ref = [xs[0] / 10] + xs
            ax.plot(ref, [x / 1000 for x in ref], linestyle=":", color="#555555", linewidth=1,
                    label="one background request's CPU time")
        ax.set_yscale("log")
        ax.set_xlabel("CPU µs per background request (0 = none)")
        ax.set_ylabel(f"/hello {name} from the scheduled send (ms)")
        ax.set_title(f"{name}" + (f", {rate:g} /hello per s" if rate else ""), fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        self.finish(ax, "lower")
    self.save(fig, "stall", "/hello p99 while other clients burn CPU",
              f"Look at the right panel first. {busy or 'A few'} background connections keep asking "
              "for `/cpu/x` (closed loop), enough to keep the server's core busy; beside them /hello "
              "is sent at a fixed rate and its latency counts from when it was due. A loop that runs "
              "`/cpu` itself (`epoll --reactors 1`, io_uring) makes every /hello wait for the request "
              "in progress, so its p99 climbs with the dotted line (one background request's CPU "
              "time), a few times above it when busy connections' requests run back to back. "
              "`--offload 2` hands `/cpu` to worker threads and should stay flat as x grows, as should "
              "the thread models, whose /hello threads the kernel schedules between the busy ones: "
              "on a busy core they pay the kernel's wake-up delay once (about a millisecond on a "
              "small machine), not x. The x axis is the CPU time per background request "
              "rather than the number of busy connections because it sets how long one stall lasts; "
              "more connections only make stalls more frequent. The server side is saturated by "
              "design here (the background keeps it busy).")


def _idle(self: Drawer) -> None:
    if not any(r["scenario"] == "idle" for r in self.rows):
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.8))
    for ax in axes:
        # Linear near 0 so that the point without idle connections is shown.
        ax.set_xscale("symlog", linthresh=100)
    self.series(axes[0], "idle", "rss_per_idle_conn_bytes", 1 / 1024)
    axes[0].set_ylabel("server RSS per idle connection (KiB)")
    axes[0].set_yscale("log")
    axes[0].set_title("memory per idle keep-alive connection", fontsize=10)
    self.series(axes[1], "idle", "p99_us", 1e-3)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("active client's p99 latency (ms)")
    axes[1].set_title("one active client beside them", fontsize=10)
    for ax in axes:
        ax.set_xlabel("idle connections held (log scale above 100)")
        ax.grid(True, which="major", alpha=0.3)
        self.finish(ax, "lower")
    self.save(fig, "idle", "Idle keep-alive connections: memory each, and the active client",
              "Left: how much the server's RSS grew per idle connection (user-space memory only; "
              "the kernel's socket buffers are not in RSS). A thread per connection costs its stack "
              "pages; an event loop costs a small buffer. Right: whether holding them slows the one "
              "client that is working; a server whose workers the idle clients hold (blocking, a "
              "fixed pool) leaves it unanswered: a lower bound, or missing.")


def _equal_rates(self: Drawer) -> list[float]:
    """The absolute rates of the repeated (equal-load) open-loop points."""
    return sorted({float(r["offered_rps"]) for r in self.rows if r["scenario"] == "open-loop"
                   and _num(r.get("headline")) and _num(r.get("offered_rps"))})


def _open_loop(self: Drawer) -> None:
    if not any(r["scenario"] == "open-loop" for r in self.rows):
        return
    # Format 1 did not record the send lag: no panel of crosses for it.
    lag = any(_num(r.get("send_lag_p99_us")) is not None for r in self.rows
              if r["scenario"] == "open-loop")
    panels = [("p50_us", "p50"), ("p99_us", "p99")] + ([("send_lag_p99_us", "send lag p99")] if lag else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 4.8))
    for ax, (col, name) in zip(axes, panels):
        ax.set_xscale("log")
        self.series(ax, "open-loop", col, 1e-3, xcol="offered_rps")
        ax.set_yscale("log")
        ax.set_xlabel("offered load (requests/s, log scale)")
        ax.set_ylabel(f"{name} (ms)" if col == "send_lag_p99_us"
                      else f"{name} latency from the scheduled send (ms)")
        ax.set_title(f"{name}, coordinated omission corrected" if col != "send_lag_p99_us"
                     else "how late the load generator sent", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        for rate in _equal_rates(self):
            ax.axvline(rate, color="#999999", linewidth=0.8, linestyle=":")
        for r in self.rows:
            # A point where the load generator could not keep its schedule.
            if (r["scenario"] == "open-loop" and _num(r.get("schedule_kept")) == 0
                    and _num(r.get("offered_rps")) and _num(r.get(col))):
                ax.plot([float(r["offered_rps"])], [float(r[col]) * 1e-3], marker="o",
                        markersize=11, markerfacecolor="none", markeredgecolor="#d00000",
                        linestyle="none")
        self.finish(ax, "lower")
    self.save(fig, "open_loop", "Latency vs offered load (open loop)",
              "Requests are sent at fixed rates, the same absolute rates for every model (fractions "
              "of this run's reference capacity; dotted verticals: the equal-load rates), and "
              "latency counts from when each request should have been sent. Look for the knee: "
              "where a model's latency leaves the floor is where it saturates. "
              + ("Right: the load generator's send lag; a red ring marks a point where it could "
                 "not keep its schedule, so the load offered was lower than the axis says."
                 if lag else "(This run's load generator did not record its send lag.)"))


def _equal_load(self: Drawer) -> None:
    """CPU per served request and p99 at the common open-loop rates, one bar
    per model, min-max over the repeats: the fairest cost comparison."""
    g = grouped(self.rows, "open-loop")
    rates = _equal_rates(self)
    if not g or not rates:
        return
    models = [m for m in self.order(g) if any(_num(e.get("offered_rps")) in rates and e["n_ok"]
                                              for e in g[m])]
    if not models:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    width = 0.8 / len(models)
    # CPU as bars from zero (linear: a bar's length is the cost); p99 as
    # points on a log axis (latencies differ by orders of magnitude).
    for ax, (col, ylabel, scale) in zip(axes, (("server_cpu_us_per_req", "server CPU per request (µs)", 1),
                                               ("p99_us", "p99 latency (ms)", 1e-3))):
        bars = col == "server_cpu_us_per_req"
        for i, m in enumerate(models):
            for j, rate in enumerate(rates):
                e = next((e for e in g[m] if _num(e.get("offered_rps")) == rate), None)
                y = _num(e.get(col)) if e and e["n_ok"] else None
                pos = j + (i - (len(models) - 1) / 2) * width
                if y is None:
                    ax.plot([pos], [0], marker="x", color=self.colour[m], transform=
                            mtransforms.blended_transform_factory(ax.transData, ax.transAxes))
                    continue
                alpha = 1.0 if e["n_valid"] else 0.35
                lo, hi = _num(e.get(col + "_lo")), _num(e.get(col + "_hi"))
                err = ([[y * scale - lo * scale], [hi * scale - y * scale]]
                       if e.get("n", 1) > 1 and lo is not None and hi is not None else None)
                if bars:
                    ax.bar([pos], [y * scale], width=width * 0.9, color=self.colour[m], alpha=alpha,
                           hatch="//" if self.peer[m] else None, edgecolor="white",
                           label=self.labels[m] if j == 0 else None, yerr=err, capsize=2)
                else:
                    ax.errorbar([pos], [y * scale], yerr=err, fmt="o", color=self.colour[m],
                                alpha=alpha, capsize=2)
                if _num(e.get(LOWER_BOUND.get(col, ""))):
                    ax.annotate("", xy=(pos, y * scale), xytext=(0, 18), textcoords="offset points",
                                arrowprops=dict(arrowstyle="<-", color=self.colour[m]))
        ax.set_xticks(range(len(rates)))
        ax.set_xticklabels([f"{r:,.0f} requests/s" for r in rates])
        ax.set_ylabel(ylabel)
        if not bars:
            ax.set_yscale("log")
        ax.grid(True, axis="y", which="major", alpha=0.3)
    self.save(fig, "equal_load", "Cost at equal load: the same absolute rate for every model",
              "Open loop, every model offered the same requests/s (below every fast model's "
              "capacity). Left: server CPU per served request, the fairest cost comparison: no "
              "model is saturated and the client's speed does not enter. Right: p99 at the same "
              "load. Bars: median of the repeats, whiskers min–max; faded: not a valid point; "
              "↑ only a lower bound.", markers=False)


Drawer.latency_panels = _latency
Drawer.stall_panels = _stall
Drawer.idle_panels = _idle
Drawer.open_loop_panels = _open_loop
Drawer.equal_load_figure = _equal_load
Drawer.spectrum_figure = spectrum.draw_spectrum
Drawer.ramp_figure = ramp.draw_ramp
