"""An on-CPU profile of the server over exactly a point's window: `perf
record -e cpu-clock -g` (a software event: it works in a VM without a
hardware PMU), user and kernel stacks, folded by flamegraph.py, drawn as a
zoomable SVG (flamesvg.py) and a PNG (flamepng.py). The point's folder gets
profile.json, profile.folded, profile.svg, profile.png; perf.data is
removed once folded unless kept (it is large and holds nothing more the
report uses).

Stacks are walked with frame pointers (perf's default `-g`): the build
keeps them (CMake's IOMODELS_FRAME_POINTERS, on by default; its cost is in
docs/SPEC.md §6). DWARF unwinding (`--call-graph dwarf`)
would copy 8 KiB of stack per sample: files a hundred times larger and a
perf process busy enough to disturb the point.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable, Optional

from . import flamegraph, flamepng, flamesvg, perfctl, perftarget, procfs, rundelay
from .window import EdgeTimer

FORMAT_VERSION = 1
FILE = "profile.json"
# Samples a second per CPU: enough for a few thousand samples over a
# point's 1.5 to 3 s window; perf's default 4000 costs twice as much.
FREQUENCY_HZ = 1999
# What perf record does after the window that this use does not need:
# collecting build-ids (-B) into ~/.debug (-N; perf script runs at once,
# on the binaries that ran) and its BPF side-band thread. Measured here:
# it then exits 0.2 s after SIGINT instead of 0.8 s, at every profiled point.
RECORD_QUICK_EXIT = ["-B", "-N", "--no-bpf-event"]


class Recording(perfctl.PointFile):
    """Use as perfcount.Counting: start() before the load, timer(window)
    for the edges, finish(window, title) after; never raises for perf's
    sake (status "skipped" or "failed" with the reason instead)."""
    FILE = FILE

    def __init__(self, pid: int, out_dir: Path, server_cpus="", perf_cpus: str = "",
                 availability: Optional[perfctl.Availability] = None, perf: str = "perf",
                 cgroup: Optional[str] = None, make_cgroup: bool = True,
                 frequency_hz: int = FREQUENCY_HZ, keep_data: bool = False,
                 pids: Optional[Callable[[], list[int]]] = None):
        self.pid = pid
        self.server_pids = pids or (lambda: procfs.children(pid))
        self.out_dir = Path(out_dir)
        self.cpus = rundelay.parse_cpus(server_cpus) if server_cpus else []
        self.perf_cpus = perf_cpus
        self.avail = availability or perfctl.probe(perf)
        self._cgroup, self._make_cgroup = cgroup, make_cgroup
        self.frequency_hz = frequency_hz
        self.keep_data = keep_data
        self.data = self.out_dir / "perf.data"
        self.perf: Optional[perfctl.WindowedPerf] = None
        self.doc: dict = {"format_version": FORMAT_VERSION, "status": "skipped",
                          "reason": self.avail.skip_line() if not self.avail.profiling else "",
                          "event": "cpu-clock", "frequency_hz": frequency_hz,
                          "call_graph": "fp", "perf_version": self.avail.version}

    def start(self) -> bool:
        if not self.avail.profiling:
            return False
        target = perftarget.choose(self.server_pids(), self.cpus, self._cgroup,
                                   self._make_cgroup)
        self.doc["target"] = target.as_json()
        self.perf = perfctl.WindowedPerf(
            self.avail, target, ["record", "-o", str(self.data), "-F", str(self.frequency_hz), "-g",
                                 "--quiet", *RECORD_QUICK_EXIT],
            ["-e", "cpu-clock"], self.out_dir, "profile", self.perf_cpus)
        if not self.perf.start():
            self.doc.update(status="failed", reason=self.perf.failure)
            self.perf = None
            return False
        self.doc["argv"] = self.perf.argv
        return True

    def timer(self, window) -> EdgeTimer:
        return EdgeTimer(window, self.open_window, self.close_window)

    def open_window(self) -> None:
        if self.perf:
            self.perf.enable()

    def close_window(self) -> None:
        if self.perf:
            self.perf.disable()

    def finish(self, window=None, title: str = "", subtitle: str = "") -> dict:
        """Stops perf, folds its stacks, draws them, writes profile.json."""
        if self.perf:
            code = self.perf.stop(timeout_s=120)
            self.doc.update(self.perf.edge_fields())
            if self.perf.failure:
                self.doc.update(status="failed", reason=self.perf.failure)
            elif "enabled_ns" not in self.perf.edges:
                self.doc.update(status="failed",
                                reason="the window never opened (the point stopped before it)")
                self.data.unlink(missing_ok=True)
            elif not self.data.exists():
                self.doc.update(status="failed", reason=f"perf record wrote no data (exit {code})")
            else:
                self._fold_and_draw(title, subtitle)
        return self.write(window)

    def _fold_and_draw(self, title: str, subtitle: str) -> None:
        with open(self.out_dir / "profile.script.err", "wb") as err:
            proc = subprocess.Popen(flamegraph.script_argv(self.avail.perf, self.data),
                                    stdout=subprocess.PIPE, stderr=err, text=True,
                                    errors="replace")
            folded = flamegraph.fold(proc.stdout)
            code = proc.wait()
        if not folded:
            self.doc.update(status="failed",
                            reason=f"no samples in the window (perf script exit {code})")
            return
        folded_path = self.out_dir / "profile.folded"
        flamegraph.write_folded(folded, folded_path)
        cpu_s = sum(folded.values()) / 1e9
        sub = subtitle or f"{cpu_s:.3f} s of on-CPU samples"
        flamesvg.write(folded, self.out_dir / "profile.svg", title, sub)
        flamepng.write(folded, self.out_dir / "profile.png", title, sub)
        self.doc.update(status="ok", reason="", samples_cpu_s=round(cpu_s, 6),
                        categories_ns=flamegraph.by_category(folded),
                        files={"folded": "profile.folded", "svg": "profile.svg",
                               "png": "profile.png"})
        if not self.keep_data:
            self.data.unlink(missing_ok=True)


def load(pdir: Path) -> Optional[dict]:
    return perfctl.read_json(Path(pdir) / FILE)
