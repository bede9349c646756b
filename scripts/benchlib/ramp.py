"""RSS and threads over time while connections ramp up (the `ramp` scenario:
the load generator opens its connections at a fixed rate on /sleep/10)."""
from __future__ import annotations

import json

import matplotlib.pyplot as plt

from .sampler import read_samples


def draw_ramp(self) -> None:
    runs = []
    for pdir in sorted((self.run_dir / "points").glob("ramp__*")):
        try:
            info = json.loads((pdir / "point.json").read_text())
        except (OSError, ValueError):
            continue
        samples = read_samples(pdir / "samples.csv")
        if info.get("status") != "ok" or not samples or not {"rss_kib", "threads"} <= set(samples[0]):
            continue
        t0 = (info.get("marks") or {}).get("loadgen_start_t", 0)
        runs.append((info["model"], info["point"], [s for s in samples if s["t_s"] >= t0], t0))
    if not runs:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    for model, pt, samples, t0 in sorted(runs, key=lambda r: self.order([r[0]]) and (self.peer[r[0]], r[0])):
        ts = [s["t_s"] - t0 for s in samples]
        style = dict(color=self.colour[model], linestyle="--" if self.peer[model] else "-",
                     label=self.labels[model])
        axes[0].plot(ts, [s["rss_kib"] / 1024 for s in samples], **style)
        axes[1].plot(ts, [s["threads"] for s in samples], **style)
    pt = runs[0][1]
    ramp_s = pt["connections"] / pt["connect_rate"] if pt.get("connect_rate") else None
    for ax, ylabel in zip(axes, ("server RSS (MiB)", "server threads")):
        ax.set_xlabel("seconds since the load generator started")
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.3)
        if ramp_s:
            ax.axvline(ramp_s, color="#999999", linewidth=0.8, linestyle=":")
    self.save(fig, "ramp", f"RSS and threads over time, ramping to {pt['connections']} connections",
              f"The load generator opens {pt['connect_rate']} connections a second up to "
              f"{pt['connections']} (dotted line: ramp complete), each asking /sleep/10 in a loop. "
              "Watch the thread-per-connection server's threads and memory climb with the ramp "
              "while the event loop stays flat.", markers=False)
