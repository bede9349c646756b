#!/usr/bin/python3
"""ctest ansible-hosts: deploy/ansible/site.yml for real, over SSH, against
hosts made of network namespaces on this machine.

    deploy/ansible/tests/netns_hosts_test.py BUILD_DIR      (root; exit 77 = skipped)

Four namespaces on a bridge (tests/sshlab.py): a server host and two client
hosts, each running its own sshd with a throwaway host key and authorized
key, and the control machine, where ansible-playbook runs. Then:

1. the playbook with a tiny profile (smoke, hello, epoll, one round: three
   points, two of them split over both clients): it must succeed; every
   merged loadgen.json must equal the sum of its shards (outcomes, status
   and error counts, every histogram bucket); REPORT.md, summary.csv and
   the plots must be drawn; every kernel setting it changed must be back
   and its record gone; nothing but sshd may be left in the namespaces;
2. the playbook with a profile that does not exist: the planning task
   fails after the settings were changed, and the play's `always` part must
   put every one back;
3. the playbook again, its start barrier a minute ahead, killed (SIGINT, as
   Ctrl-C) while the first point's server and loadgen wait for it: the
   settings are then still changed and those processes still run;
   cleanup.yml must stop them all and put every setting back.

Afterwards (also when a check fails) every namespace, process, key and
temporary folder of the test is removed, and that is checked too
(SIGTERM and Ctrl-C too; after a SIGKILL the next run removes what is
left: namespaces and temporary folders named with a pid that no longer
runs). IOM_TEST_KEEP=DIR copies the folder, keys left out, to DIR first;
IOM_TEST_SCENARIOS=hello,idle,stall measures more scenarios. Traffic
stays on the test's bridge (198.18.0.0/24 inside its namespaces).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent
REPO = DEPLOY.parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(HERE))

from benchlib import cpus, merge, netns  # noqa: E402
import sshlab  # noqa: E402

SKIP = 77
HOSTS = ["srv", "b1", "b2"]
# Values the namespaces start with (a stock Debian 12's), so that the
# playbook has something to change and to put back.
BEFORE = {
    "srv": {"net.core.somaxconn": "4096", "net.ipv4.tcp_max_syn_backlog": "512"},
    "b1": {"net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.tcp_tw_reuse": "2"},
    "b2": {"net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.tcp_tw_reuse": "2"},
}
PLAY_TIMEOUT_S = 240
# IOM_TEST_SCENARIOS=hello,idle,stall for a longer look by hand; the checks
# below expect the three hello points and ignore the others' count.
SCENARIOS = os.environ.get("IOM_TEST_SCENARIOS", "hello")
OUTCOME_KEYS = ("measured", "answered_2xx", "answered_other", "timed_out", "open_at_end", "never_sent")


class Check:
    def __init__(self):
        self.failures: list[str] = []

    def __call__(self, ok: bool, what: str) -> bool:
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failures.append(what)
        return ok


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, sshd on their addresses, kernel settings)")
        return SKIP
    build = Path(argv[0] if argv else REPO / "build").resolve()
    missing = [t for t in ("ansible-playbook", "ssh", "ssh-keygen", sshlab.SSHD, "ip", "sysctl")
               if not sshlab.have(t)]
    if missing:
        print(f"FAIL: missing {', '.join(missing)}: scripts/install-deps.sh installs them")
        return 1
    check = Check()
    remove_stale()
    tmp = Path(tempfile.mkdtemp(prefix=f"iom-ans-{os.getpid()}-"))
    async_before = _listing(Path("/root/.ansible_async"))
    try:
        with sshlab.SshLab(tmp, HOSTS) as lab:
            inventory = _inventory(lab, tmp)
            for name, values in BEFORE.items():
                for key, value in values.items():
                    lab.set_sysctl(name, key, value)
            for step in (full_run, failed_run, killed_run):
                try:
                    step(lab, tmp, inventory, build, check)
                except (OSError, ValueError, KeyError) as e:   # a file missing or malformed
                    check(False, f"{step.__name__}: {type(e).__name__}: {e}")
    except sshlab.LabError as e:
        check(False, f"the lab: {e}")
    finally:
        keep = os.environ.get("IOM_TEST_KEEP")
        if keep:     # for a look at the run folders and logs afterwards
            shutil.copytree(tmp, Path(keep) / tmp.name, ignore=shutil.ignore_patterns("*key*", "cp"),
                            symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    left = [ns for ns in netns.our_namespaces() if ns.startswith(f"iom-{os.getpid()}-")]
    check(not left, f"no namespace of the test is left ({', '.join(left) or 'none'})")
    strays = [p for p in _all_pids() if str(tmp) in sshlab.cmdline(p)]
    check(not strays, f"no process of the test is left ({strays or 'none'})")
    check(not tmp.exists(), "its temporary folder (keys, inventory, run folders) is removed")
    check(_listing(Path("/root/.ansible_async")) == async_before, "nothing was left in /root/.ansible_async")
    if check.failures:
        print(f"{len(check.failures)} check(s) failed")
        return 1
    print("ansible-hosts: all checks passed")
    return 0


def remove_stale() -> None:
    """What a test run killed with SIGKILL left (nothing else can stop it
    cleaning up): its namespaces, with every process inside them (sshd,
    the helpers), and its temporary folder."""
    netns.cleanup_stale()
    for folder in Path(tempfile.gettempdir()).glob("iom-ans-*-*"):
        pid = folder.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _inventory(lab: sshlab.SshLab, tmp: Path) -> Path:
    _topo, split = cpus.from_machine()
    lines = ["[server]", _host(lab, tmp, "srv", f"iom_server_cpus={cpus.format_list(split.server)}"),
             "[clients]"]
    lines += [_host(lab, tmp, n, f"iom_client_cpus={cpus.format_list(split.client)}") for n in HOSTS[1:]]
    lines += ["[all:vars]", "ansible_user=root", "ansible_python_interpreter=/usr/bin/python3",
              "ansible_pipelining=true", f"ansible_ssh_private_key_file={lab.key}",
              f"ansible_ssh_common_args='-F /dev/null -o UserKnownHostsFile={lab.known_hosts} "
              "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'"]
    path = tmp / "inventory.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def _host(lab: sshlab.SshLab, tmp: Path, name: str, extra: str) -> str:
    # The hosts share this machine's files: each gets folders of its own.
    root = tmp / "hosts" / name
    return (f"{name} ansible_host={lab.address(name)} iom_remote_dir={root}/iomodels "
            f"ansible_remote_tmp={root}/ansible-tmp ansible_async_dir={root}/ansible-async {extra}")


def _play(lab, tmp: Path, inventory: Path, build: Path, playbook: str, run_id: str, log: Path,
          wait: bool = True, extra: tuple = ()):
    (tmp / "none.cfg").write_text("# no ansible.cfg of the machine or the user applies\n")
    env = dict(os.environ, ANSIBLE_HOME=str(tmp / "ansible-home"),
               ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-home" / "tmp"),
               ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp / "cp"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_CONFIG=str(tmp / "none.cfg"))
    argv = lab.control_wrap([
        "ansible-playbook", "-i", str(inventory), str(DEPLOY / playbook),
        "-e", "iom_profile=smoke", "-e", f"iom_scenarios={SCENARIOS}", "-e", "iom_models=epoll",
        "-e", "iom_repeats=1", "-e", f"iom_build={build}", "-e", f"iom_out={tmp / 'results'}",
        "-e", f"iom_run_id={run_id}", "-e", f"iom_bundle_path={tmp / 'bundle.tgz'}", *extra])
    out = open(log, "wb")
    proc = subprocess.Popen(argv, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    if not wait:
        return proc
    try:
        return proc.wait(PLAY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return f"timed out after {PLAY_TIMEOUT_S} s"


def full_run(lab, tmp: Path, inventory: Path, build: Path, check: Check) -> None:
    log = tmp / "run1.log"
    rc = _play(lab, tmp, inventory, build, "site.yml", "run1", log)
    if not check(rc == 0, f"site.yml succeeds (exit {rc})"):
        print(log.read_text(errors="replace")[-6000:])
    run = tmp / "results" / "run1"
    for name in ("REPORT.md", "summary.csv", "plan.json", "machine.json", "notices.json"):
        check((run / name).is_file(), f"{name} was written")
    pngs = list((run / "plots").glob("*.png"))
    check(len(pngs) > 0, f"plots were drawn ({len(pngs)} PNG files)")
    report = (run / "REPORT.md").read_text() if (run / "REPORT.md").exists() else ""
    check("hello" in report and "epoll" in report, "REPORT.md speaks of the hello points of epoll")
    points = sorted((run / "points").glob("*__*"))
    hello = [p for p in points if p.name.startswith("hello__")]
    check(len(hello) == 3, f"three hello points ({[p.name for p in hello]})")
    merged = 0
    for pdir in points:
        info = json.loads((pdir / "point.json").read_text())
        check(info.get("status") == "ok", f"{pdir.name}: status ok ({info.get('status')}: {info.get('reason')})")
        # Each host read its counters at the window's edges: the clients'
        # from the loadgen's window line, the server's at the shared barrier.
        acc = json.loads((pdir / "accounting.json").read_text()) if (pdir / "accounting.json").exists() else {}
        check((acc.get("client") or {}).get("cpu_s") is not None
              and (acc.get("server") or {}).get("cpu_s") is not None,
              f"{pdir.name}: accounting.json has the server's and the clients' CPU over the window")
        parts = sorted(pdir.glob("loadgen-*.json"))
        if parts:
            merged += 1
            check_sum(pdir, parts, info, check)
    check(merged >= 2, f"points were split over both client hosts ({merged})")
    settings_back(lab, check, "after the run")
    only_sshd_left(lab, check, "after the run")


def check_sum(pdir: Path, parts: list[Path], info: dict, check: Check) -> None:
    if not check((pdir / "loadgen.json").exists(), f"{pdir.name}: the shards were merged into loadgen.json"):
        return
    whole = json.loads((pdir / "loadgen.json").read_text())
    shards = [json.loads(p.read_text()) for p in parts]
    check(sorted(s["shard"]["index"] for s in shards) == [1, 2] and whole.get("merged_from") == 2,
          f"{pdir.name}: shards 1/2 and 2/2 merged")
    hosts = sorted(p.name for p in (pdir / "hosts").iterdir() if p.is_dir())
    check(hosts == ["b1", "b2", "srv"], f"{pdir.name}: results came from srv, b1 and b2 ({hosts})")
    c = merge.check(whole, shards)
    check(not c["mismatches"], f"{pdir.name}: requests, status, errors and histogram buckets are the "
                               f"sum of the shards ({'; '.join(c['mismatches']) or c['parts_requests']})")
    bad = [k for k in OUTCOME_KEYS if whole["outcomes"][k] != sum(s["outcomes"][k] for s in shards)]
    bad += [f"failed.{k}" for k in whole["outcomes"]["failed"]
            if whole["outcomes"]["failed"][k] != sum(s["outcomes"]["failed"][k] for s in shards)]
    check(not bad, f"{pdir.name}: every outcome is the sum of the shards' ({', '.join(bad) or 'all equal'})")
    check(whole["outcomes"]["answered_2xx"] > 0, f"{pdir.name}: requests were answered")
    check((info.get("merge_check") or {}).get("mismatches") == [],
          f"{pdir.name}: point.json records the merge check")


def failed_run(lab, tmp: Path, inventory: Path, build: Path, check: Check) -> None:
    """A task that fails after the settings changed (here: the planner,
    given a profile that does not exist): the play's `always` must put
    every setting back on every host."""
    log = tmp / "failed.log"
    rc = _play(lab, tmp, inventory, build, "site.yml", "failed", log, extra=("-e", "iom_profile=nosuch"))
    text = log.read_text(errors="replace")
    check(rc not in (0, None) and "unknown profile 'nosuch'" in text,
          f"a run with a failing task fails, and says why (exit {rc})")
    check("Put the kernel settings back" in text, "its `always` part ran")
    settings_back(lab, check, "after the failed run")
    only_sshd_left(lab, check, "after the failed run")


def killed_run(lab, tmp: Path, inventory: Path, build: Path, check: Check) -> None:
    log = tmp / "run2.log"
    # The barrier a minute ahead: the server and the loadgens wait for it,
    # so they are still running when cleanup.yml comes (left alone, each
    # would end by itself at its `timeout`).
    proc = _play(lab, tmp, inventory, build, "site.yml", "run2", log, wait=False,
                 extra=("-e", "iom_start_lead_s=60"))
    # Wait until the first point is under way: its server and its loadgen
    # run (hello at 1 connection: one shard, on b1).
    pids = [tmp / "hosts" / h / "iomodels" / "pids" / f"{p}.pid" for h, p in (("srv", "server"), ("b1", "loadgen"))]
    deadline = time.monotonic() + PLAY_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None and not all(p.exists() for p in pids):
        time.sleep(0.05)
    if not check(all(p.exists() for p in pids), "the second run got to a point with its server and loadgen running"):
        print(log.read_text(errors="replace")[-4000:])
    os.killpg(proc.pid, signal.SIGINT)          # Ctrl-C at the terminal
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    record = tmp / "hosts" / "srv" / "iomodels" / "settings-before.json"
    check(record.exists() and lab.sysctl("srv", "net.core.somaxconn") == "65535",
          "after the kill the server host's settings are still changed and recorded")
    running = [p.parent.parent.parent.name + "/" + p.stem for p in pids if _recorded_alive(p)]
    check(len(running) == 2, f"after the kill the server and the loadgen still run ({running})")
    rc = _play(lab, tmp, inventory, build, "cleanup.yml", "run2", tmp / "cleanup.log")
    if not check(rc == 0, f"cleanup.yml succeeds (exit {rc})"):
        print((tmp / "cleanup.log").read_text(errors="replace")[-4000:])
    settings_back(lab, check, "after cleanup.yml")
    only_sshd_left(lab, check, "after cleanup.yml")
    left = [p for h in HOSTS for p in (tmp / "hosts" / h / "iomodels" / "pids").glob("*.pid")]
    check(not left, f"no pid file is left ({[str(p) for p in left]})")


def settings_back(lab, check: Check, when: str) -> None:
    for name, values in BEFORE.items():
        now = {k: lab.sysctl(name, k) for k in values}
        check(now == values, f"{when}: {name}'s settings are back ({now})")
        record = lab.tmp / "hosts" / name / "iomodels" / "settings-before.json"
        check(not record.exists(), f"{when}: {name}'s settings record is removed")


def only_sshd_left(lab, check: Check, when: str) -> None:
    # Ansible's async wrapper looks at its job every 5 s: it may take that
    # long to notice the job ended. Our helpers, servers and loadgens have
    # ended already (stop_run.py waits for them).
    deadline = time.monotonic() + 12
    while True:
        others = {name: [(p, c) for p, c in ((p, sshlab.cmdline(p)) for p in lab.pids_in(name))
                         # sshd and the sessions of Ansible's persistent connections
                         if c and not c.startswith(("sshd", sshlab.SSHD))] for name in HOSTS}
        if not any(others.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for name in HOSTS:
        check(not others[name], f"{when}: nothing but sshd runs on {name} ({others[name] or 'none'})")


def _recorded_alive(pid_file: Path) -> bool:
    try:
        data = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return False
    return sshlab.cmdline(data["pid"]) != "" and stop_run_alive(data["pid"], data["start"])


def stop_run_alive(pid: int, start: str) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start and fields[0] != "Z"


def _listing(path: Path) -> list[str]:
    return sorted(os.listdir(path)) if path.is_dir() else []


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
