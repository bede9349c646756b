"""Issue 17 in every point of the bench: a point hook (the bench's hooks.py
moments) that counts at the light level in the headline scenarios and
records a profile at the reference points.

  hook = perfhooks.PerfHook(perfctl.probe("perf", perfcount.TRACEPOINTS))
  Settings(..., point_hooks=[hook])

Moments used (each gets the point's context: its folder, point, server
pid(s) and cgroup, CPU sets, window):
  server_started  perf attaches, events disabled (by the server's cgroup,
                  else its pids: later threads and processes included)
  window_known    the schedstat reading of the window's end is scheduled
                  a little ahead of it (rundelay.py says why)
  window_start    events on, first readings
  window_end      events off, last readings
  point_done      perfcount.json and profile.json into the point's folder
"""
from __future__ import annotations

from typing import Optional

from . import perfcount, perfctl, profilerec
from .window import EdgeTimer, Window

# The scenarios whose points are counted (their per-request figures are
# the report's): the closed-loop sweeps.
COUNTED = ("hello", "sleep", "cpu")
# (scenario, connections) of the flame graphs, first repeat only.
PROFILED = (("hello", 1000), ("sleep", 1000))


def _window(w) -> Window:
    """The bench's window object as window.Window (same instants)."""
    return Window(w.start_ns, w.end_ns, getattr(w, "source", "given"))


def _cgroup_path(ctx) -> Optional[str]:
    group = getattr(ctx, "server_cgroup", None)
    return getattr(group, "path", None) if group else None


class PerfHook:
    def __init__(self, availability: perfctl.Availability, level: str = "light",
                 counted=COUNTED, profiled=PROFILED):
        self.avail = availability
        self.level = level
        self.counted, self.profiled = set(counted), set(profiled)
        self._tools: dict = {}       # point folder -> [Counting, Recording?]
        self._timers: dict = {}

    def server_started(self, ctx) -> None:
        pt = ctx.point
        tools = []
        common = dict(server_cpus=list(ctx.server_cpus),
                      perf_cpus=",".join(map(str, ctx.client_cpus)), availability=self.avail,
                      cgroup=_cgroup_path(ctx), pids=ctx.server_pids)
        if pt.scenario in self.counted:
            tools.append(perfcount.Counting(ctx.server_pid, ctx.pdir, level=self.level, **common))
        if (pt.scenario, pt.connections) in self.profiled and getattr(pt, "repeat", 0) == 0:
            tools.append(profilerec.Recording(ctx.server_pid, ctx.pdir, **common))
        for t in tools:
            t.start()
        self._tools[ctx.pdir] = tools

    def window_known(self, ctx) -> None:
        for t in self._tools.get(ctx.pdir, []):
            if isinstance(t, perfcount.Counting) and ctx.window is not None:
                # Only the early reading: the bench calls the edges itself.
                self._timers[ctx.pdir] = EdgeTimer(
                    _window(ctx.window), lambda: None, lambda: None,
                    before_close=t.read_delay, lead_ns=t.read_lead_ns).start()

    def window_start(self, ctx) -> None:
        for t in self._tools.get(ctx.pdir, []):
            t.open_window()

    def window_end(self, ctx) -> None:
        timer = self._timers.pop(ctx.pdir, None)
        if timer:
            timer.close_now()
            timer.join(10)
        for t in self._tools.get(ctx.pdir, []):
            t.close_window()

    def point_done(self, ctx) -> None:
        w = _window(ctx.window) if ctx.window is not None else None
        pt = ctx.point
        title = f"{getattr(ctx.spec, 'label', '')}: {pt.scenario}, {pt.connections} connections"
        status = {}
        for t in self._tools.pop(ctx.pdir, []):
            doc = t.finish(w, title) if isinstance(t, profilerec.Recording) else t.finish(w)
            status[t.FILE] = doc["status"] + (f": {doc['reason']}" if doc.get("reason") else "")
        if status:
            ctx.info["perf"] = status

    def abort(self) -> None:
        """Ctrl-C: stop every perf still running."""
        for tools in self._tools.values():
            for t in tools:
                t.abort()
        self._tools.clear()
