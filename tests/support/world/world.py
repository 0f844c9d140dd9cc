"""The local data centre of the end-to-end tier, started in dependency order and stopped in reverse.

    vcsim ── etcd ── kube-apiserver ── controller-manager, scheduler ── kwok
                                   └── node agent (kubelets)  └── the real CPI, started (as its
                                                                  DaemonSet would be) once the stack
                                                                  has deployed its config and account

If any piece fails to start, what started is stopped and the error names the piece with
its log; every process logs under ``<workdir>/logs``. A failed run keeps its work dir.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from providers.vcenter.connection import VCenterConnection, connection_for
from tests.support.vcsim import VCenterTarget, Vcsim

from .controlplane import ControlPlane
from .cpi import cpi_process
from .kubelets import NodeAgent, kubelet_version_in_vcsim, kwok_process, report_guest_to_vcsim, vm_machines
from .process import Process, ProcessError

# The world's own clients (the node agent, the CPI launcher, tests' readers) name themselves, so an
# audit log tells their requests from the program's (the dynamic providers use the same client library).
WORLD_AGENT = "vsphere-k8s-world"


def kube_api(kubeconfig: Path) -> client.ApiClient:
    api: client.ApiClient = kube_config.new_client_from_config(str(kubeconfig))
    api.user_agent = WORLD_AGENT
    return api


@dataclass
class CpiLauncher:
    """Runs the CPI while its ConfigMap and ServiceAccount exist, as its DaemonSet would: started once a
    stack deploys them, and started again from the new ones when a stack (re)creates them (the old
    process's ServiceAccount token dies with its ServiceAccount)."""

    workdir: Path
    api: client.CoreV1Api
    control_plane: ControlPlane
    process: Process | None = None
    error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cpi-launcher", daemon=True)
        self._thread.start()

    def _deployed(self) -> tuple[str, str] | None:
        """The uids of the CPI's ConfigMap and ServiceAccount, None while either is missing."""
        try:
            cm = self.api.read_namespaced_config_map("vsphere-cloud-config", "kube-system")
            sa = self.api.read_namespaced_service_account("cloud-controller-manager", "kube-system")
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return str(cm.metadata.uid if cm.metadata else ""), str(sa.metadata.uid if sa.metadata else "")

    def _run(self) -> None:
        running_for: tuple[str, str] | None = None
        while not self._stop.wait(0.5):
            try:
                deployed = self._deployed()
                if deployed == running_for:
                    continue
                if self.process is not None:
                    self.process.stop()
                    self.process = None
                running_for = deployed
                if deployed is None:
                    continue
                assert self.control_plane.pki is not None
                proc = cpi_process(self.workdir, self.api, self.control_plane.server, self.control_plane.pki.ca.cert)
                proc.start()
                self.process = proc
            except (ProcessError, ApiException) as e:
                self.error = str(e)
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self.process:
            self.process.stop()


@dataclass
class World:
    workdir: Path
    expected_nodes: Callable[[], dict[str, bool]] = dict
    vcsim: Vcsim = field(default_factory=lambda: Vcsim(clusters=3, hosts_per_cluster=2, vms_per_pool=1))
    control_plane: ControlPlane | None = None
    control_plane_type: type[ControlPlane] = ControlPlane  # a subclass may add flags (an audit log)
    vcenter: VCenterTarget | None = None
    agent: NodeAgent | None = None
    cpi: CpiLauncher | None = None
    _started: list[Process] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        assert self.control_plane is not None
        return self.control_plane.admin_kubeconfig

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(kube_api(self.kubeconfig))

    def vsphere_content(self) -> Any:
        assert self.vcenter is not None
        return connection_for(self.vcenter.endpoint()).service_content()

    def start(self) -> World:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.vcsim.workdir = self.workdir
            self.vcenter = self.vcsim.start()
            self.control_plane = self.control_plane_type(self.workdir)
            for proc in self.control_plane.processes():
                proc.start()
                self._started.append(proc)
            kwok = kwok_process(self.workdir, self.kubeconfig)
            kwok.start()
            self._started.append(kwok)
            # The agent's thread has a vCenter session of its own (the test's stays the test's).
            agent_conn = VCenterConnection(self.vcenter.endpoint())
            self.agent = NodeAgent(
                self.core(),
                lambda: vm_machines(agent_conn.service_content()),
                self.expected_nodes,
                report_guest=lambda vm, ip: report_guest_to_vcsim(agent_conn.service_content(), vm, ip),
                kubelet_version=lambda vm: kubelet_version_in_vcsim(agent_conn.service_content(), vm),
                log_path=self.workdir / "logs" / "node-agent.log",
            )
            self.agent.start()
            self.cpi = CpiLauncher(self.workdir, self.core(), self.control_plane)
            self.cpi.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> list[str]:
        """Stop everything in reverse order; returns the errors met (none is swallowed silently)."""
        errors: list[str] = []
        for stopper in (
            self.cpi.stop if self.cpi else None,
            self.agent.stop if self.agent else None,
            *(p.stop for p in reversed(self._started)),
            self.vcsim.stop,
        ):
            if stopper is None:
                continue
            try:
                stopper()
            except Exception as e:
                errors.append(repr(e))
        self._started.clear()
        return errors
