"""The latency percentile spectrum (HdrHistogram style): latency against
"nines" (50 %, 90 %, 99 %, 99.9 %, ...) on a log axis, from the loadgen's
histogram where it can be read, else from its percentile keys."""
from __future__ import annotations

import json
import math
from typing import Optional

import matplotlib.pyplot as plt

from .summary import grouped, is_valid, _num

PERCENTILE_KEYS = [("p50", 0.5), ("p75", 0.75), ("p90", 0.9), ("p99", 0.99),
                   ("p99_9", 0.999), ("p99_99", 0.9999)]


def histogram_pairs(hist) -> list[tuple[float, int]]:
    """(value_us, count) pairs from the loadgen's mergeable histogram. The
    form is the loadgen's choice; accepted: a list of [value, count] pairs or
    of {"value"/"us"/"upper_us": v, "count": n} objects, under "buckets" or
    "counts", or a {value: count} mapping."""
    if not isinstance(hist, dict):
        return []
    if hist.get("format") == "iomodels-loglinear-v1":
        return loglinear_pairs(hist)
    for key in ("buckets", "counts", "bins", "values"):
        b = hist.get(key)
        if isinstance(b, dict):
            return sorted((float(k), int(v)) for k, v in b.items() if int(v) > 0)
        if isinstance(b, list) and b:
            out = []
            for item in b:
                if isinstance(item, (list, tuple)) and len(item) >= 2:
                    out.append((float(item[0]), int(item[1])))
                elif isinstance(item, dict):
                    v = next((item[k] for k in ("value_us", "upper_us", "value", "us", "le")
                              if k in item), None)
                    if v is not None:
                        out.append((float(v), int(item.get("count", 0))))
            return sorted(p for p in out if p[1] > 0)
    return []


def loglinear_pairs(hist: dict) -> list[tuple[float, int]]:
    """Our loadgen's form (loadgen/latency_histogram.hpp): [index, count]
    pairs in ns; exact below 2^(bits+1), then 2^bits buckets per octave.
    Each bucket is placed at its middle, as the loadgen's percentiles are."""
    bits = int(hist.get("sub_bucket_bits", 7))
    sub, linear = 1 << bits, 2 << bits
    scale = 1e-3 if hist.get("unit", "ns") == "ns" else 1.0  # to µs
    out = []
    for index, count in hist.get("buckets", []):
        if index < linear:
            mid = float(index)
        else:
            rest = index - linear
            shift = rest // sub + 1
            low = (sub + rest % sub) << shift
            mid = low + (1 << shift) / 2
        out.append((mid * scale, int(count)))
    return sorted(p for p in out if p[1] > 0)


def censored_from(lg: dict) -> Optional[float]:
    """The smallest latency that is only a lower bound (format 2's
    histogram_censored: requests unanswered when given up or when the window
    closed), in µs; every percentile at or above it may be higher still."""
    pairs = histogram_pairs(lg.get("histogram_censored"))
    return pairs[0][0] if pairs else None


def spectrum_points(lg: dict) -> tuple[list[float], list[float], str]:
    """(quantiles, latencies_us, source)."""
    pairs = histogram_pairs(lg.get("histogram"))
    if pairs:
        total = sum(c for _, c in pairs)
        qs, vs, seen = [], [], 0
        for v, c in pairs:
            seen += c
            q = seen / total
            if q >= 0.5:
                qs.append(min(q, 1 - 0.1 / total))  # the last bucket would be at infinity
                vs.append(v)
        return qs, vs, "histogram"
    lat = lg.get("latency_us") or {}
    qs = [q for k, q in PERCENTILE_KEYS if _num(lat.get(k))]
    vs = [float(lat[k]) for k, _ in PERCENTILE_KEYS if _num(lat.get(k))]
    return qs, vs, "percentiles"


def chosen_point(rows: list[dict]) -> float | None:
    """The hello connection count closest to 1000 that ran for most models."""
    g = grouped(rows, "hello")
    xs = sorted({float(e["x"]) for es in g.values() for e in es if e["n_valid"]}
                or {float(e["x"]) for es in g.values() for e in es if e["n_ok"]})
    return min(xs, key=lambda x: abs(math.log10(x) - 3)) if xs else None


def draw_spectrum(self) -> None:
    x = chosen_point(self.rows)
    if x is None:
        return
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    sources = set()
    lower_bounds = False
    for model in self.order({r["model"] for r in self.rows if r["scenario"] == "hello"}):
        files = sorted((self.run_dir / "points").glob(f"hello__{model}__{int(x)}__r*/loadgen.json"))
        # A valid repeat's histogram first: an invalid one is not evidence.
        valid = {f"r{r['repeat']}" for r in self.rows if r["scenario"] == "hello"
                 and r["model"] == model and float(r["x"]) == x and is_valid(r)}
        files.sort(key=lambda f: f.parent.name.rsplit("__", 1)[1] not in valid)
        if not files:
            continue
        try:
            lg = json.loads(files[0].read_text())
        except (OSError, ValueError):
            continue
        qs, vs, src = spectrum_points(lg)
        if not qs:
            continue
        sources.add(src)
        nines = [-math.log10(1 - q) for q in qs]
        ys = [v / 1000 for v in vs]
        style = dict(color=self.colour[model], linestyle="--" if self.peer[model] else "-")
        cut = censored_from(lg)
        k = next((i for i, v in enumerate(vs) if cut is not None and v >= cut), len(vs))
        ax.plot(nines[:k + 1], ys[:k + 1], label=self.labels[model], linewidth=1.8,
                marker="o" if src == "percentiles" else None, markersize=4, **style)
        if k < len(vs):
            # From the first censored value on, every percentile is only a
            # lower bound: drawn thin, with an arrow up where it starts.
            lower_bounds = True
            ax.plot(nines[k:], ys[k:], linewidth=0.8, alpha=0.6, **style)
            ax.annotate("", xy=(nines[k], ys[k]), xytext=(0, 18), textcoords="offset points",
                        arrowprops=dict(arrowstyle="<-", color=self.colour[model]))
    ticks = [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999]
    ax.set_xticks([-math.log10(1 - q) for q in ticks])
    ax.set_xticklabels([f"{q * 100:g}%" for q in ticks])
    ax.set_xlim(left=-math.log10(0.5))
    ax.set_yscale("log")
    ax.set_xlabel("percentile (log scale of nines)")
    ax.set_ylabel("latency (ms)")
    ax.grid(True, which="major", alpha=0.3)
    how = "the full histogram" if sources == {"histogram"} else "the loadgen's percentiles"
    self.save(fig, "spectrum", f"Latency percentile spectrum: hello at {x:g} connections",
              f"Every percentile from the median out to the slowest requests, drawn from {how} of "
              "one point. Look at the right-hand end: the tail is where thread scheduling and a "
              "stalled loop show up long before the median moves."
              + (" Where a line turns thin with an arrow up, the requests from there on got no "
                 "answer in the window: their latency is only a lower bound." if lower_bounds else "")
              + " One valid repeat per model.", markers=False)
