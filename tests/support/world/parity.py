"""The real CPI and NodeBinding side by side on the same simulated vCenters and the same API server.

Two vcsim processes on two loopback addresses play two vCenters; etcd and
kube-apiserver are the cluster; the real ``vsphere-cloud-controller-manager``
initialises nodes. A *layout* is a set of zone, region and decoy tags on any
inventory object (root folder, folders, datacenters, clusters, hosts, resource
pools, VMs); for each one the harness re-tags the simulators, registers a Node
per VM (as its kubelet would: systemUUID byte-swapped or plain, the
uninitialised taint), and lets the CPI and NodeBinding (its provider code, in
``verify`` mode) each give their answer.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from pyVmomi import vim

from providers.node_binding.plan import BindingError, PendingError
from providers.node_binding.provider import NodeBindingProvider
from providers.vcenter.connection import VCenterConnection
from providers.vcenter.inventory import Inventory, VmInfo, read_inventory
from providers.vcenter.tagging import ObjectRef, TaggingClient
from tests.support.vcsim import VCenterTarget, Vcsim
from vsphere_k8s.topology import AmbiguousTopologyError, Tag
from vsphere_k8s.topology.labels import REGION, ZONE

from .controlplane import ControlPlane
from .cpi import cpi_from_config
from .kubelets import UNINITIALIZED_TAINT, node_manifest
from .process import Process

ZONE_CATEGORY, REGION_CATEGORY, DECOY_CATEGORY = "k8s-zone", "k8s-region", "k8s-decoy"
ZONES, REGIONS, DECOYS = ("z1", "z2", "z3"), ("r1", "r2"), ("d1",)
SECRET = "parity-vcenter-credentials"


@dataclass
class Site:
    """One simulated vCenter: its process, a session, its tags by (category, name), its VMs."""

    key: str  # "a", "b": prefixes node names (both simulators name their VMs alike)
    sim: Vcsim
    target: VCenterTarget | None = None
    conn: VCenterConnection | None = None
    tag_ids: dict[Tag, str] = field(default_factory=dict)
    inventory: Inventory = field(default_factory=Inventory)

    @property
    def tagging(self) -> TaggingClient:
        assert self.conn is not None
        return TaggingClient(self.conn)

    def node_name(self, vm: VmInfo) -> str:
        return f"{self.key}-{vm.name.lower().replace('_', '-')}"

    def vms(self) -> list[VmInfo]:
        return sorted((v for v in self.inventory.vms.values() if not v.template), key=lambda v: v.name)

    def taggable(self) -> list[ObjectRef]:
        """Every object the CPI's walks can meet, the root folder included."""
        refs = set(self.inventory.objects) | {
            r for v in self.inventory.vms.values() for r in self.inventory.chain(v.ref)
        }
        return sorted(refs, key=lambda r: (r.type, r.id))


@dataclass(frozen=True)
class NodeCase:
    site: str
    vm: str  # VM name
    node: str
    swapped: bool  # systemUUID as a Linux guest reports it (byte-swapped) or as is
    stack_vm: bool  # the binding is told the stack's VM UUID (as the component does) or discovers it


@dataclass(frozen=True)
class Outcome:
    node: str
    cpi: tuple[str, str, str] | None  # (providerID, zone, region) the CPI set, None if it did not initialise
    binding: str  # "agree", "failed: ...", "refused: ...", "pending: ..."
    ambiguous_answers: frozenset[tuple[str, str]] = frozenset()

    @property
    def verdict(self) -> str:
        """same: both answered alike. both-failed. refused: binding refused an order-dependent answer
        the CPI picked one of. Anything else is a difference."""
        if self.binding == "agree" and self.cpi is not None:
            return "same"
        if self.binding.startswith("failed") and self.cpi is None:
            return "both-failed"
        if self.binding.startswith("refused") and self.cpi is not None and self.cpi[1:] in self.ambiguous_answers:
            return "refused"
        return "DIFFERENT"


@dataclass
class ParityWorld:
    workdir: Path
    sites: dict[str, Site] = field(default_factory=dict)
    control_plane: ControlPlane | None = None
    cpi: Process | None = None
    cpi_config: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (site, datacenters) the running CPI knows
    _started: list[Process] = field(default_factory=list)

    def start(self) -> ParityWorld:
        self.workdir.mkdir(parents=True, exist_ok=True)
        shapes = {
            # Two datacenters (the second inside a folder, as -folder makes it), two clusters each, a
            # child resource pool per cluster: hosts, clusters, folders and pools all on the walks.
            "a": Vcsim(dc=2, clusters=2, hosts_per_cluster=2, standalone_hosts=0, vms_per_pool=1,
                       extra_args=["-pool=1", "-folder=1"], address="127.0.0.1"),
            "b": Vcsim(dc=1, clusters=1, hosts_per_cluster=2, standalone_hosts=0, vms_per_pool=2,
                       extra_args=["-pool=1"], address="127.0.0.2"),
        }  # fmt: skip
        try:
            for key, sim in shapes.items():
                sim.workdir = self.workdir / f"vcsim-{key}"
                site = Site(key, sim)
                site.target = sim.start()
                site.conn = VCenterConnection(site.target.endpoint())
                self.sites[key] = site
                self._prepare(site)
            self.control_plane = ControlPlane(self.workdir)
            for proc in self.control_plane.processes()[:2]:  # etcd and the API server: the CPI does the rest
                proc.start()
                self._started.append(proc)
            uuids = [vm.bios_uuid for site in self.sites.values() for vm in site.vms()]
            if len(set(uuids)) != len(uuids):
                raise RuntimeError("two simulated VMs share a BIOS UUID: the CPI's pick between them would be a race")
            self._credentials_secret()
        except BaseException:
            self.stop()
            raise
        return self

    def core(self) -> client.CoreV1Api:
        assert self.control_plane is not None
        cfg = client.Configuration()
        from kubernetes import config as kube_config

        kube_config.load_kube_config(str(self.control_plane.admin_kubeconfig), client_configuration=cfg)
        return client.CoreV1Api(client.ApiClient(cfg))

    def kubeconfig_text(self) -> str:
        assert self.control_plane is not None
        return self.control_plane.admin_kubeconfig.read_text()

    def _prepare(self, site: Site) -> None:
        """Categories (multiple cardinality, so two tags of one category can meet), tags, guest identities."""
        tagging = site.tagging
        for category, names in ((ZONE_CATEGORY, ZONES), (REGION_CATEGORY, REGIONS), (DECOY_CATEGORY, DECOYS)):
            cid = tagging.create_category(category, "MULTIPLE", [])
            for name in names:
                site.tag_ids[Tag(category, name)] = tagging.create_tag(name, cid)
        assert site.conn is not None
        content = site.conn.service_content()
        if site.key == "a":
            _add_vapp(content, read_inventory(site.conn), "DC0_C1")
        for i, vm in enumerate(sorted(read_inventory(site.conn).vms.values(), key=lambda v: v.name)):
            # The CPI discovers a node by its VM's guest hostname and needs a guest address. vcsim
            # derives BIOS UUIDs from VM names, so both simulators would share them: give each VM
            # its own, as real vCenters do (a UUID in two vCenters makes the CPI's pick a race).
            address = f"10.20.{ord(site.key) - 96}.{10 + i}"
            guest = {"SET.guest.hostName": site.node_name(vm), "SET.guest.ipAddress": address}
            _reconfigure(content, vm.ref.id, guest, uuid=str(uuid.uuid4()))
        site.inventory = read_inventory(site.conn)

    def _credentials_secret(self) -> None:
        data: dict[str, str] = {}
        for site in self.sites.values():
            assert site.target is not None
            data[f"{site.target.address}.username"] = site.target.username
            data[f"{site.target.address}.password"] = site.target.password
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=SECRET, namespace="kube-system"),
            data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        )
        self.core().create_namespaced_secret("kube-system", body)

    # ------------------------------------------------------------------ the CPI

    def vsphere_conf(self, config: Sequence[tuple[str, Sequence[str]]]) -> str:
        lines = ["[Global]", "insecure-flag = true", f"secret-name = {SECRET}", "secret-namespace = kube-system", ""]
        for key, datacenters in config:
            target = self.sites[key].target
            assert target is not None
            lines += [f'[VirtualCenter "{target.address}"]', f"port = {target.port}"]
            if datacenters:
                lines.append(f"datacenters = {','.join(datacenters)}")
            lines.append("")
        lines += ["[Labels]", f"region = {REGION_CATEGORY}", f"zone = {ZONE_CATEGORY}", ""]
        return "\n".join(lines)

    def run_cpi(self, config: Sequence[tuple[str, Sequence[str]]]) -> None:
        """(Re)start the CPI for these vCenters and datacenters, unless it already runs with them."""
        wanted = tuple((k, tuple(d)) for k, d in config)
        if self.cpi is not None and self.cpi_config == wanted:
            return
        self.stop_cpi()
        assert self.control_plane is not None
        conf = self.workdir / "cpi" / "vsphere.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(self.vsphere_conf(config))
        self.cpi = cpi_from_config(self.workdir, conf, self.control_plane.admin_kubeconfig)
        self.cpi.start()
        self.cpi_config = wanted

    def stop_cpi(self) -> None:
        if self.cpi is not None:
            self.cpi.stop()
            self.cpi = None
            self.cpi_config = ()

    # ------------------------------------------------------------------ layouts

    def apply_layout(self, layout: Mapping[str, Mapping[ObjectRef, Iterable[Tag]]]) -> None:
        """Exactly these tags on these objects, per site (everything else detached)."""
        for key, site in self.sites.items():
            tagging = site.tagging
            wanted = {(site.tag_ids[t], ref) for ref, tags in layout.get(key, {}).items() for t in tags}
            current = {(tid, ref) for tid, refs in tagging.attached_objects(list(site.tag_ids.values())).items()
                       for ref in refs}  # fmt: skip
            for tid, ref in sorted(current - wanted, key=str):
                tagging.detach(tid, ref)
            for tid, ref in sorted(wanted - current, key=str):
                tagging.attach(tid, ref)

    def clear_nodes(self, timeout: float = 60.0) -> None:
        api = self.core()
        for node in api.list_node().items:
            assert node.metadata is not None
            api.delete_node(str(node.metadata.name))
        deadline = time.monotonic() + timeout
        while api.list_node().items:
            if time.monotonic() > deadline:
                raise TimeoutError("nodes still present after delete")
            time.sleep(0.2)

    def register(self, cases: Sequence[NodeCase]) -> None:
        api = self.core()
        for case in cases:
            vm = self._vm(case)
            manifest = node_manifest(case.node, vm.bios_uuid, control_plane=False, swap=case.swapped)
            manifest["metadata"]["annotations"] = {}  # no kwok here: nothing else touches these nodes
            api.create_node(manifest)  # type: ignore[arg-type]

    def _vm(self, case: NodeCase) -> VmInfo:
        site = self.sites[case.site]
        return next(v for v in site.vms() if v.name == case.vm)

    def binding_props(self, case: NodeCase, datacenters: Sequence[str], timeout: int) -> dict[str, Any]:
        site = self.sites[case.site]
        assert site.target is not None
        vm = self._vm(case)
        return {
            "node_name": case.node,
            "server": site.target.address,
            "port": site.target.port,
            "username": site.target.username,
            "password": site.target.password,
            "insecure": True,
            "kubeconfig": self.kubeconfig_text(),
            "zone_category": ZONE_CATEGORY,
            "region_category": REGION_CATEGORY,
            "vm_uuid": vm.bios_uuid if case.stack_vm else None,
            "datacenters": list(datacenters),
            "mode": "verify",
            "timeout_seconds": timeout,
        }

    def compare(
        self, cases: Sequence[NodeCase], datacenters: Mapping[str, Sequence[str]], *, timeout: int = 40
    ) -> list[Outcome]:
        """Register the nodes, let the CPI initialise them, and run each binding in verify mode beside it."""
        new_run()
        self.register(cases)
        results: dict[str, tuple[str, frozenset[tuple[str, str]]]] = {}
        lock = threading.Lock()

        def bind(case: NodeCase) -> None:
            props = self.binding_props(case, datacenters[case.site], timeout)
            answers: frozenset[tuple[str, str]] = frozenset()
            try:
                NodeBindingProvider().create(props)
                verdict = "agree"
            except AmbiguousTopologyError as e:
                verdict, answers = f"refused: {e}", e.answers
            except PendingError as e:
                verdict = f"pending: {e}"
            except (BindingError, LookupError, ValueError) as e:
                verdict = f"failed: {e}"
            with lock:
                results[case.node] = (verdict, answers)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(bind, cases))
        if any(not v.startswith("agree") for v, _ in results.values()):
            # A node the binding could not bind: give the CPI time for its own attempt before reading.
            self.wait_initialised([c.node for c in cases if results[c.node][0] == "agree"], 30.0)
            time.sleep(4.0)
        api = self.core()
        out = []
        for case in cases:
            verdict, answers = results[case.node]
            out.append(Outcome(case.node, cpi_answer(api.read_node(case.node)), verdict, answers))
        return out

    def wait_initialised(self, names: Sequence[str], timeout: float) -> None:
        api = self.core()
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending and time.monotonic() < deadline:
            pending = {n for n in pending if cpi_answer(api.read_node(n)) is None}
            if pending:
                time.sleep(0.3)

    def stop(self) -> list[str]:
        errors: list[str] = []
        stoppers = [
            self.stop_cpi,
            *(p.stop for p in reversed(self._started)),
            *(s.sim.stop for s in self.sites.values()),
        ]
        for stopper in stoppers:
            try:
                stopper()
            except Exception as e:
                errors.append(repr(e))
        self._started.clear()
        return errors


def new_run() -> None:
    """What a new `pulumi up` starts from: a provider process with no snapshot or client cached."""
    from providers.caches import reset_caches

    reset_caches()


def cpi_answer(node: Any) -> tuple[str, str, str] | None:
    """(providerID, zone, region) once the CPI has initialised the node (taint gone), else None."""
    taints = [t.key for t in (node.spec.taints or [])]
    if UNINITIALIZED_TAINT in taints or not node.spec.provider_id:
        return None
    labels = node.metadata.labels or {}
    return str(node.spec.provider_id), labels.get(ZONE, ""), labels.get(REGION, "")


def _add_vapp(content: Any, inventory: Inventory, cluster: str) -> None:
    """A vApp in ``cluster``'s root pool holding one powered-on VM: the CPI's pool walk then starts at the vApp."""
    ref = next(r for r, o in inventory.objects.items() if o.name == cluster and r.type == "ClusterComputeResource")
    stub = content.rootFolder._stub
    compute: Any = vim.ClusterComputeResource(ref.id, stub)
    datacenter = next(d for d in content.rootFolder.childEntity if isinstance(d, vim.Datacenter))
    alloc = vim.ResourceAllocationInfo(
        reservation=0, limit=-1, expandableReservation=True, shares=vim.SharesInfo(level="normal")
    )
    app = compute.resourcePool.CreateVApp(
        f"{cluster}_APP", vim.ResourceConfigSpec(cpuAllocation=alloc, memoryAllocation=alloc),
        vim.vApp.VAppConfigSpec(), datacenter.vmFolder,
    )  # fmt: skip
    # A NIC: the CPI discovers only VMs whose guest reports a network.
    nic = vim.vm.device.VirtualDeviceSpec(
        operation="add",
        device=vim.vm.device.VirtualE1000(
            key=-1, backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName="VM Network")
        ),
    )
    config = vim.vm.ConfigSpec(
        name=f"{cluster}_APP_VM0", guestId="otherGuest", numCPUs=1, memoryMB=128,
        files=vim.vm.FileInfo(vmPathName="[LocalDS_0]"), deviceChange=[nic],
    )  # fmt: skip
    vm = _wait(app.CreateChildVM_Task(config=config, host=compute.host[0]), f"create a VM in vApp {cluster}_APP")
    _wait(vm.PowerOnVM_Task(), f"power on {cluster}_APP_VM0")


def _wait(task: Any, what: str) -> Any:
    deadline = time.monotonic() + 60
    while task.info.state not in ("success", "error"):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)
    if task.info.state == "error":
        raise RuntimeError(f"{what}: {task.info.error}")
    return task.info.result


def _reconfigure(content: Any, moid: str, extra: Mapping[str, str], *, uuid: str | None = None) -> None:
    vm = vim.VirtualMachine(moid, content.rootFolder._stub)
    spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=k, value=v) for k, v in extra.items()])
    if uuid is not None:
        spec.uuid = uuid
    _wait(vm.ReconfigVM_Task(spec=spec), f"reconfigure {moid}")


def relocate(site: Site, vm_name: str, host: ObjectRef) -> None:
    """vMotion: the VM onto ``host`` (and its cluster's root resource pool)."""
    assert site.conn is not None
    content = site.conn.service_content()
    stub = content.rootFolder._stub
    vm = next(v for v in site.vms() if v.name == vm_name)
    target: Any = vim.HostSystem(host.id, stub)  # pyVmomi is untyped
    spec = vim.vm.RelocateSpec(host=target, pool=target.parent.resourcePool)
    _wait(vim.VirtualMachine(vm.ref.id, stub).RelocateVM_Task(spec), f"relocate {vm_name}")
    site.inventory = read_inventory(site.conn)
