#!/usr/bin/python3
"""The control machine's side of deploy/ansible/site.yml: the bench's
planner, the bundle, and the run folder, one subcommand per step the
playbook takes. Each prints one JSON object on stdout.

  driver.py bundle  --build build --out F.tgz         # what every host gets
  driver.py plan    --run-dir D --build build --server A --clients B,C --profile smoke
                    [--models epoll] [--scenarios hello] [--repeats N] [--seed S] [--pool N]
                    # D/hosts/NAME.json describes each host (the playbook writes them)
  driver.py prepare --run-dir D --point ID --target http://SERVER:PORT [--lead-s 5]
  driver.py finish  --run-dir D --point ID --build build
  driver.py report  --run-dir D                         # summary.csv, plots, REPORT.md

The run folder has the layout of `make bench`'s (scripts/benchlib/README.md),
so `make plots RUN=D` redraws it like any other run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bundle  # noqa: E402
import gather  # noqa: E402
import planning  # noqa: E402
from benchlib.models import DEFAULT_POOL, find_binary  # noqa: E402
from benchlib.run import record_timing  # noqa: E402


def _csv(text: str):
    return [t for t in (text or "").split(",") if t.strip()] or None


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="step", required=True)
    b = sub.add_parser("bundle")
    b.add_argument("--build", type=Path, required=True)
    b.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("plan")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--build", type=Path, required=True)
    p.add_argument("--server", required=True, help="the server host's inventory name")
    p.add_argument("--clients", required=True, help="the client hosts' inventory names, comma-separated, in shard order")
    p.add_argument("--profile", default="quick")
    p.add_argument("--models", default="", help="comma-separated model names (default: all)")
    p.add_argument("--scenarios", default="", help="comma-separated scenarios (default: the profile's)")
    p.add_argument("--repeats", default="", help="rounds of the headline points")
    p.add_argument("--seed", default="", help="shuffle seed (default: a new one, in plan.json)")
    p.add_argument("--pool", type=int, default=DEFAULT_POOL)
    q = sub.add_parser("prepare")
    q.add_argument("--run-dir", type=Path, required=True)
    q.add_argument("--point", required=True)
    q.add_argument("--target", required=True, help="http://SERVER:PORT as the clients reach it")
    q.add_argument("--lead-s", type=float, default=5.0, help="the start barrier's lead (for the bounds)")
    f = sub.add_parser("finish")
    f.add_argument("--run-dir", type=Path, required=True)
    f.add_argument("--point", required=True)
    f.add_argument("--build", type=Path, required=True)
    r = sub.add_parser("report")
    r.add_argument("--run-dir", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        out = run(args)
    except (planning.PlanError, bundle.BundleError, ValueError, OSError, KeyError) as e:
        print(f"driver.py {args.step}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0 if out.get("ok", True) else 1


def run(args) -> dict:
    if args.step == "bundle":
        return bundle.make(args.build.resolve(), args.out)
    run_dir = args.run_dir.resolve()
    if args.step == "plan":
        ids = planning.plan(run_dir, args.build.resolve(), args.server, _csv(args.clients) or [],
                            args.profile, _csv(args.models),
                            _csv(args.scenarios), args.repeats or None, args.seed, args.pool)
        return {"points": ids, "run_dir": str(run_dir)}
    if args.step == "prepare":
        return planning.prepare(run_dir, args.point, args.target.rstrip("/"), args.lead_s)
    if args.step == "finish":
        loadgen = find_binary(args.build.resolve(), "loadgen")
        if loadgen is None:
            raise ValueError(f"no loadgen under {args.build} for loadgen --merge")
        info = gather.finish(run_dir, args.point, loadgen)
        line = f"{args.point}: {info['status']}" + (f": {info['reason']}" if info.get("reason") else "")
        return {"status": info["status"], "line": line, "merge_check": info.get("merge_check")}
    return report(run_dir)


def report(run_dir: Path) -> dict:
    starts = [json.loads(p.read_text()).get("started_at") for p in run_dir.glob("points/*/prepared.json")]
    starts = [s for s in starts if s]
    if starts:
        record_timing(run_dir, points_s=time.time() - min(starts))
    done = subprocess.run(["/usr/bin/python3", str(REPO / "scripts" / "bench.py"), "--plots-only", str(run_dir)],
                          capture_output=True, text=True)
    return {"ok": done.returncode == 0, "report": str(run_dir / "REPORT.md"),
            "output": (done.stdout + done.stderr).strip()[-2000:]}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
