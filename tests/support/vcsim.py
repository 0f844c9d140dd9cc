"""Start and stop govmomi's vCenter simulator (built by scripts/setup.sh) for tests and benchmarks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "build" / "bin" / "vcsim"


@dataclass
class VCenterTarget:
    """Where a live test talks to: the simulator or a real vCenter."""

    host: str
    port: int
    username: str
    password: str
    insecure: bool
    simulated: bool

    @property
    def rest_url(self) -> str:
        return f"https://{self.host}:{self.port}/rest"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Vcsim:
    """One simulator process. ``restart()`` keeps the port (and so the URL)."""

    dc: int = 1
    cluster: int = 3
    host: int = 2
    standalone_host: int = 1
    vm: int = 2
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> VCenterTarget:
        if not BINARY.exists():
            raise RuntimeError(f"{BINARY} is missing: run scripts/setup.sh to build the vCenter simulator")
        self.port = self.port or _free_port()
        args = [
            str(BINARY),
            f"-listen=127.0.0.1:{self.port}",
            f"-dc={self.dc}",
            f"-cluster={self.cluster}",
            f"-host={self.host}",
            f"-standalone-host={self.standalone_host}",
            f"-vm={self.vm}",
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"vcsim exited with {self.proc.wait()} before listening")
        info = json.loads(line)
        while time.monotonic() < deadline:  # the listener is up once the line is printed; be sure
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            time.sleep(0.05)
        host, _, port = info["host"].rpartition(":")
        return VCenterTarget(host, int(port), "vcsim-user", "vcsim-pass", insecure=True, simulated=True)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()  # vcsim exits when stdin closes
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self) -> VCenterTarget:
        """Stop and start again on the same port: sessions are lost, the inventory is rebuilt."""
        self.stop()
        return self.start()


def real_vcenter_from_env() -> VCenterTarget | None:
    """A real vCenter when VSPHERE_SERVER, VSPHERE_USER and VSPHERE_PASSWORD are set."""
    server = os.environ.get("VSPHERE_SERVER")
    user = os.environ.get("VSPHERE_USER")
    password = os.environ.get("VSPHERE_PASSWORD")
    if not (server and user and password):
        return None
    host, _, port = server.partition(":")
    return VCenterTarget(
        host,
        int(port or 443),
        user,
        password,
        insecure=os.environ.get("VSPHERE_INSECURE", "false").lower() == "true",
        simulated=False,
    )
