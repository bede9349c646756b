"""The open loop's reference capacity, chosen from the machine in the same run.

Every model is offered the same absolute rates (issue 14: cost at equal
load), so the rates cannot be fractions of each model's own maximum. They
are fractions of the *reference capacity*: each model's capacity is its
best median goodput over the valid points of the hello sweep; the *fast*
models are those within FAST_SHARE of the best one; the reference is the
slowest fast model's capacity. At ¼ and ½ of it every fast model has room
to spare, so their costs are compared at a load none of them is saturated
by; a slow model (one thread, a model that rejects) shows at the same rates
what it cannot sustain.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Optional

from .summary import is_valid, _num

FAST_SHARE = 0.5
FILE = "open_loop.json"


def capacities(rows: list[dict]) -> dict[str, float]:
    """model -> best median goodput of its valid hello points (A/A copies
    left out: they are the same server)."""
    by: dict[str, dict[float, list[float]]] = {}
    for r in rows:
        if r["scenario"] != "hello" or r.get("control_of") or r["status"] != "ok" or not is_valid(r):
            continue
        g = _num(r.get("goodput_rps"))
        if g:
            by.setdefault(r["model"], {}).setdefault(float(r["x"]), []).append(g)
    return {m: max(statistics.median(v) for v in xs.values()) for m, xs in by.items()}


def reference(rows: list[dict], fractions: list[float]) -> Optional[dict]:
    """The reference capacity and the rates it gives; None without a valid
    hello point."""
    caps = capacities(rows)
    if not caps:
        return None
    best = max(caps.values())
    fast = {m: c for m, c in caps.items() if c >= FAST_SHARE * best}
    model = min(fast, key=fast.get)
    ref = fast[model]
    return {"reference_model": model, "reference_rps": round(ref, 1), "fast_share": FAST_SHARE,
            "capacities": {m: round(c, 1) for m, c in sorted(caps.items())},
            "fast_models": sorted(fast),
            "rates": {f"{f:g}": max(1.0, round(f * ref)) for f in fractions}}


def load(run_dir: Path) -> Optional[dict]:
    try:
        d = json.loads((run_dir / FILE).read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def save(run_dir: Path, ref: dict, equal_load: list[float]) -> None:
    (run_dir / FILE).write_text(json.dumps(dict(ref, equal_load=equal_load), indent=1))
