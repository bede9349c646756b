"""A whole run: plan the points, measure them in order with progress, keep
going past failures, and on Ctrl-C stop the processes and keep what exists."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from . import procs
from .models import ServerSpec
from .point import Settings, run_point
from .profiles import Point, Profile, estimate_s, plan, point_estimate_s
from .progress import Progress, fmt


def _outcome(info: dict) -> str:
    if info["status"] != "ok":
        return f"{info['status']}: {info['reason']}"
    return info.get("reason", "")


def _closed_loop_max(run_dir: Path, model: str) -> float:
    """The model's best closed-loop throughput in this run's hello sweep: the
    open-loop rates are fractions of it."""
    best = 0.0
    for f in (run_dir / "points").glob(f"hello__{model}__*/loadgen.json"):
        try:
            best = max(best, float(json.loads(f.read_text()).get("throughput_rps") or 0))
        except (OSError, ValueError):
            pass
    return best


def measure(profile: Profile, specs: list[ServerSpec], settings: Settings, run_dir: Path) -> bool:
    """Runs every point; returns False if interrupted."""
    by_name = {s.name: s for s in specs}
    points = plan(profile, [s.name for s in specs], lambda m, sc: by_name[m].serves(sc))
    runnable = [p for p in points if by_name[p.model].serves(p.scenario)]
    est = estimate_s(profile, runnable)
    print(f"bench: {len(points)} points ({len(runnable)} runnable), "
          f"estimated {fmt(est)} on this machine", file=sys.stderr, flush=True)
    (run_dir / "plan.json").write_text(json.dumps(
        {"points": len(points), "runnable": len(runnable), "estimate_s": round(est)}, indent=1))
    progress = Progress(len(points), est)
    starved_at: dict[str, int] = {}  # model -> idle count where the active client starved
    try:
        for i, pt in enumerate(points, 1):
            spec = by_name[pt.model]
            if pt.rate_fraction is not None:
                top = _closed_loop_max(run_dir, pt.model)
                if top <= 0:
                    pt = pt.resolved(1.0)
                    na = _hello_not_applicable(run_dir, pt.model)
                    _record_skip(run_dir, spec, pt, "n/a" if na else "skipped",
                                 na or "no closed-loop maximum measured (the hello sweep failed)")
                    continue
                pt = pt.resolved(top)
            if pt.idle and pt.model in starved_at and pt.idle > starved_at[pt.model]:
                # More idle connections cannot help a server that already
                # gave the active client nothing: record, do not wait for it.
                _record_skip(run_dir, spec, pt, "skipped",
                             f"the active client already got no answer at "
                             f"{starved_at[pt.model]} idle connections")
                progress.finish(point_estimate_s(profile, pt), "")
                continue
            progress.start(i, f"{pt.scenario} {spec.name} x={pt.x:g}"
                           + (f" idle={pt.idle}" if pt.idle else ""))
            info = run_point(settings, spec, pt, run_dir, run_dir / "points" / pt.id)
            cost = point_estimate_s(profile, pt) if spec.serves(pt.scenario) else 0.0
            progress.finish(cost, _outcome(info))
            if pt.idle and info["status"] == "ok" and _answered(run_dir / "points" / pt.id) == 0:
                starved_at.setdefault(pt.model, pt.idle)
    except KeyboardInterrupt:
        print("\nbench: interrupted; stopping servers and load generators, "
              "keeping what was measured", file=sys.stderr, flush=True)
        procs.stop_all()
        return False
    print(f"bench: measured in {fmt(time.monotonic() - progress.t0)}", file=sys.stderr, flush=True)
    return True


def _answered(pdir: Path) -> int:
    try:
        return int(json.loads((pdir / "loadgen.json").read_text()).get("requests") or 0)
    except (OSError, ValueError):
        return 0


def _hello_not_applicable(run_dir: Path, model: str) -> str:
    """The reason the model's hello points were not applicable, if they were."""
    for f in (run_dir / "points").glob(f"hello__{model}__*/point.json"):
        try:
            info = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if info.get("status") == "n/a":
            return info.get("reason", "n/a")
    return ""


def _record_skip(run_dir: Path, spec: ServerSpec, pt: Point, status: str, reason: str) -> None:
    from dataclasses import asdict
    pdir = run_dir / "points" / pt.id
    pdir.mkdir(parents=True, exist_ok=True)
    (pdir / "point.json").write_text(json.dumps(
        {"point": asdict(pt), "id": pt.id, "model": spec.name, "label": spec.label,
         "peer": spec.peer, "status": status, "reason": reason}, indent=1))
