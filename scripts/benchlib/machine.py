"""machine.json: what the numbers of a run came from (SPEC §6: no number is
quoted without its machine)."""
from __future__ import annotations

import os
import platform
import re
import resource
import subprocess
from pathlib import Path


def _first(path: str, key: str, sep: str = ":") -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key) and sep in line:
                return line.split(sep, 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def _cmd(argv: list[str], cwd: Path | None = None) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cmake_cache(build_dir: Path, key: str) -> str:
    cache = build_dir / "CMakeCache.txt"
    if cache.exists():
        m = re.search(rf"^{key}:\w+=(.*)$", cache.read_text(errors="replace"), re.M)
        if m:
            return m.group(1)
    return ""


def describe(build_dir: Path, repo: Path) -> dict:
    compiler = _cmake_cache(build_dir, "CMAKE_CXX_COMPILER")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "hostname": platform.node(),
        "cpu_model": _first("/proc/cpuinfo", "model name"),
        "cores_online": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)),
        "memory_kib": int((_first("/proc/meminfo", "MemTotal") or "0 kB").split()[0]),
        "kernel": platform.release(),
        "os": _first("/etc/os-release", "PRETTY_NAME", "=") or platform.platform(),
        "compiler": compiler,
        "compiler_version": _cmd([compiler, "--version"]).splitlines()[0] if compiler else "",
        "build_type": _cmake_cache(build_dir, "CMAKE_BUILD_TYPE"),
        "build_dir": str(build_dir),
        "git_commit": _cmd(["git", "rev-parse", "HEAD"], cwd=repo),
        "git_dirty": bool(_cmd(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo)),
        "python": platform.python_version(),
        "nofile_limit": [soft, hard],
        "port_range": Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split(),
        "somaxconn": Path("/proc/sys/net/core/somaxconn").read_text().strip(),
        "threads_max": Path("/proc/sys/kernel/threads-max").read_text().strip(),
    }
