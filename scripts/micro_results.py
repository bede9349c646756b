"""Reading Google Benchmark JSON as scripts/microbench.py writes it: one file
per family in a run's micro folder. Shared by microbench.py (plots) and
claims.py (the claims table)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Keys of a benchmark entry that are not user counters.
_STANDARD = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time",
    "time_unit", "aggregate_name", "aggregate_unit", "error_occurred", "error_message", "label",
}


def _is_benchmark_json(path: Path) -> bool:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and "benchmarks" in report


def micro_dir(run_dir: Path) -> Optional[Path]:
    """The folder holding the micro JSON: run_dir/micro (a bench run, whose
    own folder holds other JSON: plan, notices, machine) or run_dir itself (a
    `make microbench` run); None if neither holds Google Benchmark output."""
    run_dir = Path(run_dir)
    candidates = [run_dir / "micro"] if (run_dir / "micro").is_dir() else [run_dir]
    for candidate in candidates:
        if candidate.is_dir() and any(_is_benchmark_json(p) for p in candidate.glob("*.json")):
            return candidate
    return None


def _entry(bench: dict) -> dict:
    scale = _TO_NS.get(bench.get("time_unit", "ns"), 1.0)
    name = bench.get("run_name", bench["name"])
    # UseRealTime() appends "/real_time" to a name: how iterations were
    # chosen, not what was measured.
    name = name.removesuffix("/real_time")
    out = {
        "name": name,
        "real_ns": bench.get("real_time", 0) * scale,
        "cpu_ns": bench.get("cpu_time", 0) * scale,
        "iterations": bench.get("iterations"),
        "label": bench.get("label", ""),
        "error": bench.get("error_message") if bench.get("error_occurred") else None,
    }
    out["counters"] = {k: v for k, v in bench.items()
                       if k not in _STANDARD and isinstance(v, (int, float))}
    return out


def load_file(path: Path) -> dict[str, dict]:
    """name -> entry. With repetitions, the median aggregate stands for the
    name; without, the single run does."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(report, dict):
        return {}
    results: dict[str, dict] = {}
    for bench in report.get("benchmarks", []):
        entry = _entry(bench)
        name = entry["name"]
        if bench.get("run_type") == "aggregate":
            if bench.get("aggregate_name") == "median":
                results[name] = entry
        elif name not in results or results[name].get("error"):
            results[name] = entry
    return results


# A family run a second time under other conditions (context_switch_unpinned)
# reports the same names: they are kept apart as NAME@unpinned.
VARIANTS = ("unpinned",)


def load(run_dir: Path) -> dict[str, dict]:
    """Every benchmark of every family JSON under the run's micro folder."""
    folder = micro_dir(Path(run_dir))
    results: dict[str, dict] = {}
    if folder is None:
        return results
    for path in sorted(folder.glob("*.json")):
        if path.name == "machine.json":
            continue
        suffix = next((f"@{v}" for v in VARIANTS if path.stem.endswith("_" + v)), "")
        results.update({name + suffix: e for name, e in load_file(path).items()})
    return results


def machine(run_dir: Path) -> dict:
    """machine.json of the micro run, else the bench run's; {} if absent.
    Both have cpu_model and kernel; the CPU count is `cpus` or `cores_online`."""
    folder = micro_dir(Path(run_dir))
    for path in ([folder / "machine.json"] if folder else []) + [Path(run_dir) / "machine.json"]:
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(found, dict):
            found.setdefault("cpus", found.get("cores_online", "?"))
            return found
    return {}


def context(run_dir: Path) -> dict:
    """The `context` block (host, CPUs, date) of the first family file."""
    folder = micro_dir(Path(run_dir))
    if folder is None:
        return {}
    for path in sorted(folder.glob("*.json")):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(report, dict) and report.get("context"):
            return report["context"]
    return {}
