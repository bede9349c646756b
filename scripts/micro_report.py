"""micro/summary.md: the key figures of a micro run in one table, and the
plots, drawn from the run folder's JSON alone. The bench report links it."""
from __future__ import annotations

from pathlib import Path

import micro_results
from claims import ns, size


# Counter prefixes of the kernel-memory benchmarks, in words.
SOURCES = {"epi": "eventpoll_epi objects", "pwq": "eventpoll_pwq objects",
           "tcp_slab": "TCP objects", "slabinfo": "all slab objects (/proc/slabinfo)",
           "meminfo_slab": "Slab line of /proc/meminfo"}


def _rows(r: dict) -> list[tuple[str, str, str]]:
    """(what, figure, benchmark) for every figure the run has."""
    rows = []

    def ok(name: str):
        e = r.get(name)
        return e if e and not e["error"] else None

    def timed(what: str, name: str, field: str = "real_ns", divide: float = 1) -> None:
        if e := ok(name):
            rows.append((what, ns(e[field] / divide), name))

    timed("plain function call", "BM_FunctionCall")
    timed("create + join a thread", "BM_ThreadCreateJoin")
    timed("hand a task to a waiting pool thread and get the answer", "BM_PoolHandOff")
    for kind in ("pipe", "eventfd", "condvar", "futex"):
        timed(f"hand-off between 2 threads on one CPU, {kind}", f"BM_PingPong/{kind}", divide=2)
        timed(f"hand-off between 2 threads free to use both CPUs, {kind}",
              f"BM_PingPong/{kind}@unpinned", divide=2)
    timed("hand-off inside one event loop: callback", "BM_PingPong/loop_callback", divide=2)
    timed("hand-off inside one event loop: eventfd + epoll_wait", "BM_PingPong/loop_eventfd_epoll",
          divide=2)
    for call, prefix in (("select()", "BM_Select"), ("poll()", "BM_Poll"),
                         ("epoll_wait()", "BM_EpollWait")):
        for n in (1, 1000, 10000):
            name = f"{prefix}/fds:{n}"
            e = r.get(name)
            if e and e["error"]:
                rows.append((f"{call} finding 1 ready among {n}", "impossible: " + e["error"], name))
            elif e:
                rows.append((f"{call} finding 1 ready among {n} (CPU)", ns(e["cpu_ns"]), name))
    for ready in (1, 10, 100, 1000):
        timed(f"epoll_wait() with {ready} ready among 10000 (CPU)",
              f"BM_EpollWaitReady/ready:{ready}", "cpu_ns")
    for name, e in sorted(r.items()):
        if name.startswith("BM_BlockedThreadsMemory/") and not e["error"]:
            c = e["counters"]
            stack = size(c.get("stack_bytes", 0))
            for label, key in (("virtual size", "virtual_bytes_per_thread"),
                               ("RSS", "rss_bytes_per_thread"),
                               ("kernel stack", "kernel_stack_bytes_per_thread"),
                               ("kernel task_struct", "task_struct_bytes_per_thread"),
                               ("all kernel slab objects (noisy: machine-wide)",
                                "kernel_slab_bytes_per_thread")):
                if key in c:
                    rows.append((f"blocked thread, {stack} stack: {label}", size(c[key]), name))
    for name, e in sorted(r.items()):
        if not name.startswith("BM_KernelMemory") or e["error"]:
            continue
        c = e["counters"]
        what = "epoll watch" if "EpollWatch" in name else "idle loopback TCP socket"
        for key, value in sorted(c.items()):
            if key.endswith(("_per_watch", "_per_socket")):
                source = SOURCES.get(key.rsplit("_bytes_per_", 1)[0], key)
                rows.append((f"kernel memory per {what}: {source}", size(value), name))
        if e["label"]:
            rows.append((f"kernel caches behind the {what} figures", e["label"], name))
    for batch in (1, 16):
        timed(f"parse + route + serialise /hello, per request, batch of {batch} (CPU)",
              f"BM_ProtocolHello/batch:{batch}", "cpu_ns", batch)
    for name, e in sorted(r.items()):
        if name.startswith("BM_Parser/") and not e["error"]:
            parser, batch = name.split("/")[1], int(name.rsplit(":", 1)[1])
            rows.append((f"parse only, {parser}, per request, batch of {batch} (CPU)",
                         ns(e["cpu_ns"] / batch), name))
    return rows


def write(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    folder = micro_results.micro_dir(run_dir) or run_dir
    results = micro_results.load(run_dir)
    m = micro_results.machine(run_dir)
    lines = ["# Micro-benchmarks", ""]
    if m:
        lines.append(f"{m.get('cpu_model', '?')}, {m.get('cpus', '?')} CPUs, Linux "
                     f"{m.get('kernel', '?')}, {m.get('build_type', '?')} build, {m.get('date', '')}. "
                     f"Timing families pinned to CPU {m.get('pinned_cpu', '?')}, "
                     f"--benchmark_min_time={m.get('min_time', '?')}, median of "
                     f"{m.get('repetitions', '?')} repetitions. Figures of one machine, "
                     "noisy if it was shared; times are wall time unless marked CPU.")
        lines.append("")
    lines += ["| what | figure | benchmark |", "|---|---|---|"]
    lines += [f"| {w} | {f.replace('|', '/')} | `{b}` |" for w, f, b in _rows(results)]
    lines.append("")
    for stem, caption in (("readiness_vs_fds", "Readiness cost against watched sockets"),
                          ("epoll_ready", "epoll_wait cost against ready sockets"),
                          ("context_switch", "Hand-off between threads vs inside an event loop"),
                          ("thread_cost", "Call, pool hand-off, new thread"),
                          ("thread_memory", "Memory per blocked thread")):
        if (folder / f"{stem}.png").exists():
            lines += [f"![{caption}]({stem}.png)", ""]
    lines += ["See [claims.md](claims.md) for the article's claims against these figures.", ""]
    path = folder / "summary.md"
    path.write_text("\n".join(lines))
    return path
