"""REPORT.md: every plot with what to look at first, the headline table,
the notices (what was skipped and why), the machine, and the claims and
micro results when their scripts are there."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from . import capacity, findings, little, plots, run, timegoes
from .progress import fmt
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
    return f"{f:,.{digits}f}{unit}"


def _headline(rows: list[dict]) -> list[str]:
    """Per model at the hello point closest to 1000 connections: the numbers
    issue 5 puts first (server CPU per served request, latency, memory), the
    served share and whether the point is evidence."""
    g = grouped([r for r in rows if not r.get("control_of")], "hello")
    if not g:
        return []
    xs = sorted({float(e["x"]) for es in g.values() for e in es})
    target = min(xs, key=lambda x: abs(x - 1000)) if xs else 0
    out = [f"### Headline: `hello` at {target:g} connections (keep-alive)\n",
           "Medians of the valid repeats (else of the repeats that ran, marked *not valid*). "
           "≥: only a lower bound (requests still unanswered when the window closed). "
           "*Clients answered*: the share of the connections answered at least once in the "
           "window, and the median time to a connection's first answer: a server that serves "
           "one connection at a time answers that one fast (a small per-request p50) while the "
           "others wait, and these two show the waiting.\n",
           "| model | server CPU µs/served request | p50 | p99 | clients answered (first answer p50) | "
           "served/s | non-2xx | no answer | peak RSS | threads | ctx switches/request | saturation | "
           "evidence |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for model, entries in g.items():
        e = next((e for e in entries if float(e["x"]) == target), None)
        if e is None or e["status"] == "n/a":
            continue
        if e["n_ok"] == 0:
            out.append(f"| {e['label']} | missing: {str(e['reason'])[:150]} ||||||||||||")
            continue
        evidence = (f"{e['n_valid']} valid repeat{'s' if e['n_valid'] != 1 else ''}" if e["n_valid"]
                    else f"**not valid**: {e.get('invalid_reason') or ''}")
        if e.get("little_note"):
            evidence += f"; Little's law does not close ({_num_or(e.get('little_ratio')):.2f})"
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            e["label"], _fmt(e["server_cpu_us_per_req"], "", 1),
            findings.latency_cell(e, "p50_us", "p50_lower_bound"),
            findings.latency_cell(e, "p99_us", "p99_lower_bound"), _clients(e),
            _fmt(e.get("goodput_rps")), _pct(e.get("non_2xx_rate")), _pct(e.get("censored_share")),
            _fmt(_mib(e["peak_rss_kib"]), " MiB", 1),
            _fmt(e["threads_max"]), _fmt(e["ctx_per_req"], "", 2),
            e.get("saturation") or "–", evidence))
    return out + [""]


def _clients(e: dict) -> str:
    """The fairness cell: share of connections answered, first-answer p50."""
    share = _num_or(e.get("answered_conn_share"))
    if share is None:
        return "–"
    first = findings.latency_cell(e, "first_answer_p50_us", "first_answer_p50_lower_bound")
    return f"{_pct(share)}" + ("" if first == "–" else f" ({first})")


def _pct(v) -> str:
    f = _num_or(v)
    return "–" if f is None else "0" if f == 0 else f"{f:.1%}"


def _shown(run_dir: Path) -> str:
    """The run folder as a reader would type it: relative to the repository."""
    repo = Path(__file__).resolve().parent.parent.parent
    try:
        return str(run_dir.resolve().relative_to(repo))
    except ValueError:
        return str(run_dir)


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
    bad = [r for r in rows if r["status"] not in ("ok", "n/a") or (r["status"] == "ok" and r["reason"])
           or (r["status"] == "ok" and r.get("invalid_reason"))]
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
    out += ["Invalid points are drawn faded and decide nothing (no goal, claim or finding).\n",
            "| point | status | evidence | reason |", "|---|---|---|---|"]
    for r in bad:
        x = f"{float(r['rate_fraction']):g}× reference" if r["rate_fraction"] not in ("", None) else f"{float(r['x']):g}"
        reason = str(r["reason"]).replace("|", "/")[:300]
        evidence = ("valid" if _num_or(r.get("valid")) else
                    f"not valid: {r.get('invalid_reason')}" if r.get("invalid_reason") else "–")
        out.append(f"| {r['scenario']} {r['model']} {x} (repeat {r['repeat']}) | {r['status']} | "
                   f"{evidence.replace('|', '/')} | {reason} |")
    return out + [""]


def _accounting(rows: list[dict]) -> list[str]:
    """Issue 13: every closed-loop point's goodput x mean latency should
    equal the requests it keeps in flight; the ones that do not are listed
    with the reason found in their own figures."""
    closed = [r for r in rows if _num_or(r.get("little_ratio")) is not None]
    off = [r for r in closed if r.get("little_note")]
    out = ["## Points whose accounting does not close\n",
           f"In a closed loop every connection always has its requests in flight, so goodput × "
           f"mean latency ÷ requests in flight (`little_ratio` in `summary.csv`) should be near 1. "
           f"{len(closed)} closed-loop points have the figures for it; "]
    if not off:
        return out[:-1] + [out[-1] + f"every one lies within {little.LOW:g}–{little.HIGH:g}.", ""]
    out[-1] += (f"these {len(off)} lie outside {little.LOW:g}–{little.HIGH:g}: their figures leave "
                "out (or count twice) some of the waiting, for the reason given.\n")
    out += ["| point | little ratio | evidence | reason |", "|---|---:|---|---|"]
    for r in off:
        out.append(f"| {r['scenario']} {r['model']} {float(r['x']):g} (repeat {r['repeat']}) | "
                   f"{float(r['little_ratio']):.3f} | {'valid' if _num_or(r.get('valid')) else 'not valid'} | "
                   f"{str(r['little_note']).replace('|', '/')} |")
    return out + [""]


def _formats(run_dir: Path, rows: list[dict]) -> list[str]:
    """What an older run's raw files cannot tell, said once at the top."""
    ran = [r for r in rows if r["status"] == "ok"]
    out = []
    if any(_num_or(r.get("loadgen_format")) == 1 for r in ran):
        out.append("**Older load generator files (format_version 1).** Their latency covers answered "
                   "requests only: the requests still waiting at the end of a window are in no "
                   "percentile, so an invalid point's latency is not drawn, the lower-bound flags, "
                   "the censored share and the send lag stay empty, and `little_ratio` uses the "
                   "answered-only mean. Goodput comes from the status counts.")
    if ran and not any((run_dir / "points" / _pid(r) / "accounting.json").exists() for r in ran):
        out.append("**No `accounting.json` in this run.** Server CPU comes from ~10 Hz samples of "
                   "`/proc/PID/stat` (10 ms ticks, the window interpolated), and the saturation "
                   "class from the processes' own CPU time per CPU (`saturation_source = process`) "
                   "instead of the CPUs' idle time.")
    return [f"> {o}\n" for o in out]


def _pid(r: dict) -> str:
    x = f"{float(r['rate_fraction']):g}x" if r.get("rate_fraction") not in ("", None) else f"{int(float(r['x']))}"
    return f"{r['scenario']}__{r['model']}__{x}__r{r['repeat']}"


def _budget(run_dir: Path) -> list[str]:
    """What the profile left out and why, and the time the run took against
    its estimate (issue 14: the budget)."""
    info = run.load_plan(run_dir)
    if not info:
        return []
    out = ["## Plan, budget and what was thinned\n"]
    if info.get("repeats"):
        out.append(f"Headline points repeated over {info['repeats']} rounds"
                   + (f" (the sweep {info['sweep_repeats']} times)" if info.get("sweep_repeats", 1) > 1 else "")
                   + f", each round in a shuffled order (seed {info.get('seed')}, the order is in "
                   "`plan.json`)"
                   + (f"; A/A control `{info['aa_control']}`" if info.get("aa_control") else "") + ".")
    t = info.get("timing") or {}
    if t.get("points_s"):
        est, took = info.get("estimate_s") or 0, t["points_s"]
        line = (f"The points took {fmt(took)} against an estimate of {fmt(est)}"
                + (f" ({(took - est) / est:+.0%})" if est else ""))
        total = took + t.get("micro_s", 0) + t.get("report_s", 0)
        if info.get("estimate_total_s") and (t.get("micro_s") or t.get("report_s")):
            line += (f"; with the micro-benchmarks ({fmt(t.get('micro_s', 0))}) and the report "
                     f"({fmt(t.get('report_s', 0))}), {fmt(total)} against {fmt(info['estimate_total_s'])}")
        out.append(line + ".")
    elif info.get("estimate_s"):
        out.append(f"Estimated {fmt(info['estimate_s'])} of points.")
    for th in info.get("thinned") or []:
        out.append(f"- thinned: {th}")
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


def _where_time_goes(run_dir: Path, rows: list[dict]) -> list[str]:
    """Issue 17's section: why each model costs what it costs (perf's counts
    and flame graphs), or the one line saying what was skipped."""
    try:
        md, _ = timegoes.section(run_dir, rows)
    except Exception as e:  # its failure must not lose the report
        return [timegoes.TITLE + "\n", f"The section failed: {type(e).__name__}: {e}", ""]
    return [md, ""] if md else []


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
    out = ["## Micro-benchmarks\n", "Results of `scripts/microbench.py` are in [`micro/`](micro/)."]
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
             "small shared machine is noisy: compare models within the run, not with other runs; "
             "the A/A control below says how noisy this run was.\n"]
    lines += _formats(run_dir, rows)
    lines += ["How to read the plots: every model gets the same workload (keep-alive connections; "
              "the `rotate` scenario reconnects every model's connections after 100 requests). "
              "Requests are *served* (2xx), *rejected* (another status) or *unanswered* (still "
              "waiting when the window closed, or given up); CPU per request is per served "
              "request. The marker's shape says which side ran out of CPU: ● neither, ■ the "
              "server's CPUs (< 10 % idle), ◇ the load generator's, ★ both. An arrow up: the "
              "latency is only a lower bound. Faded: the point is not valid (the load generator "
              "called it invalid, or most answers were rejections) and decides nothing. A × in a "
              "grey band at the worst end of an axis: the point is missing (the reason is in the "
              "table at the end). Bars: min–max over the repeats. Reference peers are drawn "
              "dashed in muted colours.\n"]
    lines += _intro()
    lines += findings.noise_floor(rows)
    lines += _headline(rows)
    lines += findings.peer_ratios(rows)
    lines += findings.scenario_lines(rows)
    lines += findings.equal_load(rows, capacity.load(run_dir))
    lines += findings.schedule_problems(rows)
    lines += _accounting(rows)
    for fig in figures:
        lines += [f"## {fig.title}\n", f"![{fig.title}](plots/{fig.name}.png)\n",
                  fig.caption + "\n", f"([SVG](plots/{fig.name}.svg))\n"]
    lines += _where_time_goes(run_dir, rows)
    lines += _claims(run_dir)
    lines += _micro(run_dir)
    lines += _budget(run_dir)
    lines += ["## Notices\n"] + [f"- {n}" for n in notices] + [""]
    lines += ["## Points that were skipped, failed or had problems\n"] + _missing(rows)
    lines += ["## Files\n",
              "- `summary.csv`: one row per point (repeats included; its columns are described in "
              "`scripts/benchlib/README.md`); `points/<id>/`: the raw files of each point "
              "(`loadgen.json`, `accounting.json` when the run has it, `samples.csv` of the server, "
              "`loadgen_samples.csv`, `point.json` with the command lines and `wait4` totals, logs); "
              "`plan.json`: the plan, the shuffle seed and order, the estimate and the time taken; "
              "`open_loop.json`: the reference capacity the open-loop rates came from.",
              "- Redraw everything from the raw files: `make plots RUN=" + _shown(run_dir) + "`", ""]
    (run_dir / "REPORT.md").write_text("\n".join(lines))
