"""Reconcile cost: bind and label N nodes on vcsim and a real kube-apiserver (the shared world's).

Two ways to answer, for N nodes, "which VM is this node (by its systemUUID) and in
which zone and region is it", then write ``spec.providerID`` and the topology labels:

* **per node, the CPI's pattern** (cloud-provider-vsphere's node discovery and zone
  lookup, driven by the cloud-node controller): the nodes come from one LIST (the
  controller's informer), then per node ``SearchIndex.FindByUuid``, the VM's
  ``runtime.host``, the host's ancestors (one PropertyCollector read, like govmomi's
  ``mo.Ancestors``), then a tagging session for this lookup alone (the CPI's
  ``withTagsClient`` logs in to the REST API and logs out after every zone lookup) and,
  per ancestor, nearest first, ``list-attached-tags`` and a read of each tag and of its
  category until a zone and a region are found; then the node is written. This stays
  kind to the CPI: one search for the whole inventory where the CPI searches datacenter
  by datacenter, the REST sessions reuse one HTTP connection pool, and nodes are
  handled one at a time as its default ``--concurrent-node-syncs=1`` does.
* **batched, the NodeBinding provider** (``providers/node_binding``), driven as the
  Pulumi engine drives it: ``NodeBindingProvider().create(props)`` per node in
  ``enforce`` mode, ``ENGINE_WORKERS`` at a time (the dynamic provider host serves four
  calls at once; ``pulumi up`` issues independent resources without limit). It reads one
  snapshot per run (one inventory read, the category list, the tags of the two
  categories, one ``list-attached-objects-on-tags`` call) through the process's one
  vCenter session, and one paged LIST of the nodes.

Both run in the same process, on the same simulator and API server (the pieces of the
end-to-end world, :mod:`benchmarks.engine_world`), each after the same N nodes have been
registered afresh; both read and patch the nodes through the
same kubernetes client (``providers.node_binding.kube.KubeNodes``). Round trips and
logins come from the connections' ``ConnectionStats``; SOAP methods are also counted by
name from outside (a wrapper around pyVmomi's ``SoapStubAdapter.InvokeMethod``) so that
vCenter writes can be told from reads; API-server writes are what the API server's audit
log shows the node client sent;
"API s" is the time spent in Kubernetes requests (summed over the workers).

Then a **second reconcile with nothing changed** (as a new ``pulumi up`` would: new
session, new snapshot, new node list, ``diff`` then ``update`` per node with the first
run's state) must write nothing to vCenter or to the API server.

Importing does no I/O; :func:`run` starts the simulator, etcd and the API server.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vsphere_k8s.topology.labels import REGION, ZONE

from .engine_world import (
    REGION_CATEGORY,
    ZONE_CATEGORY,
    BenchNode,
    BenchWorld,
    count_requests,
    register_nodes,
)

ENGINE_WORKERS = 4  # calls the dynamic provider host serves at once (pulumi.dynamic's gRPC server)
SETUP_AGENT = "bench-setup"  # the user agent of the registrations (not counted)
ADAPTER_AGENT = "OpenAPI-Generator"  # the kubernetes client's own user agent, which KubeNodes keeps
# SOAP methods that change nothing in the inventory (a ContainerView is a session-scoped read cursor).
SOAP_READS = frozenset(
    {
        "RetrieveServiceContent",
        "RetrieveContent",
        "RetrieveProperties",
        "RetrievePropertiesEx",
        "ContinueRetrievePropertiesEx",
        "CancelRetrievePropertiesEx",
        "FindByUuid",
        "CreateContainerView",
        "DestroyView",
        "Login",
        "Logout",
        "CurrentTime",
    }
)


# --------------------------------------------------------------------------- figures


@dataclass
class PassFigures:
    """One pass over N nodes."""

    pattern: str  # "per-node (CPI)", "batched (NodeBinding)", "batched, 2nd run"
    nodes: int
    seconds: float  # wall time of the whole pass (vCenter + API server)
    vcenter_seconds: float  # wall time spent in vCenter round trips (and logins)
    api_seconds: float  # time spent in Kubernetes API requests (summed over concurrent workers)
    soap_calls: int
    rest_calls: int
    logins: int
    vcenter_writes: int  # REST writes + SOAP calls that are not reads
    kube_reads: int
    kube_writes: int  # writes the API server received
    soap_methods: dict[str, int] = field(default_factory=dict)

    @property
    def round_trips(self) -> int:
        return self.soap_calls + self.rest_calls


@dataclass
class ReconcileFigures:
    nodes: int
    per_node: PassFigures
    batched: PassFigures
    second: PassFigures

    @property
    def vcenter_ratio(self) -> float:
        """Per-node vCenter wall time over batched vCenter wall time."""
        return self.per_node.vcenter_seconds / max(self.batched.vcenter_seconds, 1e-9)

    @property
    def wall_ratio(self) -> float:
        """Per-node end-to-end wall time over batched end-to-end wall time (API-server writes included)."""
        return self.per_node.seconds / max(self.batched.seconds, 1e-9)


# --------------------------------------------------------------------------- counting from outside


class SoapCounter:
    """Counts SOAP methods by name, for every pyVmomi stub in the process, while installed."""

    def __init__(self) -> None:
        self.methods: Counter[str] = Counter()

    @contextmanager
    def installed(self) -> Iterator[SoapCounter]:
        from pyVmomi import SoapAdapter

        original = SoapAdapter.SoapStubAdapter.InvokeMethod
        methods = self.methods

        def invoke(stub: Any, mo: Any, info: Any, args: Any, *rest: Any, **kw: Any) -> Any:
            methods[str(getattr(info, "wsdlName", getattr(info, "name", "?")))] += 1
            return original(stub, mo, info, args, *rest, **kw)

        stub_class: Any = SoapAdapter.SoapStubAdapter
        stub_class.InvokeMethod = invoke
        try:
            yield self
        finally:
            stub_class.InvokeMethod = original

    def writes(self) -> int:
        return sum(n for name, n in self.methods.items() if name not in SOAP_READS)


class TimedConnection:
    """Adds up the wall time a VCenterConnection spends in round trips (wrapping its instance methods)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.seconds = 0.0
        call, rest, content = conn.call, conn.rest, conn.service_content

        def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - started

            return wrapper

        # Nested: call() runs service_content() first; count only the outermost.
        self._depth = 0

        def outer(fn: Callable[..., Any]) -> Callable[..., Any]:
            inner = timed(fn)

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if self._depth:
                    return fn(*args, **kwargs)
                self._depth += 1
                try:
                    return inner(*args, **kwargs)
                finally:
                    self._depth -= 1

            return wrapper

        conn.call = outer(call)
        conn.rest = outer(rest)
        conn.service_content = outer(content)


class TimedKube:
    """Adds up the time a KubeNodes adapter spends in API requests (wrapping its instance's ``_call``)."""

    def __init__(self, kube: Any) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()
        call = kube._call

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds += time.perf_counter() - started

        kube._call = timed


# --------------------------------------------------------------------------- the world


class World(BenchWorld):
    """The benchmarks' world (:mod:`benchmarks.engine_world`, on tests/support/world), as the node binding
    and the CPI's pattern meet it."""

    def endpoint(self) -> Any:
        """The endpoint the provider builds from :func:`binding_props` (the key of its cached connection)."""
        from providers.vcenter.connection import Endpoint

        return Endpoint(
            host=self.target.address,
            port=self.target.port,
            username=self.target.username,
            password=self.target.password,
            insecure=self.target.insecure,
        )

    def fresh_nodes(self, nodes: Sequence[BenchNode]) -> str:
        """Only ``nodes`` registered, as kubelets register them (no providerID, no labels); the kubeconfig."""
        assert self.plane is not None
        register_nodes(self.core(SETUP_AGENT), nodes)
        return self.plane.kubeconfig.read_text()

    def api_writes_since(self, offset: int) -> int:
        """Writes the API server received from the node adapter (``KubeNodes``) since ``offset``."""
        assert self.plane is not None
        return count_requests(self.plane.audit_since(offset), clients=(ADAPTER_AGENT,)).writes


# --------------------------------------------------------------------------- per node: the CPI's pattern


@dataclass(frozen=True)
class Found:
    moid: str
    bios_uuid: str
    zone: str | None
    region: str | None


def cpi_lookup(conn: Any, tagging: Any, system_uuid: str) -> Found | None:
    """One node as the CPI resolves it (see the module docstring)."""
    from pyVmomi import vim, vmodl

    from providers.vcenter.tagging import BASE, ObjectRef
    from vsphere_k8s.topology import swap_uuid_byte_order

    content = conn.service_content()
    bios = swap_uuid_byte_order(system_uuid)
    vm = conn.call(lambda: content.searchIndex.FindByUuid(None, bios, True, False))
    if vm is None:
        return None
    pc: Any = vmodl.query.PropertyCollector
    host_spec = pc.FilterSpec(
        objectSet=[pc.ObjectSpec(obj=vm, skip=False)],
        propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=["runtime.host"])],
    )
    answer = conn.call(lambda: content.propertyCollector.RetrieveContents([host_spec]))
    host = answer[0].propSet[0].val
    up = pc.TraversalSpec(name="parent", type=vim.ManagedEntity, path="parent", skip=False)
    up.selectSet = [pc.SelectionSpec(name="parent")]
    ancestors_spec = pc.FilterSpec(
        objectSet=[pc.ObjectSpec(obj=host, skip=False, selectSet=[up])],
        propSet=[pc.PropertySpec(type=vim.ManagedEntity, pathSet=["parent"])],
    )
    found = conn.call(lambda: content.propertyCollector.RetrieveContents([ancestors_spec]))
    parent_of = {o.obj._moId: next((p.val for p in o.propSet if p.name == "parent"), None) for o in found}
    chain = []
    current: Any = host
    while current is not None:
        chain.append(ObjectRef(str(current._wsdlName), str(current._moId)))
        current = parent_of.get(current._moId)
    zone = region = None
    with tags_session_per_lookup(conn):
        for ref in chain:  # nearest first
            for tag_id in tagging.attached_tags(ref):
                tag = conn.rest("GET", f"{BASE}/tag/id:{tag_id}")
                category = conn.rest("GET", f"{BASE}/category/id:{tag['category_id']}")
                if category["name"] == ZONE_CATEGORY and zone is None:
                    zone = str(tag["name"])
                elif category["name"] == REGION_CATEGORY and region is None:
                    region = str(tag["name"])
            if zone is not None and region is not None:
                break
    return Found(str(vm._moId), bios, zone, region)


@contextmanager
def tags_session_per_lookup(conn: Any) -> Iterator[None]:
    """cloud-provider-vsphere's ``withTagsClient``: a REST login for one zone lookup, a logout after it.

    The session rides the connection's HTTP pool (govmomi's REST client shares the SOAP
    client's transport), so what is added is the login and the logout, not new TLS handshakes.
    """
    from providers.vcenter.connection import SESSION_PATH

    conn._rest_login()
    try:
        yield
    finally:
        conn.rest("DELETE", SESSION_PATH, write=False)


def per_node_pass(world: World, nodes: Sequence[BenchNode], kubeconfig: str) -> tuple[PassFigures, dict[str, Found]]:
    from providers.node_binding.kube import KubeNodes
    from providers.vcenter.connection import VCenterConnection
    from providers.vcenter.tagging import TaggingClient
    from vsphere_k8s.topology import provider_id

    kube = KubeNodes(kubeconfig)
    api = TimedKube(kube)
    soap = SoapCounter()
    results: dict[str, Found] = {}
    with soap.installed():
        started = time.perf_counter()
        conn = VCenterConnection(world.endpoint())
        timer = TimedConnection(conn)
        tagging = TaggingClient(conn)
        try:
            for node in nodes:
                view = kube.listed(node.name)  # the informer's cache: one LIST for all nodes
                found = cpi_lookup(conn, tagging, view.system_uuid)
                if found is None or found.zone is None or found.region is None:
                    raise RuntimeError(f"the CPI pattern found no VM or zone for node {node.name}")
                results[node.name] = found
                patch = {
                    "metadata": {"labels": {ZONE: found.zone, REGION: found.region}},
                    "spec": {"providerID": provider_id(found.bios_uuid)},
                }
                kube.patch(node.name, patch)
            seconds = time.perf_counter() - started
        finally:
            conn.close()
    figures = _pass_figures(
        "per-node (CPI)",
        len(nodes),
        seconds=seconds,
        vcenter_seconds=timer.seconds,
        api_seconds=api.seconds,
        conn=conn,
        soap=soap,
        kube_reads=kube.reads,
        kube_writes=kube.writes,
    )
    return figures, results


# --------------------------------------------------------------------------- batched: the NodeBinding provider


def binding_props(world: World, node: BenchNode, kubeconfig: str) -> dict[str, Any]:
    """The props the engine hands NodeBindingProvider for one node (secrets already unwrapped, as it does)."""
    target = world.target
    return {
        "node_name": node.name,
        "server": target.address,
        "port": target.port,
        "username": target.username,
        "password": target.password,
        "kubeconfig": kubeconfig,
        "insecure": target.insecure,
        "thumbprint": None,
        "ca_cert": None,
        "zone_category": ZONE_CATEGORY,
        "region_category": REGION_CATEGORY,
        "vm_uuid": node.bios_uuid,
        "vm_moid": node.moid,
        "expected_zone": node.zone,
        "expected_region": node.region,
        "mode": "enforce",
        "timeout_seconds": 60,
    }


def _fresh_process_state() -> None:
    """What a new `pulumi up` starts with: no vCenter session, no snapshot, no Kubernetes client."""
    from providers.caches import reset_caches

    reset_caches()


def batched_pass(
    world: World,
    nodes: Sequence[BenchNode],
    kubeconfig: str,
    previous: dict[str, dict[str, Any]] | None = None,
    workers: int = ENGINE_WORKERS,
) -> tuple[PassFigures, dict[str, dict[str, Any]]]:
    """``create`` per node (or ``diff`` + ``update`` with the previous state, for a second run) through the
    real provider, ``workers`` calls at a time as the engine and the dynamic provider host make them."""
    from providers.node_binding.kube import nodes_for
    from providers.node_binding.provider import NodeBindingProvider
    from providers.vcenter.connection import connection_for

    assert world.plane is not None
    _fresh_process_state()
    offset = world.plane.audit_offset()
    conn = connection_for(world.endpoint())  # the instances the provider will use: timed from outside
    timer = TimedConnection(conn)
    kube = nodes_for(kubeconfig)
    api = TimedKube(kube)
    provider = NodeBindingProvider()
    soap = SoapCounter()

    def one(node: BenchNode) -> tuple[str, dict[str, Any]]:
        props = binding_props(world, node, kubeconfig)
        if previous is None:
            return node.name, dict(provider.create(props).outs or {})
        old = previous[node.name]
        diff = provider.diff(f"{world.target.address}/{node.name}", old, props)
        if diff.changes:
            raise RuntimeError(f"node {node.name}: diff reports changes on a second run with nothing changed")
        return node.name, dict(provider.update(f"{world.target.address}/{node.name}", old, props).outs or {})

    with soap.installed(), ThreadPoolExecutor(max_workers=workers) as pool:
        started = time.perf_counter()
        outs = dict(pool.map(one, nodes))
        seconds = time.perf_counter() - started
    pattern = "batched (NodeBinding)" if previous is None else "batched, 2nd run (nothing changed)"
    figures = _pass_figures(
        pattern,
        len(nodes),
        seconds=seconds,
        vcenter_seconds=timer.seconds,
        api_seconds=api.seconds,
        conn=conn,
        soap=soap,
        kube_reads=kube.reads,
        kube_writes=world.api_writes_since(offset),
    )
    _fresh_process_state()
    return figures, outs


# --------------------------------------------------------------------------- one size, all sizes


def check_agreement(nodes: Sequence[BenchNode], cpi: dict[str, Found], binding: dict[str, dict[str, Any]]) -> None:
    """Both patterns must have found the same VM, zone and region for every node (else the figures mean nothing)."""
    for node in nodes:
        found, outs = cpi[node.name], binding[node.name]
        want = (node.moid, node.zone, node.region)
        if (found.moid, found.zone, found.region) != want or (outs["bound_vm"], outs["zone"], outs["region"]) != want:
            raise RuntimeError(f"node {node.name}: CPI pattern {found}, binding {outs}, expected {want}")


def measure(world: World, n: int) -> ReconcileFigures:
    """Each pattern on the same ``n`` nodes, freshly registered (the second run keeps the first's)."""
    nodes = world.nodes[:n]
    per_node, cpi_found = per_node_pass(world, nodes, world.fresh_nodes(nodes))
    kubeconfig = world.fresh_nodes(nodes)
    batched, outs = batched_pass(world, nodes, kubeconfig)
    check_agreement(nodes, cpi_found, outs)
    second, _ = batched_pass(world, nodes, kubeconfig, previous=outs)
    return ReconcileFigures(n, per_node, batched, second)


def run(
    sizes: Sequence[int] = (10, 100, 500),
    progress: Callable[[str], None] | None = None,
    workdir: Path | None = None,
) -> list[ReconcileFigures]:
    """Start the world once (enough VMs for the largest size) and measure every size on it."""
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as scratch:
        world = World(workdir or Path(scratch)).start(max(sizes))
        try:
            figures = []
            for n in sizes:
                if progress:
                    progress(f"reconcile: {n} nodes")
                figures.append(measure(world, n))
            return figures
        finally:
            world.stop()


def _pass_figures(
    pattern: str,
    nodes: int,
    *,
    seconds: float,
    vcenter_seconds: float,
    api_seconds: float,
    conn: Any,
    soap: Any,
    kube_reads: int,
    kube_writes: int,
) -> PassFigures:
    """One pass's figures from the connection's counters and the SOAP method log."""
    return PassFigures(
        pattern=pattern,
        nodes=nodes,
        seconds=seconds,
        vcenter_seconds=vcenter_seconds,
        api_seconds=api_seconds,
        soap_calls=conn.stats.soap_calls,
        rest_calls=conn.stats.rest_calls,
        logins=conn.stats.logins,
        vcenter_writes=conn.stats.rest_writes + soap.writes(),
        kube_reads=kube_reads,
        kube_writes=kube_writes,
        soap_methods=dict(soap.methods),
    )
