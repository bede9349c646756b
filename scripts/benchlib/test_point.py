"""The point runner end to end with stand-ins for the servers and the load
generator (tiny Python programs in a fake build folder), so that what it
records can be checked exactly, without a real measurement:

- every model of a point gets the same load generator command line but for
  the target (issue 13), the point's connection policy included;
- the counters are read at the edges of the window the load generator
  announces (never before them), or of an estimated window when it does not;
- a variant on all the server CPUs is pinned to all of them and gets their
  number in its arguments; the one-core models get the first CPU only;
- the models come from the registry, io_uring among them (its probe decides).

    cd scripts && /usr/bin/python3 -m unittest benchlib.test_point -v
"""
from __future__ import annotations

import json
import os
import tempfile
import textwrap
import unittest
from dataclasses import replace
from unittest import mock
from pathlib import Path

from . import cgroups, network, point
from .cpus import CpuSplit
from .models import our_models
from .point import Settings, run_point
from .profiles import Point

SERVER = textwrap.dedent("""\
    #!/usr/bin/python3
    # A stand-in server: listens, announces, accepts, stops on SIGTERM.
    import signal, socket, sys
    if "--probe" in sys.argv:
        sys.exit(0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(sys.argv[sys.argv.index("--port") + 1])
    s = socket.socket(); s.bind(("127.0.0.1", port)); s.listen()
    print(f"listening on 127.0.0.1:{s.getsockname()[1]}", flush=True)
    while True:
        s.accept()
""")

# A stand-in loadgen: announces its window (unless it plays an older
# build, which prints its Running line only), burns a little CPU inside
# it, writes a minimal JSON. With --idle N it holds "N" connections as
# loadgen --idle does: its one line, then silence until SIGTERM.
LOADGEN = textwrap.dedent("""\
    #!/usr/bin/python3
    import json, signal, sys, time
    args = sys.argv[1:]
    def opt(name, default):
        return args[args.index(name) + 1] if name in args else default
    def seconds(text):
        return float(text[:-2]) / 1000 if text.endswith("ms") else float(text[:-1])
    if "--idle" in args:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        n = int(opt("--idle", "0"))
        print(f"holding {n} answered {n}", flush=True)
        while True:
            time.sleep(1)
    warmup, duration = seconds(opt("--warmup", "0ms")), seconds(opt("-d", "1000ms"))
    start = time.monotonic_ns() + int(warmup * 1e9)
    end = start + int(duration * 1e9)
    print("Running test @ " + args[-1], flush=True)
    if not OLD:
        print(f"window monotonic_ns {start} {end}", flush=True)
    while time.monotonic_ns() < start:
        time.sleep(0.005)
    t = time.thread_time()
    while time.thread_time() - t < 0.02:
        pass
    while time.monotonic_ns() < end:
        time.sleep(0.005)
    json.dump({"requests": 100, "throughput_rps": 100 / duration, "duration_s": duration,
               "errors": {"total": 0}, "status": {"200": 100}, "latency_us": {},
               "window": {"start_monotonic_ns": start, "end_monotonic_ns": end}},
              open(opt("--json", "/dev/null"), "w"))
""")


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    os.chmod(path, 0o755)


class PointRunner(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="iomodels-test-point-")
        root = Path(cls.tmp.name)
        cls.build = root / "build"
        cls.build.mkdir()
        for name in ("server-blocking", "server-threaded", "server-epoll", "server-uring"):
            executable(cls.build / name, SERVER)
        executable(cls.build / "loadgen", LOADGEN.replace("OLD", "False"))
        executable(cls.build / "loadgen-old", LOADGEN.replace("OLD", "True"))
        cls.groups, _ = cgroups.setup()
        cls.nets = network.choose("loopback")   # (open_net, notice)

    @classmethod
    def tearDownClass(cls):
        if cls.groups:
            cls.groups.close()
        cls.tmp.cleanup()

    def settings(self, loadgen: str = "loadgen", split: CpuSplit = CpuSplit([0], [1], "default"),
                 method: str = "auto") -> Settings:
        return Settings(self.build / loadgen, split, 20000, self.nets[0],
                        self.groups if method == "auto" else None, method)

    def run_all(self, settings: Settings, pt: Point, specs) -> dict[str, dict]:
        out = {}
        run_dir = Path(self.tmp.name) / f"run-{pt.scenario}-{pt.x:g}"
        for spec in specs:
            p = replace(pt, model=spec.name)
            info = run_point(settings, spec, p, run_dir, run_dir / "points" / p.id)
            self.assertEqual(info["status"], "ok", f"{spec.name}: {info['reason']}")
            out[spec.name] = info
        return out

    def point(self, **kw) -> Point:
        return Point(**{**dict(scenario="hello", model="", x=10, connections=10, path="/hello",
                               warmup_s=0.2, duration_s=0.3), **kw})

    def test_models_from_the_registry_uring_included(self):
        specs, notices = our_models(self.build, profile="quick")
        names = [s.name for s in specs]
        self.assertEqual(names[:5], ["blocking", "threaded-pool0", "threaded-pool64", "epoll",
                                     "epoll-offload2"])
        self.assertIn("uring", names)
        self.assertNotIn("epoll-proc4", names)          # profiles: full only
        self.assertTrue(any("not planned" in n and "epoll-cpusN" in n for n in notices), notices)

    def test_every_model_gets_the_same_loadgen_command_but_the_target(self):
        specs, _ = our_models(self.build, profile="full")
        specs = [s for s in specs if s.serves("hello")]
        self.assertGreaterEqual(len(specs), 5)
        infos = self.run_all(self.settings(), self.point(conn_requests=100), specs)
        commands = {}
        for name, info in infos.items():
            cmd = info["loadgen_command"]
            self.assertIn("--conn-requests", cmd)   # the point's policy, for every model
            commands[name] = tuple("TARGET" if a.startswith("http://") else
                                   "OUT" if a.endswith(".json") else a for a in cmd)
        self.assertEqual(len(set(commands.values())), 1, commands)
        targets = {info["loadgen_command"][-1] for info in infos.values()}
        self.assertEqual(len(targets), len(infos), "each model has its own target")

    def test_counters_read_at_the_announced_window(self):
        specs, _ = our_models(self.build)
        info = self.run_all(self.settings(), self.point(), specs[:1])["blocking"]
        pdir = Path(self.tmp.name) / "run-hello-10" / "points" / info["id"]
        acct = json.loads((pdir / "accounting.json").read_text())
        w = acct["window"]
        self.assertEqual(w["source"], "loadgen-line")
        self.assertEqual((w["start_monotonic_ns"], w["end_monotonic_ns"]),
                         (w["loadgen_reported"]["start_monotonic_ns"],
                          w["loadgen_reported"]["end_monotonic_ns"]))
        self.assertGreaterEqual(w["read_start_ns"], w["start_monotonic_ns"])
        self.assertGreaterEqual(w["read_end_ns"], w["end_monotonic_ns"])
        self.assertFalse(w["cut_short"])
        self.assertEqual(acct["cpus"], {"server": [0], "client": [1]})
        self.assertEqual(sorted(acct["per_cpu"]), ["0", "1"])
        method = self.groups.version if self.groups else None
        if method:
            self.assertEqual(acct["server"]["method"], f"cgroup-v{method}")
            # The stand-in burns 20 ms of CPU inside the window.
            self.assertGreaterEqual(acct["client"]["cpu_s"], 0.02)

    def test_older_loadgen_gets_an_estimated_window(self):
        specs, _ = our_models(self.build)
        info = self.run_all(self.settings("loadgen-old"), self.point(x=11), specs[:1])["blocking"]
        pdir = Path(self.tmp.name) / "run-hello-11" / "points" / info["id"]
        acct = json.loads((pdir / "accounting.json").read_text())
        self.assertEqual(acct["window"]["source"], "estimated")
        self.assertGreaterEqual(acct["window"]["read_start_ns"], acct["window"]["start_monotonic_ns"])

    def test_idle_connections_held_by_loadgen_processes(self):
        """loadgen --idle holds them: past PER_HOLDER connections, several
        processes, each but the first from its own loopback address; their
        lines are summed into the point's marks, and all are stopped."""
        specs, _ = our_models(self.build)
        with mock.patch.object(point, "PER_HOLDER", 4):
            info = self.run_all(self.settings(), self.point(scenario="idle", x=10, connections=1,
                                                            idle=10), specs[:1])["blocking"]
        commands = info["idle_commands"]
        self.assertEqual([c[c.index("--idle") + 1] for c in commands], ["4", "3", "3"])
        self.assertEqual([c[c.index("--source-addrs") + 1] if "--source-addrs" in c else None
                          for c in commands], [None, "127.0.0.2", "127.0.0.3"])
        self.assertTrue(all(c[0] == str(self.build / "loadgen") and c[-1].endswith("/hello")
                            for c in commands))
        self.assertEqual((info["marks"]["idle_held"], info["marks"]["idle_answered"]), (10, 10))
        self.assertNotIn("idle_problem", info["marks"])
        self.assertEqual([e["status"] for e in info["idle_exits"]], [0, 0, 0])

    def test_without_cgroups_the_method_is_per_process(self):
        specs, _ = our_models(self.build)
        info = self.run_all(self.settings(method="schedstat"), self.point(x=12), specs[:1])["blocking"]
        pdir = Path(self.tmp.name) / "run-hello-12" / "points" / info["id"]
        acct = json.loads((pdir / "accounting.json").read_text())
        self.assertEqual(acct["server"]["method"], "schedstat")
        self.assertEqual(acct["client"]["method"], "schedstat")
        self.assertGreaterEqual(acct["client"]["cpu_s"], 0.02)
        self.assertEqual(acct["server"]["memory_method"], "vmhwm")

    def test_all_cpus_variant_pinned_to_the_whole_server_set(self):
        split = CpuSplit([0, 1], [1], "given")      # overlapping, for the pinning only
        specs, _ = our_models(self.build, server_cpus=2)
        by_name = {s.name: s for s in specs}
        self.assertEqual(by_name["epoll-cpus2"].make_argv(1, Path("/tmp"))[-2:], ["--reactors", "2"])
        infos = self.run_all(self.settings(split=split), self.point(x=13),
                             [by_name["epoll-cpus2"], by_name["epoll"]])
        self.assertEqual(infos["epoll-cpus2"]["server_argv"][:3], ["taskset", "-c", "0-1"])
        self.assertEqual(infos["epoll"]["server_argv"][:3], ["taskset", "-c", "0"])
        self.assertEqual(infos["epoll-cpus2"]["cpus"]["server"], [0, 1])

    def test_hooks_called_at_the_point_s_moments(self):
        seen = []

        class Recorder:
            def __getattr__(self, moment):
                def call(ctx):
                    seen.append((moment, ctx.window is not None, ctx.server_cpus,
                                 ctx.server_cgroup is not None, bool(ctx.server_pids())))
                return call

        class Broken:
            def window_start(self, ctx):
                raise RuntimeError("perf went away")

        settings = self.settings()
        settings.hooks = [Recorder(), Broken()]
        specs, _ = our_models(self.build)
        info = self.run_all(settings, self.point(x=14), specs[:1])["blocking"]
        self.assertEqual([m for m, *_ in seen],
                         ["server_started", "window_known", "window_start", "window_end", "point_done"])
        self.assertEqual([w for _, w, *_ in seen], [False, True, True, True, True])
        self.assertTrue(all(cpus == [0] for _, _, cpus, *_ in seen))
        self.assertTrue(all(has == (self.groups is not None) for *_, has, _ in seen))
        self.assertTrue(all(alive for *_, alive in seen[:4]), "the server's pids while it runs")
        self.assertEqual(info["hook_errors"], ["Broken.window_start: RuntimeError: perf went away"])


class MissingPeers(unittest.TestCase):
    def test_a_missing_peer_is_named_first_in_the_report_with_its_command(self):
        from . import peers, report
        with tempfile.TemporaryDirectory() as tmp:
            _, _, missing = peers.peer_specs(Path(tmp), Path(tmp))   # no floor-server there
            peers.save_missing(Path(tmp), missing)
            line = report._missing_peers(Path(tmp))
            self.assertEqual(len(line), 1)
            self.assertIn("floor", line[0])
            self.assertIn("`make build`", line[0])
            peers.save_missing(Path(tmp), [])
            self.assertEqual(report._missing_peers(Path(tmp)), [])


if __name__ == "__main__":
    unittest.main()
