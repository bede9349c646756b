"""Several load generators (--network netns: emulated hosts) measure one
point together; `loadgen --merge` combines their JSON exactly (histograms
summed, never percentiles averaged). check() verifies that the merged
result is the sum of its parts: the multi-host set-up of docs/multi-host.md
is trusted only while it does."""
from __future__ import annotations

import subprocess
from pathlib import Path


def merge(loadgen: Path, parts: list[Path], out: Path) -> str:
    """Writes out from parts; returns a problem to record, or ""."""
    present = [str(p) for p in parts if p.exists()]
    if len(present) < len(parts):
        return f"only {len(present)} of {len(parts)} load generators wrote results"
    done = subprocess.run([str(loadgen), "--merge", *present, "--json", str(out)],
                          capture_output=True, text=True)
    return "" if done.returncode == 0 else f"loadgen --merge failed: {done.stderr.strip()[-200:]}"


def check(merged: dict, parts: list[dict]) -> dict:
    """Counts that must add up exactly. Throughput need not (it is requests
    over the common window), so it is reported, not compared."""
    mismatches = []

    def expect(name: str, got, want) -> None:
        if got != want:
            mismatches.append(f"{name}: merged {got} != sum {want}")

    expect("requests", merged.get("requests"), sum(p["requests"] for p in parts))
    for group in ("status", "errors"):
        for key in sorted(set().union(*(p.get(group, {}) for p in parts))):
            expect(f"{group}.{key}", merged.get(group, {}).get(key, 0),
                   sum(p.get(group, {}).get(key, 0) for p in parts))
    # The histogram, bucket by bucket: "exact" means no percentile was
    # averaged anywhere, so the merged tail is the tail of all requests.
    want: dict = {}
    for p in parts:
        for index, count in p["histogram"]["buckets"]:
            want[index] = want.get(index, 0) + count
    got = {index: count for index, count in merged["histogram"]["buckets"]}
    expect("histogram.count", merged["histogram"]["count"], sum(p["histogram"]["count"] for p in parts))
    expect("histogram buckets differing", sum(got.get(k, 0) != want.get(k, 0) for k in set(got) | set(want)), 0)
    return {"mismatches": mismatches,
            "parts_requests": [p["requests"] for p in parts],
            "parts_rps": [p.get("throughput_rps") for p in parts],
            "merged_requests": merged.get("requests"),
            "merged_rps": merged.get("throughput_rps"),
            "merged_latency_us": merged.get("latency_us")}
