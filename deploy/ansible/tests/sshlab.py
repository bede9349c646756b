"""Hosts for testing the playbook on one machine: network namespaces joined
by a bridge (scripts/benchlib/netns.py's Topology), each running its own
sshd with a host key and an authorized key made for this lab alone.

    with SshLab(Path(tmp), ["srv", "b1", "b2"]) as lab:   # + a control namespace
        lab.run_in_control(["ansible-playbook", ...])

A namespace's address is reachable only from another namespace on the
bridge, so ansible-playbook itself runs in a namespace of its own (the
"control machine"). Every name carries this process's pid; close() stops
every sshd and every process left in the namespaces, deletes them, and
removes what it added to /run (sshd's privilege separation directory,
when it had to make it).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from benchlib import netns

SSHD = "/usr/sbin/sshd"
PRIVSEP = Path("/run/sshd")   # sshd refuses to start without it


class LabError(RuntimeError):
    pass


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done


class SshLab:
    def __init__(self, tmp: Path, names: list[str]):
        self.tmp = tmp
        self.names = names
        # names[0] is the topology's server, names[1:] its first clients, and
        # its last client the control machine.
        self.topo = netns.Topology(len(names))
        self.sshd: dict[str, subprocess.Popen] = {}
        self.made_privsep = False
        self.key = tmp / "client_key"
        self.known_hosts = tmp / "known_hosts"

    # ------------------------------------------------------------ addresses
    def address(self, name: str) -> str:
        i = self.names.index(name)
        return self.topo.server_addr if i == 0 else self.topo.client_addr(i - 1)

    def netns_of(self, name: str) -> str:
        i = self.names.index(name)
        return self.topo.namespaces[1] if i == 0 else self.topo.namespaces[1 + i]

    @property
    def control_netns(self) -> str:
        return self.topo.namespaces[-1]

    def wrap(self, name: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns_of(name), *argv]

    def control_wrap(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.control_netns, *argv]

    # ------------------------------------------------------------ life
    def __enter__(self) -> "SshLab":
        try:
            self.topo.__enter__()
            self._keys()
            for name in self.names:
                self._start_sshd(name)
            for name in self.names:
                self._await_sshd(name)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _keys(self) -> None:
        if not PRIVSEP.exists():
            PRIVSEP.mkdir(mode=0o755)
            self.made_privsep = True
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "iomodels-test", "-f", str(self.key)])
        (self.tmp / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        lines = []
        for name in self.names:
            d = self.tmp / "sshd" / name
            d.mkdir(parents=True)
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(d / "host_key")])
            pub = (d / "host_key.pub").read_text().split()
            lines.append(f"{self.address(name)} {pub[0]} {pub[1]}")
        self.known_hosts.write_text("\n".join(lines) + "\n")

    def _start_sshd(self, name: str) -> None:
        d = self.tmp / "sshd" / name
        (d / "sshd_config").write_text("\n".join([
            f"ListenAddress {self.address(name)}", "Port 22",
            f"HostKey {d / 'host_key'}", f"PidFile {d / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.tmp / 'authorized_keys'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no",
            # The lab's files live in a temporary folder sshd would find too open.
            "StrictModes no", "PrintMotd no", "LogLevel ERROR",
            # Ansible copies files over SFTP.
            "Subsystem sftp internal-sftp", "MaxSessions 50", "MaxStartups 50", ""]))
        log = open(d / "sshd.log", "wb")
        self.sshd[name] = subprocess.Popen(self.wrap(name, [SSHD, "-D", "-e", "-f", str(d / "sshd_config")]),
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()

    def _await_sshd(self, name: str, timeout_s: float = 20.0) -> None:
        probe = self.control_wrap([
            "/usr/bin/python3", "-c",
            "import socket,sys,time\n"
            f"end=time.time()+{timeout_s}\n"
            "while time.time()<end:\n"
            f"  try: socket.create_connection(('{self.address(name)}', 22), 0.5).close(); sys.exit(0)\n"
            "  except OSError: time.sleep(0.1)\n"
            "sys.exit(1)\n"])
        if subprocess.run(probe).returncode != 0 or self.sshd[name].poll() is not None:
            log = (self.tmp / "sshd" / name / "sshd.log").read_text(errors="replace")
            raise LabError(f"sshd of {name} did not come up: {log.strip()[-500:]}")

    def close(self) -> None:
        for proc in self.sshd.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.sshd.clear()
        # Deleting a namespace first stops every process still inside it.
        self.topo.close()
        if self.made_privsep:
            try:
                PRIVSEP.rmdir()
            except OSError:
                pass
            self.made_privsep = False

    # ------------------------------------------------------------ inspection
    def pids_in(self, name: str) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", self.netns_of(name)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split() if p.isdigit()]

    def sysctl(self, name: str, key: str) -> str:
        return " ".join(_run(self.wrap(name, ["sysctl", "-n", key])).stdout.split())

    def set_sysctl(self, name: str, key: str, value: str) -> None:
        _run(self.wrap(name, ["sysctl", "-q", "-w", f"{key}={value}"]))


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def have(tool: str) -> bool:
    return shutil.which(tool) is not None or os.access(tool, os.X_OK)

