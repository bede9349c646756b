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
from .profiles import PERF_COUNTED, wants_profile
from .window import EdgeTimer

# The scenarios whose points are counted (profiles.py says why these).
COUNTED = PERF_COUNTED
# (scenario, connections) of the flame graphs, first repeat only, not the
# A/A copy (profiles.wants_profile; the bench passes its profile's).
PROFILED = (("hello", 1000), ("sleep", 1000))


def _cgroup_path(ctx) -> Optional[str]:
    group = getattr(ctx, "server_cgroup", None)
    return getattr(group, "path", None) if group else None


class PerfHook:
    def __init__(self, availability: perfctl.Availability, level: str = "light",
                 counted=COUNTED, profiled=PROFILED, whole_cpus: bool = True):
        self.avail = availability
        self.level = level
        # The bench's server has its CPUs to itself: count everything on
        # them, which costs nothing at a context switch (perftarget.py).
        self.whole_cpus = whole_cpus
        self.counted, self.profiled = set(counted), {tuple(p) for p in profiled}
        self._tools: dict = {}       # point folder -> [Counting, Recording?]
        self._timers: dict = {}
        self._keeper: Optional[perfcount.TracepointKeeper] = None
        self.keeper_note = ""

    def _keep_tracepoints(self, ctx) -> None:
        """The first counted point starts the run's TracepointKeeper (in
        the run's folder: its log), so that no point waits for the kernel
        to release the tracepoints."""
        if self._keeper is not None or self.keeper_note or not self.avail.counting:
            return
        try:
            keeper = perfcount.TracepointKeeper(self.avail, self.level,
                                                ",".join(map(str, ctx.client_cpus)), ctx.pdir.parent.parent,
                                                whole_cpus=self.whole_cpus)
            failure = "" if keeper.start() else keeper.failure
        except OSError as e:
            failure = str(e)
        if failure:
            # Counting goes on: each point then waits for the release.
            self.keeper_note = f"tracepoints not held between points: {failure}"
            ctx.info["perf_keeper"] = self.keeper_note
        else:
            self._keeper = keeper

    def server_started(self, ctx) -> None:
        pt = ctx.point
        tools = []
        if pt.scenario in self.counted:
            self._keep_tracepoints(ctx)
        common = dict(server_cpus=list(ctx.server_cpus),
                      perf_cpus=",".join(map(str, ctx.client_cpus)), availability=self.avail,
                      cgroup=_cgroup_path(ctx), pids=ctx.server_pids)
        if pt.scenario in self.counted:
            tools.append(perfcount.Counting(ctx.server_pid, ctx.pdir, level=self.level,
                                            whole_cpus=self.whole_cpus, **common))
        if wants_profile(self.profiled, pt):
            tools.append(profilerec.Recording(ctx.server_pid, ctx.pdir, **common))
        for t in tools:
            t.start()
        self._tools[ctx.pdir] = tools

    def window_known(self, ctx) -> None:
        for t in self._tools.get(ctx.pdir, []):
            if isinstance(t, perfcount.Counting) and ctx.window is not None:
                # Only the early reading: the bench calls the edges itself.
                self._timers[ctx.pdir] = EdgeTimer(
                    ctx.window, lambda: None, lambda: None,
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
        w = ctx.window
        pt = ctx.point
        title = f"{getattr(ctx.spec, 'label', '')}: {pt.scenario}, {pt.connections} connections"
        status = {}
        for t in self._tools.pop(ctx.pdir, []):
            doc = t.finish(w, title) if isinstance(t, profilerec.Recording) else t.finish(w)
            status[t.FILE] = doc["status"] + (f": {doc['reason']}" if doc.get("reason") else "")
        if status:
            ctx.info["perf"] = status

    def abort(self) -> None:
        """Ctrl-C, or the run's end: stop every perf still running (the
        points' and the keeper of the tracepoints)."""
        for tools in self._tools.values():
            for t in tools:
                t.abort()
        self._tools.clear()
        if self._keeper is not None:
            self._keeper.stop()
            self._keeper = None
