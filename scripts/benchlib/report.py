"""REPORT.md: every plot with what to look at first, the headline table,
the notices (what was skipped and why), the machine, and the claims and
micro results when their scripts are there."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from . import findings, plots
from .summary import grouped


def save_notices(run_dir: Path, notices: list[str]) -> None:
    (run_dir / "notices.json").write_text(json.dumps(notices, indent=1))


def load_notices(run_dir: Path) -> list[str]:
    try:
        return json.loads((run_dir / "notices.json").read_text())
    except (OSError, ValueError):
        return []


def _fmt(v, unit: str = "", digits: int = 0) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    if digits == 0 and abs(f) >= 1000:
        return f"{f:,.0f}{unit}"
    return f"{f:.{digits}f}{unit}"


def _headline(rows: list[dict]) -> list[str]:
    """Per model at the hello point closest to 1000 connections: the numbers
    issue 5 puts first (server CPU per request, latency, memory)."""
    g = grouped(rows, "hello")
    if not g:
        return []
    xs = sorted({float(e["x"]) for es in g.values() for e in es})
    target = min(xs, key=lambda x: abs(x - 1000)) if xs else 0
    out = [f"### Headline: `hello` at {target:g} connections\n",
           "| model | server CPU µs/request | p50 | p99 | requests/s | peak RSS | threads | ctx switches/request | caution |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for model, entries in g.items():
        e = next((e for e in entries if float(e["x"]) == target), None)
        if e is None or e["status"] == "n/a":
            continue
        if e["n_ok"] == 0:
            out.append(f"| {e['label']} | missing: {e['reason']} |||||||")
            continue
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            e["label"], _fmt(e["server_cpu_us_per_req"], "", 1),
            _fmt(_ms(e["p50_us"]), " ms", 2), _fmt(_ms(e["p99_us"]), " ms", 2),
            _fmt(e["throughput_rps"]), _fmt(_mib(e["peak_rss_kib"]), " MiB", 1),
            _fmt(e["threads_max"]), _fmt(e["ctx_per_req"], "", 2),
            _caution(e)))
    return out + [""]


def _shown(run_dir: Path) -> str:
    """The run folder as a reader would type it: relative to the repository."""
    repo = Path(__file__).resolve().parent.parent.parent
    try:
        return str(run_dir.resolve().relative_to(repo))
    except ValueError:
        return str(run_dir)


def _caution(e: dict) -> str:
    flags = []
    if e.get("client_bound"):
        flags.append("client-bound")
    if e.get("starved"):
        share = _num_or(e.get("starved_share"))
        flags.append(f"starved ({share:.0%} timed out or never connected)" if share else "starved")
    return ", ".join(flags) or "–"


def _num_or(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _ms(us):
    try:
        return float(us) / 1000
    except (TypeError, ValueError):
        return None


def _mib(kib):
    try:
        return float(kib) / 1024
    except (TypeError, ValueError):
        return None


def _missing(rows: list[dict]) -> list[str]:
    bad = [r for r in rows if r["status"] not in ("ok", "n/a") or (r["status"] == "ok" and r["reason"])]
    na = sorted({(r["model"], r["scenario"]) for r in rows if r["status"] == "n/a"})
    out = []
    if na:
        by_model: dict[str, list[str]] = {}
        for m, sc in na:
            by_model.setdefault(m, []).append(sc)
        out += ["Not served (peers answer `/hello` only; blocking sits out `stall`; each reason is "
                "in `summary.csv`; nothing to draw): " +
                "; ".join(f"{m}: {', '.join(scs)}" for m, scs in by_model.items()) + ".", ""]
    if not bad:
        return out + ["Every other point ran without a problem.", ""]
    out += ["| point | status | reason |", "|---|---|---|"]
    for r in bad:
        x = f"{float(r['rate_fraction']):g}× max" if r["rate_fraction"] not in ("", None) else f"{float(r['x']):g}"
        reason = str(r["reason"]).replace("|", "/")[:300]
        out.append(f"| {r['scenario']} {r['model']} {x} (repeat {r['repeat']}) | {r['status']} | {reason} |")
    return out + [""]


def _intro() -> list[str]:
    """The opening section (docs/report-intro.md, up to its captions): the
    argument the plots test, in the project's own words."""
    intro = Path(__file__).resolve().parent.parent.parent / "docs" / "report-intro.md"
    try:
        text = intro.read_text()
    except OSError:
        return []
    # Drop the note to maintainers (an HTML comment), then the captions.
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.split(r"^## Captions$", text, maxsplit=1, flags=re.M)[0]
    text = re.sub(r"\n{3,}", "\n\n", text)
    return [text.strip() + "\n"]


def _claims(run_dir: Path) -> list[str]:
    scripts = Path(__file__).resolve().parent.parent
    if not (scripts / "claims.py").exists():
        return []
    sys.path.insert(0, str(scripts))
    try:
        import claims  # written by the microbench helper
        return ["## Claims checked against this run\n",
                claims.claims_markdown(run_dir, heading=False), ""]
    except Exception as e:  # its failure must not lose the report
        return ["## Claims\n", f"scripts/claims.py failed: {type(e).__name__}: {e}", ""]


def _micro(run_dir: Path) -> list[str]:
    micro = run_dir / "micro"
    if not micro.is_dir():
        return []
    out = ["## Micro-benchmarks\n", f"Results of `scripts/microbench.py` are in [`micro/`](micro/)."]
    for md in sorted(micro.glob("*.md")):
        out.append(f"- [{md.name}](micro/{md.name})")
    return out + [""]


def _missing_peers(run_dir: Path) -> list[str]:
    """One line under the title when a reference peer could not run (issue
    14: a newcomer must see at once why the nginx or Node.js rows are
    absent, and how to add them). peers.json is written by bench.py."""
    try:
        info = json.loads((run_dir / "peers.json").read_text())
    except (OSError, ValueError):
        return []
    missing = info.get("missing") or []
    if not missing:
        return []
    commands = sorted({m["command"] for m in missing})
    return [f"**Missing peers: {', '.join(m['peer'] for m in missing)}** "
            f"({'; '.join(m['why'] for m in missing)}): this run has no rows for them. "
            f"Add them with `{'` and `'.join(commands)}`, then run the bench again.\n"]


def write(run_dir: Path, rows: list[dict], notices: list[str]) -> None:
    figures = plots.draw_all(run_dir, rows)
    try:
        mach = json.loads((run_dir / "machine.json").read_text())
    except (OSError, ValueError):
        mach = {}
    lines = [f"# iomodels bench: {run_dir.name}\n"] + _missing_peers(run_dir) + [
             f"Measured on **{mach.get('cpu_model', '?')}**, {mach.get('cores_online', '?')} cores, "
             f"kernel {mach.get('kernel', '?')}, {mach.get('os', '')}; {mach.get('compiler_version', '')} "
             f"({mach.get('build_type', '?')}), commit `{str(mach.get('git_commit', '?'))[:12]}`"
             f"{' (dirty)' if mach.get('git_dirty') else ''}. Profile `{mach.get('profile', '?')}`; "
             f"server pinned to CPU {mach.get('server_cpus', '?')}, load generator to CPU "
             f"{mach.get('client_cpus', '?')}. These are the numbers of this machine only, and a "
             "small shared machine is noisy: compare models within the run, not with other runs.\n",
             "How to read the markers: a hollow marker means the load generator's core was ≥ 95 % "
             "busy (*client-bound*), so the server may have had more to give. A triangle ▼ means "
             "*starved*: requests timed out (no answer within the point's timeout) or connections "
             "never opened, as many as 5 % of the requests in flight, so the latency shown covers "
             "only the lucky ones — the "
             "blocking server is the usual case. A × on the axis in the model's colour: the point "
             "could not run or got no answer at all (the reason is in the table at the end). "
             "Reference peers are drawn dashed in muted colours.\n"]
    lines += _intro()
    lines += _headline(rows)
    lines += findings.peer_ratios(rows)
    lines += findings.scenario_lines(rows)
    for fig in figures:
        lines += [f"## {fig.title}\n", f"![{fig.title}](plots/{fig.name}.png)\n",
                  fig.caption + "\n", f"([SVG](plots/{fig.name}.svg))\n"]
    lines += _claims(run_dir)
    lines += _micro(run_dir)
    lines += ["## Notices\n"] + [f"- {n}" for n in notices] + [""]
    lines += ["## Points that were skipped, failed or had problems\n"] + _missing(rows)
    lines += ["## Files\n",
              "- `summary.csv`: one row per point (repeats included); `points/<id>/`: the raw files "
              "of each point (`loadgen.json`, `samples.csv` of the server at ~10 Hz, "
              "`loadgen_samples.csv`, `point.json` with the command lines and `wait4` totals, logs).",
              "- Redraw everything from the raw files: `make plots RUN=" + _shown(run_dir) + "`", ""]
    (run_dir / "REPORT.md").write_text("\n".join(lines))
