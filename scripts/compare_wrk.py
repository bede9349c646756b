#!/usr/bin/python3
"""Compare loadgen with wrk: requests/s and client CPU per request.

Runs loadgen and Debian's wrk (4.1) one after the other against the same
server (server-epoll, or nginx-light when asked or when server-epoll is not
built), the server pinned to one CPU and the client to another, one client
thread, at each connection count. The client's CPU time comes from wait4()'s
rusage, so it counts everything the client process did, kernel time included.

Writes into --out: compare.csv, compare.json, machine.json and README.md (a
markdown table with the ratios). The figures are only as quiet as the machine:
on a shared 2-core box they move by 10-20% from run to run; --repeats reports
the median.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from benchlib import machine as machine_json  # noqa: E402
from benchlib.models import find_binary, our_models  # noqa: E402
from benchlib.peers import peer_specs  # noqa: E402
from benchlib.procs import Child, free_port, pin, wait_listening  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="CMake build folder (default build/)")
    p.add_argument("--loadgen", help="loadgen binary (default BUILD/loadgen/loadgen)")
    p.add_argument("--server", choices=["auto", "epoll", "nginx"], default="auto",
                   help="server to load (auto: server-epoll if built, else nginx)")
    p.add_argument("--connections", default="10,100,1000", help="comma-separated connection counts")
    p.add_argument("--duration", default="5s", help="per run, as both tools write it (e.g. 5s)")
    p.add_argument("--repeats", type=int, default=1, help="runs per tool and point; the median is reported")
    p.add_argument("--path", default="/hello", help="request path")
    p.add_argument("--server-cpu", default="0", help="CPU list for the server (taskset)")
    p.add_argument("--client-cpu", default="1", help="CPU list for the client (taskset)")
    p.add_argument("--out", required=True, help="results folder to write, e.g. results/loadgen-vs-wrk")
    return p.parse_args()


def die(msg):
    print(f"compare_wrk: {msg}", file=sys.stderr)
    sys.exit(2)


class Server:
    """A fresh server process per measurement, pinned with taskset: the
    bench's own spec of server-epoll (--reactors 1) or of the nginx peer
    (its generated config, keep-alive without limit)."""

    def __init__(self, kind, build, cpu):
        self.kind, self.build, self.cpu = kind, build, cpu
        self.tmp = None

    def __enter__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="compare-wrk-"))
        spec = server_spec(self.kind, Path(self.build), self.tmp)
        port = 0 if spec.announces else free_port()
        self.child = Child(pin(self.cpu, spec.make_argv(port, self.tmp)), self.tmp, "server")
        addr = wait_listening(self.child, spec.announces, port)
        if addr is None:
            self.__exit__()
            die(f"{self.kind} did not start: {self.child.stderr_tail() or 'no output'}")
        self.port = addr[1]
        return self

    def __exit__(self, *exc):
        self.child.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def server_spec(kind, build, run_dir):
    found, _ = our_models(build)
    peer_found, _, _ = peer_specs(build, run_dir)
    by_name = {s.name: s for s in found + peer_found}
    if kind not in by_name:
        die(f"{kind} is not available here (build it, or run `make deps` for nginx)")
    return by_name[kind]


def run_client(argv):
    """Runs argv to completion; returns (stdout, cpu seconds from wait4)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    return proc.returncode, text, rusage.ru_utime + rusage.ru_stime, rusage.ru_stime


def run_wrk(url, conns, duration, cpu):
    rc, text, cpu_s, sys_s = run_client(["taskset", "-c", cpu, "wrk", "-t1", f"-c{conns}", f"-d{duration}", url])
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rc != 0 or not m or not rps:
        die(f"wrk failed ({rc}): {text}")
    errors = re.search(r"Socket errors: (.*)", text)
    return {"requests": int(m.group(1)), "rps": float(rps.group(1)), "cpu_s": cpu_s, "sys_s": sys_s,
            "errors": errors.group(1) if errors else ""}


def run_loadgen(binary, url, conns, duration, cpu):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        rc, text, cpu_s, sys_s = run_client(["taskset", "-c", cpu, binary, "-q", "-t", "1", "-c", str(conns),
                                             "-d", duration, "--json", f.name, url])
        try:
            result = json.load(open(f.name))
        except ValueError:
            die(f"loadgen failed ({rc}): {text}")
    return {"requests": result["requests"], "rps": result["throughput_rps"], "cpu_s": cpu_s, "sys_s": sys_s,
            "errors": "" if result["errors"]["total"] == 0 else json.dumps(result["errors"])}


def machine(build):
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return dict(machine_json.describe(Path(build), Path(ROOT)), wrk=wrk_version.strip())


def main():
    args = parse_args()
    if args.repeats < 1:
        die("--repeats must be at least 1")
    try:
        conn_counts = [int(c) for c in args.connections.split(",")]
    except ValueError:
        die(f"bad --connections {args.connections!r}")
    loadgen = args.loadgen or str(find_binary(Path(args.build), "loadgen") or "")
    if not os.access(loadgen, os.X_OK):
        die(f"no loadgen at {loadgen} (build it, or give --loadgen)")
    if not shutil.which("wrk"):
        die("wrk is not installed: run `make deps` (Debian package wrk)")
    server = args.server
    if server == "auto":
        server = "epoll" if find_binary(Path(args.build), "server-epoll") else "nginx"
    os.makedirs(args.out, exist_ok=True)

    rows = []
    for conns in conn_counts:
        samples = {"wrk": [], "loadgen": []}
        for rep in range(args.repeats):
            # Alternate the order, so a machine that drifts does not favour one tool.
            order = ["wrk", "loadgen"] if rep % 2 == 0 else ["loadgen", "wrk"]
            for tool in order:
                with Server(server, args.build, args.server_cpu) as s:
                    url = f"http://127.0.0.1:{s.port}{args.path}"
                    r = (run_wrk(url, conns, args.duration, args.client_cpu) if tool == "wrk"
                         else run_loadgen(loadgen, url, conns, args.duration, args.client_cpu))
                r["cpu_us_per_req"] = r["cpu_s"] * 1e6 / max(1, r["requests"])
                r["sys_share"] = r["sys_s"] / r["cpu_s"] if r["cpu_s"] else 0
                samples[tool].append(r)
                print(f"{conns:6d} conns  {tool:8s} {r['rps']:12.0f} req/s  {r['cpu_us_per_req']:6.2f} us CPU/req"
                      f"  ({100 * r['sys_share']:.0f}% kernel) {r['errors']}", flush=True)
        row = {"connections": conns, "server": server}
        for tool in ("wrk", "loadgen"):
            row[f"{tool}_rps"] = statistics.median(x["rps"] for x in samples[tool])
            row[f"{tool}_cpu_us_per_req"] = statistics.median(x["cpu_us_per_req"] for x in samples[tool])
            row[f"{tool}_kernel_share"] = statistics.median(x["sys_share"] for x in samples[tool])
            row[f"{tool}_errors"] = "; ".join(x["errors"] for x in samples[tool] if x["errors"])
        row["rps_ratio"] = row["loadgen_rps"] / row["wrk_rps"]
        row["cpu_ratio"] = row["loadgen_cpu_us_per_req"] / row["wrk_cpu_us_per_req"]
        row["samples"] = samples
        rows.append(row)

    info = machine(args.build)
    info.update({"server": server, "server_cpu": args.server_cpu, "client_cpu": args.client_cpu,
                 "duration": args.duration, "repeats": args.repeats, "path": args.path})
    with open(os.path.join(args.out, "machine.json"), "w") as f:
        json.dump(info, f, indent=1)
    with open(os.path.join(args.out, "compare.json"), "w") as f:
        json.dump({"machine": info, "rows": rows}, f, indent=1)
    columns = ["connections", "server", "wrk_rps", "loadgen_rps", "rps_ratio", "wrk_cpu_us_per_req",
               "loadgen_cpu_us_per_req", "cpu_ratio", "wrk_kernel_share", "loadgen_kernel_share"]
    with open(os.path.join(args.out, "compare.csv"), "w") as f:
        f.write(",".join(columns) + "\n")
        for row in rows:
            f.write(",".join(str(row[c]) for c in columns) + "\n")
    lines = [
        "# loadgen vs wrk",
        "",
        f"Server: {server} on CPU {args.server_cpu}; client on CPU {args.client_cpu}, one thread; "
        f"{args.duration} per run, median of {args.repeats}; path {args.path}.",
        f"Machine: {info['cpu_model']}, {info['cores_online']} cores, kernel {info['kernel']}; {info['wrk']}; {info['date']}.",
        "Client CPU is user + system time from wait4(); per request = CPU / requests answered.",
        "Ratios are loadgen / wrk: requests/s >= 1 and CPU/request <= 1 are the goal.",
        "",
        "| connections | wrk req/s | loadgen req/s | ratio | wrk CPU us/req | loadgen CPU us/req | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['connections']} | {r['wrk_rps']:.0f} | {r['loadgen_rps']:.0f} | {r['rps_ratio']:.2f} "
                     f"| {r['wrk_cpu_us_per_req']:.2f} | {r['loadgen_cpu_us_per_req']:.2f} | {r['cpu_ratio']:.2f} |")
    errs = [f"{r['connections']}: wrk {r['wrk_errors'] or 'none'}, loadgen {r['loadgen_errors'] or 'none'}"
            for r in rows if r["wrk_errors"] or r["loadgen_errors"]]
    if errs:
        lines += ["", "Errors: " + "; ".join(errs)]
    lines += ["", "Noisy-machine caveat: a shared machine moves these by 10-20% between runs; "
              "compare the ratios, not the absolute figures, and rerun with --repeats 3 for a median."]
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
