"""Every figure of the report, drawn from summary rows and the raw files.

One colour per model across all figures; reference peers in muted colours
with dashed lines; hollow markers where the load generator was the
bottleneck (client-bound); a grey × on the axis where a point is missing.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.transforms as mtransforms  # noqa: E402

from .sampler import read_samples  # noqa: E402
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


class Drawer:
    def __init__(self, run_dir: Path, rows: list[dict]):
        self.run_dir = run_dir
        self.rows = rows
        self.colour = colours(rows)
        self.labels = {r["model"]: r["label"] for r in rows}
        self.peer = {r["model"]: bool(int(float(r["peer"] or 0))) for r in rows}
        self.out = run_dir / "plots"
        self.out.mkdir(exist_ok=True)
        self.figures: list[Figure] = []

    def order(self, models) -> list[str]:
        return sorted(models, key=lambda m: (self.peer.get(m, False), m))

    def series(self, ax, scenario: str, col: str, scale: float = 1.0, xcol: str = "x") -> bool:
        """One line per model; returns whether anything was drawn."""
        drawn = False
        g = grouped(self.rows, scenario)
        blend = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        for model in self.order(g):
            c = self.colour[model]
            style = dict(color=c, linestyle="--" if self.peer[model] else "-",
                         linewidth=1.2 if self.peer[model] else 1.8)
            xs, ys, lo, hi, hollow = [], [], [], [], []
            for e in g[model]:
                if e["status"] == "n/a":
                    continue
                x = _num(e.get(xcol))
                y = _num(e.get(col)) if e["n_ok"] else None
                if x is None or (x <= 0 and ax.get_xscale() == "log"):
                    continue
                if (y is None or y <= 0) and x == 0:
                    continue  # e.g. memory per idle connection with none held
                if y is None or y <= 0:
                    # Missing: drawn on the axis in the model's colour, so that
                    # it is seen, not silently dropped.
                    ax.plot([x], [0.02], marker="x", color=c, transform=blend,
                            clip_on=False, markersize=7, markeredgewidth=2)
                    continue
                xs.append(x)
                ys.append(y * scale)
                lo.append((y - (_num(e.get(col + "_lo")) or y)) * scale)
                hi.append(((_num(e.get(col + "_hi")) or y) - y) * scale)
                hollow.append((bool(_num(e.get("client_bound"))), bool(_num(e.get("starved")))))
            if not xs:
                continue
            drawn = True
            ax.plot(xs, ys, label=self.labels[model], **style)
            if any(lo) or any(hi):
                ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor=c, capsize=2, linewidth=1)
            for x, y, (bound, starved) in zip(xs, ys, hollow):
                # A triangle: some connections got no answer at all (see
                # summary.starved); hollow: the client's core was saturated.
                ax.plot([x], [y], marker="v" if starved else "o", markersize=7 if starved else 5,
                        color=c, markerfacecolor="white" if bound else c)
        return drawn

    def save(self, fig, name: str, title: str, caption: str) -> None:
        fig.suptitle(title, fontsize=12)
        handles, labels = [], []
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        if handles:
            fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8,
                       frameon=False)
        fig.tight_layout(rect=(0, 0.03 + 0.035 * math.ceil(len(labels) / 4), 1, 0.95))
        for ext in ("png", "svg"):
            fig.savefig(self.out / f"{name}.{ext}", dpi=110)
        plt.close(fig)
        self.figures.append(Figure(name, title, caption))

    def panels(self, name, title, caption, scenarios, col, ylabel, scale=1.0,
               logy=True, xlabel="connections (log scale)", xcol="x", rows_of=None):
        """A row of panels, one per scenario, sharing the y label."""
        present = [s for s in scenarios if any(r["scenario"] == s for r in self.rows)]
        if not present:
            return
        ncol = 2 if len(present) == 4 else len(present)
        nrow = math.ceil(len(present) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.8 * nrow + 0.4), squeeze=False)
        any_drawn = False
        for ax, sc in zip(axes.flat, present):
            ax.set_xscale("log")  # before drawing: series() skips x <= 0 on a log axis
            any_drawn |= self.series(ax, sc, col, scale, xcol)
            if logy:
                ax.set_yscale("log")
            ax.set_title(SCENARIO_TITLES.get(sc, sc), fontsize=10)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="major", alpha=0.3)
        if any_drawn:
            self.save(fig, name, title, caption)
        else:
            plt.close(fig)


SCENARIO_TITLES = {"hello": "hello: GET /hello", "sleep": "sleep: GET /sleep/10 (10 ms wait)",
                   "cpu": "cpu: GET /cpu/100 (100 µs CPU)", "pipelined": "pipelined: depth 16",
                   "stall": "stall: GET /hello beside GET /cpu/x",
                   "idle": "idle connections + 1 active client", "open-loop": "open loop: GET /hello"}
CLOSED = ["hello", "sleep", "cpu"]


def draw_all(run_dir: Path, rows: list[dict]) -> list[Figure]:
    d = Drawer(run_dir, rows)
    d.panels("cpu_per_request", "Server CPU time per request",
             "The headline comparison. Read it first: how many microseconds of server CPU one request "
             "costs in each model, measured over the load generator's window. Lower is better, and "
             "unlike requests/s it does not depend on whether the load generator kept up.",
             CLOSED + ["pipelined"], "server_cpu_us_per_req", "server CPU per request (µs)")
    d.panels("throughput", "Throughput vs connections",
             "Requests per second the server completed. Look at `sleep` first: a 10 ms wait caps a "
             "single thread at 100 requests/s and a pool of N at N × 100, while the event loop keeps "
             "scaling with connections. Hollow markers mean the load generator's core was saturated.",
             CLOSED + ["pipelined"], "throughput_rps", "requests/s")
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
    d.panels("ctx_per_request", "Context switches per request",
             "Voluntary plus involuntary context switches of the server per request, summed over "
             "all its threads. Blocking I/O pays at least one switch per wait; an event loop with "
             "many ready connections pays well under one.",
             CLOSED + ["pipelined"], "ctx_per_req", "context switches per request")
    d.idle_panels()
    d.open_loop_panels()
    d.spectrum_figure()
    d.ramp_figure()
    return d.figures


def _latency(self: Drawer) -> None:
    present = [s for s in CLOSED if any(r["scenario"] == s for r in self.rows)]
    if not present:
        return
    fig, axes = plt.subplots(2, len(present), figsize=(4.2 * len(present), 7.0), squeeze=False)
    for row, (col, name) in enumerate((("p50_us", "p50"), ("p99_us", "p99"))):
        for ax, sc in zip(axes[row], present):
            ax.set_xscale("log")
            self.series(ax, sc, col, 1e-3)
            ax.set_yscale("log")
            ax.set_title(f"{SCENARIO_TITLES[sc]} — {name}", fontsize=9)
            ax.set_xlabel("connections (log scale)")
            ax.set_ylabel(f"{name} latency (ms)")
            ax.grid(True, which="major", alpha=0.3)
    self.save(fig, "latency", "Latency (p50 and p99) vs connections",
              "Top row the median, bottom row the 99th percentile, in milliseconds. With more "
              "connections than workers, requests queue: latency grows with connections / workers "
              "× service time. Look at the gap between p50 and p99 of each model at 1000 connections.")


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
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
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
              "more connections only make stalls more frequent.")


def _idle(self: Drawer) -> None:
    if not any(r["scenario"] == "idle" for r in self.rows):
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.0))
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
    self.save(fig, "idle", "Idle keep-alive connections: memory each, and the active client",
              "Left: how much the server's RSS grew per idle connection (user-space memory only; "
              "the kernel's socket buffers are not in RSS). A thread per connection costs its stack "
              "pages; an event loop costs a small buffer. Right: whether holding them slows the one "
              "client that is working.")


def _open_loop(self: Drawer) -> None:
    if not any(r["scenario"] == "open-loop" for r in self.rows):
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.0))
    for ax, (col, name) in zip(axes, (("p50_us", "p50"), ("p99_us", "p99"))):
        ax.set_xscale("log")
        self.series(ax, "open-loop", col, 1e-3, xcol="offered_rps")
        ax.set_yscale("log")
        ax.set_xlabel("offered load (requests/s, log scale)")
        ax.set_ylabel(f"{name} latency from the scheduled send (ms)")
        ax.set_title(f"{name}, coordinated omission corrected", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    self.save(fig, "open_loop", "Latency vs offered load (open loop)",
              "Requests are sent at a fixed rate (fractions of each model's closed-loop maximum at "
              "100 connections) and latency counts from when each request should have been sent. Look "
              "for the knee: where a model's latency leaves the floor is where it saturates.")


Drawer.latency_panels = _latency
Drawer.stall_panels = _stall
Drawer.idle_panels = _idle
Drawer.open_loop_panels = _open_loop
Drawer.spectrum_figure = spectrum.draw_spectrum
Drawer.ramp_figure = ramp.draw_ramp
