"""The micro-benchmark plots, drawn from a run folder's JSON alone (PNG and
SVG): readiness cost against the number of watched sockets, the cost of a
hand-off between threads against one inside an event loop, the cost of a
thread, and the memory of a blocked thread."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import micro_results  # noqa: E402

MIB = 1024 * 1024


def _footer(fig, run_dir: Path) -> None:
    m = micro_results.machine(run_dir)
    text = (f"{m.get('cpu_model', '?')}, {m.get('cpus', '?')} CPUs, Linux {m.get('kernel', '?')}, "
            f"{m.get('date', '')}: one machine, not a universal figure")
    fig.text(0.01, -0.03, text, fontsize=7, color="gray")


def _save(fig, out: Path, stem: str) -> list[Path]:
    paths = []
    for ext in ("png", "svg"):
        path = out / f"{stem}.{ext}"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def readiness(results: dict, out: Path) -> list[Path]:
    series = {"select()": "BM_Select", "poll()": "BM_Poll", "epoll_wait()": "BM_EpollWait"}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = False
    for label, prefix in series.items():
        points = sorted((e["counters"].get("fds") or int(n.rsplit(":", 1)[1]), e["cpu_ns"] / 1e3)
                        for n, e in results.items()
                        if n.startswith(prefix + "/fds:") and "@" not in n and not e["error"])
        if not points:
            continue
        drawn = True
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o", label=label)
        stopped = [n for n, e in results.items() if n.startswith(prefix + "/") and e["error"]]
        if prefix == "BM_Select" and stopped:
            ax.annotate("select() stops here:\nFD_SETSIZE = 1024", (xs[-1], ys[-1]),
                        textcoords="offset points", xytext=(10, -25), fontsize=8,
                        arrowprops={"arrowstyle": "->", "color": "gray"})
    if not drawn:
        plt.close(fig)
        return []
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("watched sockets N (1 ready, N-1 idle)")
    ax.set_ylabel("CPU time per call (µs)")
    ax.set_title("Finding the one ready socket among N")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _footer(fig, out)
    return _save(fig, out, "readiness_vs_fds")


def epoll_ready(results: dict, out: Path) -> list[Path]:
    points = sorted((int(n.rsplit(":", 1)[1]), e["cpu_ns"] / 1e3) for n, e in results.items()
                    if n.startswith("BM_EpollWaitReady/ready:") and not e["error"])
    if not points:
        return []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs, ys = zip(*points)
    ax.plot(xs, ys, marker="o", color="tab:green", label="epoll_wait(), 10 000 watched")
    poll = results.get("BM_Poll/fds:10000")
    if poll and not poll["error"]:
        ax.axhline(poll["cpu_ns"] / 1e3, color="tab:orange", linestyle="--",
                   label="poll(), 10 000 watched, 1 ready")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ready sockets R among 10 000 watched")
    ax.set_ylabel("CPU time per call (µs)")
    ax.set_title("epoll_wait() costs O(ready), not O(watched)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _footer(fig, out)
    return _save(fig, out, "epoll_ready")


HANDOFFS = [("pipe", "BM_PingPong/pipe"), ("eventfd", "BM_PingPong/eventfd"),
            ("condition\nvariable", "BM_PingPong/condvar"), ("futex", "BM_PingPong/futex"),
            ("event loop:\nepoll + eventfd", "BM_PingPong/loop_eventfd_epoll"),
            ("event loop:\ncallback", "BM_PingPong/loop_callback")]


def context_switch(results: dict, out: Path) -> list[Path]:
    variants = [("two threads, one CPU", ""), ("two threads, free to use both CPUs", "@unpinned")]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.4
    drawn = False
    for i, (variant, suffix) in enumerate(variants):
        xs, ys = [], []
        for j, (_, name) in enumerate(HANDOFFS):
            e = results.get(name + suffix)
            if e and not e["error"]:
                xs.append(j + (i - 0.5) * width)
                ys.append(e["real_ns"] / 2 / 1e3)  # an iteration is a round trip
        if not xs:
            continue
        drawn = True
        bars = ax.bar(xs, ys, width, label=variant)
        ax.bar_label(bars, labels=[f"{y:.3g}" for y in ys], fontsize=7)
    if not drawn:
        plt.close(fig)
        return []
    ax.set_xticks(range(len(HANDOFFS)), [label for label, _ in HANDOFFS], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("wall time per hand-off (µs, log)")
    ax.set_title("Passing control: between threads vs inside one event loop")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    _footer(fig, out)
    return _save(fig, out, "context_switch")


def thread_cost(results: dict, out: Path) -> list[Path]:
    items = [("function call", "BM_FunctionCall"), ("hand a task to a\nwaiting pool thread",
             "BM_PoolHandOff"), ("create + join\na thread", "BM_ThreadCreateJoin")]
    found = [(label, results[name]["real_ns"] / 1e3) for label, name in items
             if name in results and not results[name]["error"]]
    if not found:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    bars = ax.bar([f[0] for f in found], [f[1] for f in found], color="tab:purple")
    ax.bar_label(bars, labels=[f"{f[1]:.3g} µs" for f in found], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("wall time (µs, log)")
    ax.set_title("Running a piece of work: call, pool, new thread")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    _footer(fig, out)
    return _save(fig, out, "thread_cost")


def thread_memory(results: dict, out: Path) -> list[Path]:
    stacks = [(name, e) for name, e in sorted(results.items())
              if name.startswith("BM_BlockedThreadsMemory/") and not e["error"]]
    if not stacks:
        return []
    measures = [("virtual size", "virtual_bytes_per_thread"), ("RSS (user)", "rss_bytes_per_thread"),
                ("kernel stack", "kernel_stack_bytes_per_thread"),
                ("kernel task_struct", "task_struct_bytes_per_thread")]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    width = 0.8 / len(measures)
    for i, (label, key) in enumerate(measures):
        ys = [max(e["counters"].get(key, 0), 1) / 1024 for _, e in stacks]
        xs = [j + (i - (len(measures) - 1) / 2) * width for j in range(len(stacks))]
        bars = ax.bar(xs, ys, width, label=label)
        ax.bar_label(bars, labels=[f"{y:,.0f}" for y in ys], fontsize=7)
    names = [f"stack {e['counters'].get('stack_bytes', 0) / 1024:,.0f} KiB" for _, e in stacks]
    ax.set_xticks(range(len(stacks)), names)
    ax.axhline(2 * MIB / 1024, color="red", linestyle="--", linewidth=1)
    ax.text(len(stacks) - 0.5, 2 * MIB / 1024 * 1.15, "the article's \"2 MB per thread\"",
            color="red", fontsize=8, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("KiB per blocked thread (log)")
    ax.set_title("Memory of 1 000 blocked threads, per thread")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    _footer(fig, out)
    return _save(fig, out, "thread_memory")


def draw_all(run_dir: Path) -> list[Path]:
    results = micro_results.load(run_dir)
    out = micro_results.micro_dir(run_dir) or run_dir
    paths: list[Path] = []
    for draw in (readiness, epoll_ready, context_switch, thread_cost, thread_memory):
        paths += draw(results, out)
    return paths
