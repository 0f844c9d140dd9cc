"""govmomi's vCenter simulator (built by the toolchain) for the live and end-to-end tiers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from providers.vcenter.connection import Endpoint
from tests.support.world.process import Process, free_port, http_ok, unverified_tls
from toolchain.manifest import load, locate


@dataclass
class VCenterTarget:
    """Where a live test talks to: the simulator or a real vCenter."""

    address: str
    port: int
    username: str
    password: str = field(repr=False)  # a real vCenter's: never in a test report
    insecure: bool
    simulated: bool
    ca_file: str | None = None  # a PEM file of the CA that signed vCenter's certificate
    thumbprint: str | None = None  # pinned alongside the CA

    @property
    def rest_url(self) -> str:
        return f"https://{self.address}:{self.port}/rest"

    @property
    def sdk_url(self) -> str:
        return f"https://{self.address}:{self.port}/sdk"

    def endpoint(self, password: str | None = None) -> Endpoint:
        """The program's own vCenter endpoint for this target (``password`` overrides, e.g. a wrong one)."""
        return Endpoint(
            self.address,
            self.port,
            self.username,
            self.password if password is None else password,
            insecure=self.insecure,
            ca_cert=Path(self.ca_file).read_text() if self.ca_file else None,
            thumbprint=self.thumbprint,
        )


@dataclass
class Vcsim:
    """One simulator process: ``clusters`` per datacenter, ``hosts_per_cluster`` in each.

    ``restart()`` keeps the port (and so the URL); sessions and tags are lost.
    """

    dc: int = 1
    clusters: int = 3
    hosts_per_cluster: int = 2
    standalone_hosts: int = 1
    vms_per_pool: int = 2
    extra_args: list[str] = field(default_factory=list)
    workdir: Path | None = None
    address: str = "127.0.0.1"  # any loopback address: two simulators on two addresses look like two vCenters
    port: int = 0
    process: Process | None = None

    def start(self, timeout: float = 60.0) -> VCenterTarget:
        self.port = self.port or free_port()
        workdir = self.workdir or Path(tempfile.mkdtemp(prefix="vcsim-"))
        self.process = Process(
            "vcsim",
            [
                str(locate("vcsim")),
                f"-listen={self.address}:{self.port}",
                f"-dc={self.dc}",
                f"-cluster={self.clusters}",
                f"-host={self.hosts_per_cluster}",
                f"-standalone-host={self.standalone_hosts}",
                f"-vm={self.vms_per_pool}",
                "-stdin-watch=false",
                *self.extra_args,
            ],
            workdir,
            # /about answers once the SOAP endpoint and the REST handlers are registered.
            ready=lambda: http_ok(f"https://{self.address}:{self.port}/about", unverified_tls()),
            start_timeout=timeout,
        )
        self.process.start()
        # vcsim takes any login; the name has the form the CSI driver requires of its account.
        return VCenterTarget(
            self.address, self.port, "administrator@vsphere.local", "vcsim-pass", insecure=True, simulated=True
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def restart(self) -> VCenterTarget:
        self.stop()
        return self.start()


def real_vcenter_from_env() -> VCenterTarget | None:
    """A real vCenter when VSPHERE_SERVER, VSPHERE_USER and VSPHERE_PASSWORD are set.

    Its certificate is verified against VSPHERE_CA_FILE (and VSPHERE_THUMBPRINT) when set, else
    against this machine's trust store; VSPHERE_INSECURE=1 skips verification.
    """
    server = os.environ.get("VSPHERE_SERVER")
    user = os.environ.get("VSPHERE_USER")
    password = os.environ.get("VSPHERE_PASSWORD")
    if not (server and user and password):
        return None
    address, _, port = server.partition(":")
    return VCenterTarget(
        address,
        int(port or 443),
        user,
        password,
        # The README documents VSPHERE_INSECURE=1; "true" is accepted too.
        insecure=os.environ.get("VSPHERE_INSECURE", "").lower() in {"1", "true", "yes"},
        simulated=False,
        ca_file=os.environ.get("VSPHERE_CA_FILE") or None,
        thumbprint=os.environ.get("VSPHERE_THUMBPRINT") or None,
    )


def vcsim_certificate() -> str:
    """The PEM certificate vcsim serves, read from the source it was built from (not from the server).

    With no certificate of its own configured, govmomi's simulator serves the self-signed
    LocalhostCert of ``simulator/internal/testcert.go`` (a CA, SANs 127.0.0.1 and ::1), as the
    module the toolchain built vcsim from has it in Go's module cache.
    """
    tool = next(t for t in load() if t.name == "vcsim")
    cache = os.environ.get("GOMODCACHE")
    if not cache:
        go = shutil.which("go")
        if go is None:
            raise FileNotFoundError(
                "vcsim's certificate is read from Go's module cache: set GOMODCACHE or put go on PATH"
            )
        cache = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    source = Path(cache, tool.module, "simulator", "internal", "testcert.go")
    match = re.search(
        r"LocalhostCert = \[\]byte\(`(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?)`",
        source.read_text(),
        re.S,
    )
    if match is None:
        raise ValueError(f"no LocalhostCert in {source}")
    return match.group(1)
