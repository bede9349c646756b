"""The moments of a point where other measurements plug in (issue 17's
syscall counting and profiles): each gets the same window and CPU sets as
the accounting, and the server's cgroup and pids.

A hook is an object with any of these methods, each taking a PointContext:

  server_started  the server listens; nothing measured yet
  window_known    the measured window's edges are known (ctx.window), the
                  bench is about to sleep until its start: attach here
                  (perf stat -G ctx.server_cgroup.path ... needs a moment)
  window_start    the counters were read at the window's start
  window_end      the counters were read at the window's end
  point_done      the server has stopped; write your files into ctx.pdir

Settings(hooks=[...]) lists them. A hook that raises does not lose the
point: the error goes to point.json's `hook_errors`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional


@dataclass
class PointContext:
    pdir: Path
    point: object                            # profiles.Point
    spec: object                             # models.ServerSpec
    server_pid: int
    server_pids: Callable[[], list[int]]     # every process of the server, now
    server_cgroup: Optional[object]          # cgroups.Group, or None (no cgroup here)
    server_cpus: list[int]
    client_cpus: list[int]
    window: Optional[object] = None          # accounting.Window once known
    info: dict = field(default_factory=dict)  # point.json: a hook may add its keys


def call(hooks, moment: str, ctx: PointContext) -> None:
    for hook in hooks:
        fn = getattr(hook, moment, None)
        if fn is None:
            continue
        try:
            fn(ctx)
        except Exception as e:  # a hook must not lose the point
            ctx.info.setdefault("hook_errors", []).append(
                f"{type(hook).__name__}.{moment}: {type(e).__name__}: {e}")
