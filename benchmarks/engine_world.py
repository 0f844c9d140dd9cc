"""The pieces of the local simulated data centre the engine benchmarks run on (built on tests/support/world).

* :func:`bench_vcsim`: vcsim with 3 datacenters (regions) × 3 clusters (zones) × 2 hosts, the
  layout of :mod:`benchmarks.scale_config`; :func:`prepare_templates` gives every datacenter a
  VM named :data:`TEMPLATE` (the config names one template, looked up in each zone's datacenter).
* :func:`open_project`: a working copy of the project (``tests.support.world.project``) with a
  stack of the given raw config, initialised through the real CLI, its credentials set as secrets.
* :func:`tag_zones`: a region tag on each datacenter and a zone tag on each cluster, as the CPI
  expects them; the VMs that stand for nodes (:class:`BenchNode`), round-robin over the zones.
* :class:`BenchControlPlane`: the world's etcd + kube-apiserver with an audit log of every
  request (Metadata level), so that API-server reads and writes can be counted per client;
  :func:`register_nodes` registers nodes on it as their kubelets would.

Importing does no I/O.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from vsphere_k8s.topology.uuids import swap_uuid_byte_order

from .scale_config import REGIONS, ZONES_PER_REGION, region_name, zone_name

TEMPLATE = "bench-template"
STACK = "bench"
ZONE_CATEGORY, REGION_CATEGORY = "k8s-zone", "k8s-region"
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}
READ_VERBS = frozenset({"get", "list", "watch"})
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def bench_vcsim(workdir: Path, vms_per_pool: int = 1) -> Any:
    """A vcsim of the benchmarks' layout (not started)."""
    from tests.support.vcsim import Vcsim

    return Vcsim(
        dc=REGIONS,
        clusters=ZONES_PER_REGION,
        hosts_per_cluster=2,
        standalone_hosts=0,
        vms_per_pool=vms_per_pool,
        workdir=workdir,
    )


def vms_needed(nodes: int) -> int:
    """vcsim's ``-vm`` (VMs per cluster resource pool) so that the 9 clusters hold at least ``nodes`` VMs."""
    return max(1, math.ceil(nodes / (REGIONS * ZONES_PER_REGION)))


@dataclass(frozen=True)
class BenchNode:
    """A VM of the simulator that stands for a node, and the zone and region its cluster is tagged with."""

    name: str  # Kubernetes node name
    vm_name: str
    moid: str
    bios_uuid: str
    zone: str
    region: str

    @property
    def system_uuid(self) -> str:
        """What the guest reports: the BIOS UUID with its first three fields byte-swapped."""
        return swap_uuid_byte_order(self.bios_uuid)


def tag_zones(target: Any) -> list[BenchNode]:
    """Region tags on datacenters, zone tags on clusters; the VMs round-robin over the 9 zones. Not measured."""
    from providers.vcenter.connection import VCenterConnection
    from providers.vcenter.inventory import read_inventory
    from providers.vcenter.tagging import TaggingClient

    conn = VCenterConnection(target.endpoint())
    try:
        tagging = TaggingClient(conn)
        inventory = read_inventory(conn)
        by_name = {(o.ref.type, o.name): o.ref for o in inventory.objects.values()}
        region_cat = tagging.create_category(REGION_CATEGORY, "SINGLE", ["Datacenter", "ClusterComputeResource"])
        zone_cat = tagging.create_category(ZONE_CATEGORY, "SINGLE", ["ClusterComputeResource", "HostSystem"])
        zone_of: dict[Any, tuple[str, str]] = {}
        for r in range(REGIONS):
            tagging.attach(tagging.create_tag(region_name(r), region_cat), by_name[("Datacenter", f"DC{r}")])
            for z in range(ZONES_PER_REGION):
                cluster = by_name[("ClusterComputeResource", f"DC{r}_C{z}")]
                tagging.attach(tagging.create_tag(zone_name(r, z), zone_cat), cluster)
                zone_of[cluster] = (zone_name(r, z), region_name(r))
        columns: dict[Any, list[BenchNode]] = {}
        for vm in sorted(inventory.vms.values(), key=lambda v: v.name):
            parent = inventory.objects[vm.host].parent if vm.host is not None else None
            if vm.template or parent not in zone_of:
                continue
            zone, region = zone_of[parent]
            name = vm.name.lower().replace("_", "-")
            columns.setdefault(parent, []).append(BenchNode(name, vm.name, vm.ref.id, vm.bios_uuid, zone, region))
        # Round-robin over the clusters, so that every N spreads over all 9 zones.
        cols = [columns[c] for c in sorted(columns, key=lambda c: c.id)]
        return [col[i] for i in range(max(map(len, cols), default=0)) for col in cols if i < len(col)]
    finally:
        conn.close()


def register_nodes(core: Any, nodes: Sequence[BenchNode], timeout: float = 120.0) -> None:
    """Delete every node, then register ``nodes`` as their kubelets would (no providerID, no zone labels)."""
    from tests.support.world.kubelets import node_manifest

    core.delete_collection_node()
    deadline = time.monotonic() + timeout
    while core.list_node().items:
        if time.monotonic() > deadline:
            raise TimeoutError(f"nodes of the previous run are still there after {timeout:.0f} s")
        time.sleep(0.2)

    def register(node: BenchNode) -> None:
        core.create_node(node_manifest(node.name, node.bios_uuid, control_plane=False))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(register, nodes))


def prepare_templates(target: Any) -> None:
    """Rename the first VM of each datacenter's first cluster to :data:`TEMPLATE` (one Rename_Task per DC)."""
    from pyVmomi import vim

    from providers.vcenter.connection import VCenterConnection

    conn = VCenterConnection(target.endpoint())
    try:
        content = conn.service_content()
        for r in range(REGIONS):
            vm = content.searchIndex.FindByInventoryPath(f"/DC{r}/vm/DC{r}_C0_RP0_VM0")
            if not isinstance(vm, vim.VirtualMachine):
                raise RuntimeError(f"vcsim has no VM DC{r}_C0_RP0_VM0 to serve as the template of DC{r}")
            _wait(vm.Rename_Task(TEMPLATE), f"renaming DC{r}_C0_RP0_VM0")
    finally:
        conn.close()


def _wait(task: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while task.info.state not in ("success", "error"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} took over {timeout:.0f}s")
        time.sleep(0.05)
    if task.info.state == "error":
        raise RuntimeError(f"{what}: {task.info.error}")


def stack_document(raw: dict[str, Any], project: str = "vsphere-k8s") -> dict[str, Any]:
    """A stack file's document from a raw config (credentials left out: they are set as secrets)."""
    return {"config": {f"{project}:{k}": v for k, v in raw.items() if k != "credentials"}}


def bench_config(nodes: int, port: int, **overrides: Any) -> dict[str, Any]:
    """:func:`scale_config` on this vcsim: its port, the renamed template, top-level keys overridden."""
    from .scale_config import scale_config

    raw = scale_config(nodes, server="127.0.0.1", port=port)
    raw["nodePools"]["controlPlane"]["template"] = TEMPLATE
    for pool in raw["nodePools"]["workers"]:
        pool["template"] = TEMPLATE
    raw.update(overrides)
    return raw


def open_project(
    workdir: Path,
    raw: dict[str, Any],
    target: Any,
    *,
    stack: str = STACK,
    secrets: dict[str, str] | None = None,
) -> Any:
    """A project copy at ``workdir/project`` with stack ``stack`` of ``raw``, initialised; returns its PulumiCli."""
    from tests.support.world.project import make_project
    from tests.support.world.pulumi_cli import PulumiCli

    workdir.mkdir(parents=True, exist_ok=True)
    template = workdir / f"Pulumi.{stack}.yaml"
    template.write_text(yaml.safe_dump(stack_document(raw), sort_keys=False))
    cli = PulumiCli(make_project(workdir, stack, template), workdir, timeout=3600.0)
    cli.run("stack", "init", stack)
    vc = raw["vcenters"][0]["name"]
    cli.set_secret(f"credentials.{vc}.username", target.username)
    cli.set_secret(f"credentials.{vc}.password", target.password)
    for key, value in (secrets or {}).items():
        cli.set_secret(key, value)
    return cli


# --------------------------------------------------------------------------- the API server, audited


@dataclass
class BenchControlPlane:
    """etcd and kube-apiserver of the world (``tests.support.world.controlplane``), the API server audited."""

    workdir: Path
    control_plane: Any = None
    processes: list[Any] = field(default_factory=list)

    @property
    def audit_log(self) -> Path:
        return self.workdir / "logs" / "audit.log"

    @property
    def kubeconfig(self) -> Path:
        return Path(self.control_plane.admin_kubeconfig)

    def core(self, agent: str) -> Any:
        """A CoreV1Api on the admin kubeconfig whose requests the audit log names ``agent``."""
        from kubernetes import client
        from kubernetes import config as kube_config

        api = kube_config.new_client_from_config(str(self.kubeconfig))
        api.user_agent = agent
        return client.CoreV1Api(api)

    def start(self, *, controllers: bool = False, controller_args: Sequence[str] = ()) -> BenchControlPlane:
        """``controller_args`` go after kube-controller-manager's own (a repeated flag's last value wins)."""
        from tests.support.world.controlplane import ControlPlane

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.audit_log.parent.mkdir(parents=True, exist_ok=True)
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        self.control_plane = ControlPlane(self.workdir)
        etcd, apiserver, kcm, scheduler = self.control_plane.processes()
        apiserver.args += [
            f"--audit-policy-file={policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
        ]
        kcm.args += list(controller_args)
        try:
            for proc in (etcd, apiserver, *((kcm, scheduler) if controllers else ())):
                proc.start()
                self.processes.append(proc)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()

    def audit_offset(self) -> int:
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def audit_since(self, offset: int) -> list[dict[str, Any]]:
        """The audit events logged after ``offset`` (a byte position from :meth:`audit_offset`)."""
        if not self.audit_log.exists():
            return []
        with self.audit_log.open("rb") as f:
            f.seek(offset)
            data = f.read().decode(errors="replace")
        return [json.loads(line) for line in data.splitlines() if line.strip()]


def client_of(user_agent: str) -> str:
    """A short client name from a request's user agent (the part before the first '/')."""
    return user_agent.split("/", 1)[0].split(" ", 1)[0] or "?"


@dataclass(frozen=True)
class ApiCounts:
    reads: int
    writes: int
    by_client: dict[str, tuple[int, int]]  # client -> (reads, writes)


def count_requests(
    events: Iterable[dict[str, Any]], clients: Iterable[str] | None = None, exclude: Iterable[str] = ()
) -> ApiCounts:
    """Reads and writes in audit events (stage ResponseComplete): only ``clients``' if given, never ``exclude``'s."""
    wanted = set(clients) if clients is not None else None
    unwanted = set(exclude)
    reads: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    for event in events:
        if event.get("stage") != "ResponseComplete":
            continue
        who = client_of(str(event.get("userAgent", "")))
        if (wanted is not None and who not in wanted) or who in unwanted:
            continue
        verb = str(event.get("verb", ""))
        if verb in READ_VERBS:
            reads[who] += 1
        elif verb in WRITE_VERBS:
            writes[who] += 1
    names = sorted(set(reads) | set(writes))
    return ApiCounts(sum(reads.values()), sum(writes.values()), {n: (reads[n], writes[n]) for n in names})


@dataclass
class BenchWorld:
    """The benchmarks' world: vcsim of their layout with its zones tagged (:func:`tag_zones`), and the
    end-to-end world's etcd + kube-apiserver with its audit log (:class:`BenchControlPlane`)."""

    workdir: Path
    sim: Any = None
    target: Any = None
    plane: BenchControlPlane | None = None
    nodes: list[BenchNode] = field(default_factory=list)

    def start(self, max_nodes: int) -> Self:
        """Enough VMs for ``max_nodes`` nodes, spread over the 9 zones; stops what started if a step fails."""
        try:
            self.sim = bench_vcsim(self.workdir / "vcsim", vms_per_pool=vms_needed(max_nodes))
            (self.workdir / "vcsim").mkdir(parents=True, exist_ok=True)
            self.target = self.sim.start(timeout=180)
            self.nodes = tag_zones(self.target)[:max_nodes]
            if len(self.nodes) < max_nodes:
                raise RuntimeError(f"vcsim has {len(self.nodes)} VMs, fewer than {max_nodes} nodes")
            self.plane = BenchControlPlane(self.workdir / "cluster").start()
            self._prepare()
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare(self) -> None:
        """What a benchmark's world needs beyond the common pieces (nothing by default)."""

    def stop(self) -> None:
        if self.plane is not None:
            self.plane.stop()
        if self.sim is not None:
            self.sim.stop()

    def core(self, agent: str) -> Any:
        assert self.plane is not None
        return self.plane.core(agent)
