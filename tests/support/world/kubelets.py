"""kwok, and a node agent that plays the kubelet for every VM the stack creates.

A kubelet started with ``cloud-provider: external`` registers its Node with the
hostname as name, the ``systemUUID`` the guest firmware reports (on Linux, the VM's BIOS
UUID with its first three groups byte-swapped) and the taint the CPI removes once it has
initialised the node. The agent does that for each VM whose name it is told to expect;
kwok then keeps the node Ready and "runs" the pods scheduled to it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pyVmomi import vim

from toolchain.manifest import locate
from vsphere_k8s.topology.uuids import swap_uuid_byte_order

from . import vms
from .process import Process, free_port, http_ok

UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
STAGES = Path(__file__).with_name("kwok-stages.yaml")


def kwok_process(workdir: Path, kubeconfig: Path) -> Process:
    port = free_port()
    return Process(
        "kwok",
        [
            str(locate("kwok")),
            f"--kubeconfig={kubeconfig}",
            f"--config={STAGES}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
            f"--server-address=127.0.0.1:{port}",
            "--cidr=10.244.0.0/16",
        ],
        workdir,
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/healthz"),
    )


def node_manifest(
    vm_name: str, bios_uuid: str, *, control_plane: bool, swap: bool = True, kubelet_version: str = ""
) -> dict[str, Any]:
    """The Node a kubelet registers for a VM (before the CPI has seen it)."""
    labels = {"kubernetes.io/hostname": vm_name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    taints = [{"key": UNINITIALIZED_TAINT, "value": "true", "effect": "NoSchedule"}]
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        taints.append({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": vm_name, "labels": labels, "annotations": {KWOK_ANNOTATION: "fake"}},
        "spec": {"taints": taints},
        "status": {
            "nodeInfo": {
                "systemUUID": swap_uuid_byte_order(bios_uuid) if swap else bios_uuid,
                "machineID": "",
                "bootID": "",
                "kernelVersion": "",
                "osImage": "",
                "containerRuntimeVersion": "",
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            }
        },
    }


class Machine(NamedTuple):
    """A VM as a kubelet's lifetime: its BIOS UUID and its managed object id. A VM destroyed and
    cloned again under its name keeps vcsim's path-derived UUID but gets a new id."""

    uuid: str
    moid: str


@dataclass
class NodeAgent:
    """Registers a Node for each expected VM once it exists in vCenter, as its kubelet would."""

    api: client.CoreV1Api
    list_vms: Callable[[], dict[str, Machine]]  # VM name -> its machine (vm_machines: one read)
    expected: Callable[[], dict[str, bool]]  # VM name -> is control plane
    # What the guest's VMware Tools report once it has booted (hostname, address): the CPI
    # reads them from vCenter to discover the node and its addresses.
    report_guest: Callable[[str, str], None] = lambda _vm, _ip: None
    addresses: dict[str, str] = field(default_factory=dict)  # VM name -> the address its guest reports
    # The kubelet's version on a VM: what its template installed (kubelet_version_in_vcsim).
    kubelet_version: Callable[[str], str] = lambda _vm: ""
    log_path: Path | None = None
    interval: float = 0.5
    registered: list[str] = field(default_factory=list)
    # VM name -> the machine its Node was registered for. Like a kubelet, which registers once per
    # start (a Node deleted under a running kubelet stays deleted), a machine registers once: a VM
    # replaced under its own name (a pool that rolls deleting first) is a new machine whose kubelet
    # registers again: seen gone (powered off, destroyed) in between, or with another id.
    _registered_machine: dict[str, Machine] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # node (or "agent") -> its last error
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="node-agent", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _log(self, line: str) -> None:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a") as log:
                log.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def _error(self, key: str, message: str) -> None:
        if self.errors.get(key) != message:
            self._log(f"error {key}: {message}")
        self.errors[key] = message

    def sync_once(self) -> None:
        wanted = self.expected()
        if not wanted:
            return
        vms = self.list_vms()
        for gone in [n for n in self._registered_machine if n not in vms]:
            del self._registered_machine[gone]
        for name, control_plane in wanted.items():
            if name not in vms or self._registered_machine.get(name) == vms[name]:
                continue
            ip = self.addresses.setdefault(name, f"10.10.0.{100 + len(self.addresses)}")
            try:
                self.report_guest(name, ip)
                version = self.kubelet_version(name)
            except Exception as e:
                self._error(name, f"guest report: {e!r}")
                continue
            try:
                node = node_manifest(name, vms[name].uuid, control_plane=control_plane, kubelet_version=version)
                self.api.create_node(node)  # type: ignore[arg-type]
            except ApiException as e:
                # 409: registered already (a restarted agent), or a replaced VM's old Node not deleted yet.
                if e.status != 409 or name in self._registered_machine:
                    if e.status != 409:
                        self._error(name, f"{e.status} {e.reason}: {e.body}")
                    continue
            self._registered_machine[name] = vms[name]
            if name not in self.registered:
                self.registered.append(name)
            self._log(f"registered node {name} (VM BIOS UUID {vms[name].uuid}, guest address {ip})")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync_once()
            except Exception as e:  # keep the kubelets running; the test reads the errors
                self._error("agent", repr(e))


def vm_uuids(content: Any) -> dict[str, str]:
    """Name -> BIOS UUID of every powered-on VM (a kubelet runs only once its guest has booted),
    in one PropertyCollector read over a container view."""
    return {name: machine.uuid for name, machine in vm_machines(content).items()}


def vm_machines(content: Any) -> dict[str, Machine]:
    """Name -> machine of every powered-on VM, UUID and id from the same read (two reads would let a
    VM destroyed between them look like another machine, whose kubelet registers its Node again)."""
    return {
        str(props["name"]): Machine(str(props["config.uuid"]), moid)
        for moid, props in vms.powered_on(content, extra=["config.uuid"])
        if props.get("config.uuid")
    }


def vm_ids(content: Any) -> dict[str, str]:
    """Name -> managed object id of every powered-on VM (tells a re-made VM from the one before)."""
    return {name: machine.moid for name, machine in vm_machines(content).items()}


def report_guest_to_vcsim(content: Any, vm_name: str, ip: str) -> None:
    """The simulator's stand-in for VMware Tools on the VM of that name (see :func:`set_guest`)."""
    vm = vms.find_vm(content, vm_name)  # one read, not one name fetch per VM
    if vm is None:
        raise LookupError(f"VM {vm_name} not found")
    set_guest(vm, vm_name, ip)


def set_guest(vm: Any, vm_name: str, ip: str, timeout: float = 30.0) -> None:
    """``SET.guest.*`` extra-config keys set the VM's guest properties (vcsim's own hook for what VMware
    Tools would report; they are not stored in the VM's configuration)."""
    spec = vim.vm.ConfigSpec(
        extraConfig=[
            vim.option.OptionValue(key="SET.guest.hostName", value=vm_name),
            vim.option.OptionValue(key="SET.guest.ipAddress", value=ip),
        ]
    )
    task = vm.ReconfigVM_Task(spec=spec)
    deadline = time.monotonic() + timeout
    while task.info.state not in ("success", "error"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"reconfiguring {vm_name} took over {timeout:.0f}s")
        time.sleep(0.1)
    if task.info.state == "error":
        raise RuntimeError(f"reconfiguring {vm_name}: {task.info.error}")


# image-builder's OVAs say their release in the VM's annotation ("... and Kubernetes v1.36.3 ...").
_KUBERNETES_IN_NOTES = re.compile(r"Kubernetes (v\d+\.\d+\.\d+)")


def kubelet_version_in_vcsim(content: Any, vm_name: str) -> str:
    """The kubelet a VM's guest runs: the release its template has baked in, as the template's
    annotation (which a clone keeps) says; empty for a template that says none."""
    found = _KUBERNETES_IN_NOTES.search(vms.annotation_of(content, vm_name))
    return found.group(1) if found else ""
