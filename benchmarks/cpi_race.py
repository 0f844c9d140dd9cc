"""The reconcile against the real CPI: N freshly registered nodes until all carry providerID, zone and region.

One world for every size (built from tests/support/world's pieces): vcsim of the benchmarks' layout
with enough VMs (each reporting a guest hostname and address, as VMware Tools would; the CPI needs
one), a region tag on each datacenter and a zone tag on each cluster, and the world's etcd and
kube-apiserver, audited (``engine_world.BenchControlPlane``). The CPI's ConfigMap and credentials
Secret are the stack's own manifests (``vsphere_k8s.manifests.cpi``) for the benchmark's config; its
ServiceAccount is bound to ``cluster-admin`` (RBAC is not what is measured).

For each N and each contender, on the same simulator and API server, alone:

* the nodes are deleted, then N are registered as kubelets register them (``systemUUID``, the
  uninitialized taint, no providerID, no labels); the clock starts once they all exist;
* **CPI**: the real ``vsphere-cloud-controller-manager`` is started, as shipped (its defaults, one
  node sync at a time), and stopped once every node is done;
* **NodeBinding**: ``pulumi up`` of ``binding_program.py`` (one enforce-mode NodeBinding per node)
  through the real CLI, its dynamic-provider host being ``counting_host`` (the same host with
  counters); optionally spread over several hosts (explicit ``pulumi-python`` providers);
* **floor**: the same N node PATCHes (providerID and the two labels) sent bare, ``concurrency`` at
  a time (the provider host's four workers), by the Python Kubernetes client;
* done when a watcher (a LIST every :data:`POLL` seconds, its requests not counted) sees every node
  with providerID, zone and region. API-server reads and writes are the audit log's, by the
  contender's clients only.

Importing does no I/O.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from .scale_config import REGIONS

POLL = 0.25
WATCH_AGENT, SETUP_AGENT, FLOOR_AGENT = "bench-watch", "bench-setup", "bench-floor"
HOST_WORKERS = 4  # pulumi.dynamic's gRPC server threads (see counting_host.HOST_WORKERS)


@dataclass
class RaceFigures:
    contender: str
    nodes: int
    seconds: float  # registered -> all bound
    api_reads: int
    api_writes: int
    round_trips: int | None = None  # vCenter, dynamic providers only
    logins: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def done(node: Any) -> bool:
    """Whether a Node (kubernetes client object) carries a providerID, a zone and a region."""
    labels = (node.metadata.labels or {}) if node.metadata else {}
    return bool(node.spec and node.spec.provider_id and labels.get(ZONE) and labels.get(REGION))


def node_patch(node: BenchNode) -> dict[str, Any]:
    """The write both contenders must make: providerID and the two topology labels."""
    from vsphere_k8s.topology import provider_id

    return {
        "metadata": {"labels": {ZONE: node.zone, REGION: node.region}},
        "spec": {"providerID": provider_id(node.bios_uuid)},
    }


# --------------------------------------------------------------------------- the world


class RaceWorld(BenchWorld):
    """The benchmarks' world, with what the real CPI reads: the guests' hostnames and addresses in vCenter,
    its config, credentials and account in the cluster."""

    def _prepare(self) -> None:
        _report_guests(self.target, self.nodes)
        self._deploy_cpi_config()

    def _deploy_cpi_config(self) -> None:
        from kubernetes import client

        from vsphere_k8s.loader import load
        from vsphere_k8s.manifests import cpi

        from .engine_world import bench_config

        raw = bench_config(len(self.nodes), self.target.port)
        raw["credentials"] = {"vc": {"username": self.target.username, "password": self.target.password}}
        cfg = load(raw, stack="race")
        core = self.core(SETUP_AGENT)
        cm = cpi.config_map(cfg)
        core.create_namespaced_config_map(cm["metadata"]["namespace"], cm)
        secret = cpi.credentials_secret(cfg)
        core.create_namespaced_secret(secret["metadata"]["namespace"], secret)
        core.create_namespaced_service_account(
            "kube-system", {"metadata": {"name": "cloud-controller-manager", "namespace": "kube-system"}}
        )
        rbac = client.RbacAuthorizationV1Api(core.api_client)
        binding: Any = {
            "metadata": {"name": "bench-cloud-controller-manager"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "cloud-controller-manager", "namespace": "kube-system"}],
        }
        rbac.create_cluster_role_binding(binding)  # the client takes plain dicts too

    # --- nodes ---------------------------------------------------------------------------------

    def fresh_nodes(self, n: int) -> list[BenchNode]:
        """Delete every node, then register the first ``n`` as their kubelets would; returns them."""
        nodes = self.nodes[:n]
        register_nodes(self.core(SETUP_AGENT), nodes)
        return nodes

    def wait_bound(self, n: int, started: float, timeout: float, alive: Callable[[], bool] = lambda: True) -> float:
        """Seconds from ``started`` until ``n`` nodes are done (polled; see the module docstring)."""
        core = self.core(WATCH_AGENT)
        deadline = started + timeout
        while True:
            items = core.list_node().items
            if sum(1 for node in items if done(node)) >= n:
                return time.perf_counter() - started
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{sum(1 for x in items if done(x))} of {n} nodes bound after {timeout:.0f}s")
            if not alive():
                raise RuntimeError("the reconciler stopped before every node was bound")
            time.sleep(POLL)


def _report_guests(target: Any, nodes: Sequence[BenchNode]) -> None:
    """What VMware Tools would report (hostname, address), through vcsim's ``SET.guest.*`` hook; not measured."""
    from pyVmomi import vim

    from providers.vcenter.connection import VCenterConnection

    conn = VCenterConnection(target.endpoint())
    try:
        stub = conn.service_content().rootFolder._stub

        def report(item: tuple[int, BenchNode]) -> None:
            i, node = item
            vm = vim.VirtualMachine(node.moid, stub)
            spec = vim.vm.ConfigSpec(
                extraConfig=[
                    vim.option.OptionValue(key="SET.guest.hostName", value=node.name),
                    vim.option.OptionValue(key="SET.guest.ipAddress", value=f"10.30.{i // 250}.{i % 250 + 2}"),
                ]
            )
            task = vm.ReconfigVM_Task(spec=spec)
            while task.info.state not in ("success", "error"):
                time.sleep(0.05)
            if task.info.state == "error":
                raise RuntimeError(f"reporting the guest of {node.vm_name}: {task.info.error}")

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(report, enumerate(nodes)))
    finally:
        conn.close()


# --------------------------------------------------------------------------- the contenders


def run_cpi(world: RaceWorld, n: int, timeout: float) -> RaceFigures:
    from tests.support.world.cpi import cpi_process

    assert world.plane is not None
    world.fresh_nodes(n)
    offset = world.plane.audit_offset()
    workdir = world.workdir / f"cpi-{n}"
    cp = world.plane.control_plane
    proc = cpi_process(workdir, world.core(SETUP_AGENT), cp.server, cp.pki.ca.cert)
    proc.ready = lambda: True  # no 2 s grace: the watcher below is the measure
    started = time.perf_counter()
    try:
        proc.start()
        seconds = world.wait_bound(n, started, timeout, alive=lambda: proc.running)
    finally:
        proc.stop()
    counts = count_requests(world.plane.audit_since(offset), exclude=(WATCH_AGENT, SETUP_AGENT, "kube-apiserver"))
    return RaceFigures(
        "CPI (real, as shipped)", n, seconds, counts.reads, counts.writes, extra={"clients": counts.by_client}
    )


def run_floor(world: RaceWorld, n: int, timeout: float, concurrency: int = HOST_WORKERS) -> RaceFigures:
    assert world.plane is not None
    nodes = world.fresh_nodes(n)
    core = world.core(FLOOR_AGENT)
    offset = world.plane.audit_offset()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda node: core.patch_node(node.name, node_patch(node)), nodes))
    patched = time.perf_counter() - started
    seconds = world.wait_bound(n, started, timeout)
    counts = count_requests(world.plane.audit_since(offset), clients=(FLOOR_AGENT,))
    return RaceFigures(
        f"floor (bare PATCHes, {concurrency} at a time)",
        n,
        seconds,
        counts.reads,
        counts.writes,
        extra={"patch_seconds": patched},
    )


def run_binding(
    world: RaceWorld,
    n: int,
    timeout: float,
    *,
    hosts: int = 1,
    parallel: int | None = None,
    skip_checkpoints: bool = False,
) -> RaceFigures:
    """``pulumi up`` of ``n`` enforce-mode NodeBindings (see the module docstring); with ``skip_checkpoints``,
    under ``PULUMI_SKIP_CHECKPOINTS=true`` (the engine writes the state once, at the end, instead of after
    every step: a crash mid-run then loses what the run did)."""
    from tests.support.world.project import make_project
    from tests.support.world.pulumi_cli import PulumiCli
    from toolchain.manifest import REPO_ROOT

    from .counting_host import STATS_ENV, launcher, read_stats

    assert world.plane is not None
    nodes = world.fresh_nodes(n)
    workdir = world.workdir / (f"binding-{n}-h{hosts}" + (f"-p{parallel}" if parallel else ""))
    template = workdir / "Pulumi.race.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    template.write_text("config: {}\n")
    cli = PulumiCli(make_project(workdir, "race", template), workdir, timeout=timeout)
    stats = workdir / "host-stats"
    env = cli.env
    env[STATS_ENV] = str(stats)
    env.pop("PULUMI_SKIP_CHECKPOINTS", None)
    if skip_checkpoints:
        env["PULUMI_SKIP_CHECKPOINTS"] = "true"
    script = workdir / "bin" / "pulumi-resource-pulumi-python"
    script.unlink()
    script.write_text(launcher(REPO_ROOT / ".venv" / "bin" / "python", REPO_ROOT))
    script.chmod(0o755)
    main = cli.project / "__main__.py"
    main.unlink()
    main.write_text(Path(__file__).with_name("binding_program.py").read_text())
    spec = {
        "server": world.target.address,
        "port": world.target.port,
        "datacenters": [f"DC{r}" for r in range(REGIONS)],
        "zone_category": ZONE_CATEGORY,
        "region_category": REGION_CATEGORY,
        "hosts": hosts,
        "timeout_seconds": int(timeout),
        "nodes": [
            {"name": x.name, "vm_uuid": x.bios_uuid, "vm_moid": x.moid, "zone": x.zone, "region": x.region}
            for x in nodes
        ],
    }
    (cli.project / "bindings.json").write_text(json.dumps(spec))
    cli.run("stack", "init", "race")
    cli.set_secret("vcUser", world.target.username)
    cli.set_secret("vcPassword", world.target.password)
    cli.set_secret("kubeconfig", world.plane.kubeconfig.read_text())
    args = ["pulumi", "up", "--yes", "--skip-preview", "--non-interactive"]
    if parallel:
        args += ["--parallel", str(parallel)]
    offset = world.plane.audit_offset()
    started = time.perf_counter()
    up = subprocess.Popen(args, cwd=cli.project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(up.stdout.read() if up.stdout else b""), daemon=True)
    reader.start()
    try:
        seconds = world.wait_bound(n, started, timeout, alive=lambda: up.poll() is None)
        up.wait(timeout=timeout)
        up_seconds = time.perf_counter() - started
    finally:
        if up.poll() is None:
            up.kill()
        reader.join(timeout=30)
        text = b"".join(output).decode(errors="replace")
        (workdir / "up.log").write_text(text)
    if up.returncode != 0:
        raise RuntimeError(f"pulumi up of {n} NodeBindings exited {up.returncode}:\n{text[-4000:]}")
    counts = count_requests(world.plane.audit_since(offset), exclude=(WATCH_AGENT, SETUP_AGENT, "kube-apiserver"))
    host = read_stats(stats)
    busy = sum(sum(h["call_seconds"].values()) for h in host)
    # The engine may start a host that is never called (seen at 500 nodes: one of two): only hosts that
    # served calls had workers to occupy.
    serving = [h for h in host if h["calls"]]
    span = max((h["busy_span_seconds"] for h in host), default=0.0)
    label = "NodeBinding (pulumi up, enforce)" + (f", {hosts} hosts" if hosts > 1 else "")
    if parallel:
        label += f", --parallel {parallel}"
    if skip_checkpoints:
        label += ", no checkpoints"
    return RaceFigures(
        label,
        n,
        seconds,
        counts.reads,
        counts.writes,
        round_trips=sum(h["soap_calls"] + h["rest_calls"] for h in host),
        logins=sum(h["soap_logins"] + h["rest_logins"] for h in host),
        extra={
            "up_seconds": up_seconds,
            "hosts": len(serving),
            "host_processes": len(host),
            "max_in_flight": max((h["max_in_flight"] for h in host), default=0),
            # calls' time over the time the hosts' workers had: 1.0 = every worker busy all along
            "worker_occupancy": busy / (HOST_WORKERS * len(serving) * span) if serving and span else 0.0,
            "provider_call_seconds": busy,
            "calls": {k: v for h in host for k, v in h["calls"].items()},
            "clients": counts.by_client,
        },
    )


def run(
    sizes: Sequence[int],
    workdir: Path,
    *,
    hosts: Sequence[int] = (1,),
    timeout: float = 1800.0,
    skip_checkpoints: bool = False,
    parallel: Sequence[int] = (0,),
    cpi: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[RaceFigures]:
    """Every contender at every size, on one world (vcsim with enough VMs for the largest size).

    NodeBinding runs once per host count and ``--parallel`` value (0: the CLI's default with one host, 4 per
    host with several); ``cpi=False`` leaves the real CPI out (to compare NodeBinding runs alone)."""
    world = RaceWorld(workdir).start(max(sizes))
    try:
        figures = []
        for n in sizes:
            if progress:
                progress(f"reconcile race: {n} nodes: CPI, NodeBinding, floor")
            if cpi:
                figures.append(run_cpi(world, n, timeout))
            for k in hosts:
                for p in parallel:
                    figures.append(
                        run_binding(
                            world,
                            n,
                            timeout,
                            hosts=k,
                            parallel=p or (None if k == 1 else 4 * k),
                            skip_checkpoints=skip_checkpoints,
                        )
                    )
            figures.append(run_floor(world, n, timeout))
        return figures
    finally:
        world.stop()
