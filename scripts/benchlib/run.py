"""A whole run: plan the points (with the A/A control and the seeded
shuffle), measure them in order with progress, keep going past failures,
and on Ctrl-C stop the processes and keep what exists. plan.json records
the plan (seed, order, estimate) and, at the end, the time it really took."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Optional

from . import capacity, procs, summary
from .models import ServerSpec
from .point import Settings, run_point
from .profiles import (MICRO_S, REPORT_S, Point, Profile, aa_name, estimate_s, plan,
                       point_estimate_s)
from .progress import Progress, fmt


def with_control(profile: Profile, specs: list[ServerSpec]) -> list[ServerSpec]:
    """specs plus the A/A control: profile.aa's server under a second name,
    measured as if it were another model."""
    base = next((s for s in specs if s.name == profile.aa), None)
    if base is None:
        return specs
    return specs + [replace(base, name=aa_name(base.name), label=f"{base.label} (A/A copy)")]


def planned(profile: Profile, specs: list[ServerSpec], seed: int
            ) -> tuple[list[Point], list[Point], dict[str, ServerSpec]]:
    """(every point, the runnable ones, specs by name incl. the A/A copy)."""
    models = [s.name for s in specs]
    by_name = {s.name: s for s in with_control(profile, specs)}
    points = plan(profile, models, seed)
    runnable = [p for p in points if by_name[p.model].serves(p.scenario)]
    return points, runnable, by_name


def total_estimate_s(runnable: list[Point], micro: bool) -> float:
    return estimate_s(runnable) + (MICRO_S if micro else 0.0) + REPORT_S


def describe_plan(profile: Profile, points: list[Point], runnable: list[Point], seed: int,
                  micro: bool) -> dict:
    return {"profile": profile.name, "points": len(points), "runnable": len(runnable),
            "seed": seed, "repeats": profile.repeats, "sweep_repeats": profile.sweep_repeats,
            "aa_control": aa_name(profile.aa) if any(p.control_of for p in points) else None,
            "headline": [asdict(h) for h in profile.headline if h.scenario in profile.scenarios],
            "headline_points": sum(p.headline for p in runnable),
            "estimate_s": round(estimate_s(runnable)),
            "estimate_total_s": round(total_estimate_s(runnable, micro)),
            "micro_estimate_s": MICRO_S if micro else 0, "thinned": profile.thinned,
            "profiled": [list(p) for p in profile.profiled],
            "order": [p.id for p in points]}


def save_plan(run_dir: Path, plan_info: dict) -> None:
    (run_dir / "plan.json").write_text(json.dumps(plan_info, indent=1))


def load_plan(run_dir: Path) -> dict:
    try:
        d = json.loads((run_dir / "plan.json").read_text())
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def record_timing(run_dir: Path, **seconds: float) -> None:
    """Adds the measured times (points, micro, report) to plan.json, beside
    the estimate: how far off the estimate was is then part of the run."""
    info = load_plan(run_dir)
    info.setdefault("timing", {}).update({k: round(v, 1) for k, v in seconds.items()})
    save_plan(run_dir, info)


def _outcome(info: dict) -> str:
    if info["status"] != "ok":
        return f"{info['status']}: {info['reason']}"
    return info.get("reason", "")


def measure(profile: Profile, specs: list[ServerSpec], settings: Settings, run_dir: Path,
            seed: int = 0, micro: bool = True) -> bool:
    """Runs every point; returns False if interrupted."""
    points, runnable, by_name = planned(profile, specs, seed)
    est = estimate_s(runnable)
    print(f"bench: {len(points)} points ({len(runnable)} runnable, "
          f"{sum(p.headline for p in runnable)} of them headline points), shuffle seed {seed}, "
          f"estimated {fmt(est)} of points on this machine", file=sys.stderr, flush=True)
    save_plan(run_dir, describe_plan(profile, points, runnable, seed, micro))
    progress = Progress(len(points), est)
    starved_at: dict[str, int] = {}  # model -> idle count where the active client starved
    reference: Optional[dict] = None
    try:
        for i, pt in enumerate(points, 1):
            spec = by_name[pt.model]
            if pt.rate_fraction is not None and spec.serves(pt.scenario):
                if reference is None:
                    reference = _reference(run_dir, profile)
                rate = (reference or {}).get("rates", {}).get(f"{pt.rate_fraction:g}")
                if rate is None and reference is not None:
                    rate = max(1.0, round(pt.rate_fraction * reference["reference_rps"]))
                if rate is None:
                    pt = pt.resolved(1.0)
                    _record_skip(run_dir, spec, pt, "skipped",
                                 "no valid hello point in this run to choose the open-loop rates "
                                 "from (run open-loop together with hello)")
                    continue
                pt = replace(pt, rate=rate, x=rate)
            if (pt.idle and not pt.headline and pt.model in starved_at
                    and pt.idle > starved_at[pt.model]):
                # More idle connections cannot help a server that already
                # gave the active client nothing: record, do not wait for it.
                _record_skip(run_dir, spec, pt, "skipped",
                             f"the active client already got no answer at "
                             f"{starved_at[pt.model]} idle connections")
                progress.finish(point_estimate_s(pt), "")
                continue
            progress.start(i, f"{pt.scenario} {spec.name} x={pt.x:g} r{pt.repeat}"
                           + (f" idle={pt.idle}" if pt.idle else ""))
            info = run_point(settings, spec, pt, run_dir, run_dir / "points" / pt.id)
            cost = point_estimate_s(pt) if spec.serves(pt.scenario) else 0.0
            progress.finish(cost, _outcome(info))
            if pt.idle and info["status"] == "ok" and _answered(run_dir / "points" / pt.id) == 0:
                starved_at.setdefault(pt.model, pt.idle)
    except KeyboardInterrupt:
        print("\nbench: interrupted; stopping servers and load generators, "
              "keeping what was measured", file=sys.stderr, flush=True)
        procs.stop_all()
        record_timing(run_dir, points_s=time.monotonic() - progress.t0)
        return False
    took = time.monotonic() - progress.t0
    record_timing(run_dir, points_s=took)
    print(f"bench: measured in {fmt(took)} (estimated {fmt(est)})", file=sys.stderr, flush=True)
    return True


def _reference(run_dir: Path, profile: Profile) -> Optional[dict]:
    """The reference capacity from the hello points measured so far, saved
    in open_loop.json so that the report can say where the rates came from."""
    rows = [r for r in (summary.point_row(d) for d in sorted((run_dir / "points").glob("hello__*")))
            if r]
    ref = capacity.reference(rows, profile.open_rates)
    if ref is not None:
        capacity.save(run_dir, ref, profile.equal_load)
        print(f"bench: open-loop rates: fractions of {ref['reference_model']}'s capacity, "
              f"{ref['reference_rps']:,.0f} requests/s: "
              + ", ".join(f"{f} -> {r:,.0f}/s" for f, r in ref["rates"].items()),
              file=sys.stderr, flush=True)
    return ref


def _answered(pdir: Path) -> int:
    try:
        return int(json.loads((pdir / "loadgen.json").read_text()).get("requests") or 0)
    except (OSError, ValueError):
        return 0


def _record_skip(run_dir: Path, spec: ServerSpec, pt: Point, status: str, reason: str) -> None:
    pdir = run_dir / "points" / pt.id
    pdir.mkdir(parents=True, exist_ok=True)
    (pdir / "point.json").write_text(json.dumps(
        {"point": asdict(pt), "id": pt.id, "model": spec.name, "label": spec.label,
         "peer": spec.peer, "status": status, "reason": reason}, indent=1))
