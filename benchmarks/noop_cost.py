"""No-op cost through the real engine: a second ``pulumi up`` and a ``pulumi preview --refresh`` of an N-node stack.

The world (tests/support/world's pieces): vcsim of the benchmarks' layout (``engine_world``), etcd,
an audited kube-apiserver, kube-controller-manager and kube-scheduler, kwok, and the node agent
playing each VM's kubelet, and the real CPI, started (``tests.support.world.world.CpiLauncher``) once
the stack has deployed its config: it removes the nodes' uninitialized taint, without which no pod of
the stack (the CSI controller) is ever scheduled. The stack's NodeBindings run in ``enforce`` mode.

The stack is :func:`~benchmarks.engine_world.bench_config` of N nodes in ``existing`` mode (the
world's cluster, its kubeconfig as secret config). A first ``pulumi up`` creates the N VMs (so vcsim
then holds N VMs more) and binds the nodes; it is timed but is not the figure. Then, nothing having
changed: ``pulumi up`` again and ``pulumi preview --refresh``, each timed, with the vCenter round
trips and logins of the dynamic providers (``counting_host``: the dynamic-provider host with
counters) and the API server's reads and writes by the stack's own clients (the audit log, without
the world's controllers, kwok and the node agent). Importing does no I/O.

At 500 nodes on 2 shared cores the world itself needs three changes from the e2e world's (which runs a
handful of nodes), made here: kube-controller-manager judges a node lost only after an hour
(:data:`CONTROLLER_ARGS`), kwok's heartbeats come every 60-90 s instead of 5-8 s (:func:`bench_stages`),
and the node agent finds a VM in one vCenter read (:class:`GuestReporter`), not one per VM.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .engine_world import BenchControlPlane, count_requests, stack_document

AGENT_UA = "bench-node-agent"
# The world's own API clients (not the stack's): left out of the counts.
WORLD_CLIENTS = (
    "kube-controller-manager",
    "kube-scheduler",
    "kube-apiserver",
    "kwok",
    "vsphere-cloud-controller-manager",
    AGENT_UA,
)
SAME = re.compile(r"(\d+) unchanged")
SKIP_CHECKPOINTS = "PULUMI_SKIP_CHECKPOINTS"
# Late kwok heartbeats on a loaded machine (the world's 120 s grace) made the node lifecycle controller
# mark nodes Unknown and their pods NotReady; kwok never makes a Running pod Ready again, so the CSI
# DaemonSet stayed at 444/500 and the first up's await timed out. Nothing in the benchmark loses a node.
CONTROLLER_ARGS = ("--node-monitor-grace-period=3600s", "--node-startup-grace-period=3600s")
HEARTBEAT_SECONDS = 60  # 500 nodes every 5-8 s were ~75 audited status writes a second of world load
HEARTBEAT_STAGE = "world-node-heartbeat"


def bench_stages(text: str, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> str:
    """The world's kwok stages (YAML documents) with the node heartbeat every ``heartbeat_seconds``-1.5x that."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    beats = [d for d in docs if d.get("metadata", {}).get("name") == HEARTBEAT_STAGE]
    if len(beats) != 1:
        raise ValueError(f"kwok stages: expected one Stage named {HEARTBEAT_STAGE}, found {len(beats)}")
    ms = int(heartbeat_seconds * 1000)
    beats[0]["spec"]["delay"] = {"durationMilliseconds": ms, "jitterDurationMilliseconds": ms * 3 // 2}
    return yaml.safe_dump_all(docs, sort_keys=False)


@dataclass
class GuestReporter:
    """The node agent's ``report_guest`` at hundreds of VMs: the VM found by name in a cached name -> id map
    (one PropertyCollector read, again when a name is missing), then the world's ``SET.guest.*`` reconfigure.
    (The world's lookup, one read of every VM's name per call, was once a call per VM: ~1000 calls per node
    here, which held registration to ~12 nodes a minute.)"""

    content: Callable[[], Any]
    list_ids: Callable[[], dict[str, str]]  # VM name -> managed object id
    reconfigure: Callable[[Any, str, str], None]  # (VM object, name, address)
    ids: dict[str, str] = field(default_factory=dict)

    def __call__(self, vm_name: str, ip: str) -> None:
        if vm_name not in self.ids:
            self.ids = self.list_ids()
        moid = self.ids.get(vm_name)
        if moid is None:
            raise LookupError(f"VM {vm_name} not found among the powered-on VMs")
        from pyVmomi import vim

        self.reconfigure(vim.VirtualMachine(moid, self.content().propertyCollector._stub), vm_name, ip)


@dataclass(frozen=True)
class CommandFigures:
    command: str
    nodes: int
    seconds: float
    round_trips: int
    logins: int
    api_reads: int
    api_writes: int
    changes: str  # the CLI's summary line(s)
    clients: dict[str, tuple[int, int]] = field(default_factory=dict)


def summary(output: str) -> str:
    """The 'Resources:' block of a CLI run, on one line."""
    lines = output.splitlines()
    if "Resources:" not in [x.strip() for x in lines]:
        return "?"
    start = [x.strip() for x in lines].index("Resources:")
    out = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        out.append(line.strip())
    return ", ".join(out)


@dataclass
class NoopWorld:
    workdir: Path
    sim: Any = None
    target: Any = None
    plane: BenchControlPlane | None = None
    kwok: Any = None
    agent: Any = None
    cpi: Any = None
    expected: dict[str, bool] = field(default_factory=dict)

    def start(self) -> NoopWorld:
        from kubernetes import client
        from kubernetes import config as kube_config

        from providers.vcenter.connection import VCenterConnection
        from tests.support.world.kubelets import STAGES, NodeAgent, kwok_process, set_guest, vm_ids, vm_machines
        from tests.support.world.world import CpiLauncher

        from .engine_world import bench_vcsim, prepare_templates

        try:
            (self.workdir / "vcsim").mkdir(parents=True, exist_ok=True)
            self.sim = bench_vcsim(self.workdir / "vcsim")
            self.target = self.sim.start(timeout=180)
            prepare_templates(self.target)
            self.plane = BenchControlPlane(self.workdir / "cluster").start(
                controllers=True, controller_args=CONTROLLER_ARGS
            )
            self.kwok = kwok_process(self.plane.workdir, self.plane.kubeconfig)
            stages = self.plane.workdir / "kwok-stages.yaml"
            stages.write_text(bench_stages(STAGES.read_text()))
            self.kwok.args = [f"--config={stages}" if a.startswith("--config=") else a for a in self.kwok.args]
            self.kwok.start()
            api = kube_config.new_client_from_config(str(self.plane.kubeconfig))
            api.user_agent = AGENT_UA
            conn = VCenterConnection(self.target.endpoint())
            self.agent = NodeAgent(
                client.CoreV1Api(api),
                lambda: vm_machines(conn.service_content()),
                lambda: self.expected,
                report_guest=GuestReporter(conn.service_content, lambda: vm_ids(conn.service_content()), set_guest),
                log_path=self.workdir / "logs" / "node-agent.log",
            )
            self.agent.start()
            admin = kube_config.new_client_from_config(str(self.plane.kubeconfig))
            admin.user_agent = AGENT_UA  # the launcher's polling is the world's, not the stack's
            self.cpi = CpiLauncher(self.plane.workdir, client.CoreV1Api(admin), self.plane.control_plane)
            self.cpi.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for stop in (
            self.cpi.stop if self.cpi else None,
            self.agent.stop if self.agent else None,
            self.kwok.stop if self.kwok else None,
            self.plane.stop if self.plane else None,
            self.sim.stop if self.sim else None,
        ):
            if stop is not None:
                stop()


def stack_config(nodes: int, port: int) -> dict[str, Any]:
    from .engine_world import bench_config

    raw = bench_config(
        nodes,
        port,
        kubernetes={"version": "1.36.3", "mode": "existing"},
        nodeBinding={"mode": "enforce", "timeoutSeconds": 600},
    )
    raw["nodePools"]["waitForGuestNetMinutes"] = 0  # the simulator's guests never report an address
    return raw


def _timed(cli: Any, world: NoopWorld, stats: Path, nodes: int, name: str, *args: str) -> CommandFigures:
    from .counting_host import read_stats

    assert world.plane is not None
    shutil.rmtree(stats, ignore_errors=True)
    offset = world.plane.audit_offset()
    started = time.perf_counter()
    proc = cli.run(*args)
    seconds = time.perf_counter() - started
    time.sleep(0.5)  # the audit log is written as requests complete; let the last lines land
    counts = count_requests(world.plane.audit_since(offset), exclude=WORLD_CLIENTS)
    host = read_stats(stats)
    return CommandFigures(
        command=name,
        nodes=nodes,
        seconds=seconds,
        round_trips=sum(h["soap_calls"] + h["rest_calls"] for h in host),
        logins=sum(h["soap_logins"] + h["rest_logins"] for h in host),
        api_reads=counts.reads,
        api_writes=counts.writes,
        changes=summary(proc.stdout),
        clients=counts.by_client,
    )


def measure(nodes: int, workdir: Path, *, skip_checkpoints: bool = False) -> list[CommandFigures]:
    """First up (info), second up and preview --refresh of an N-node stack on a world of its own.

    With ``skip_checkpoints`` the first up (the creates, not a figure) runs with ``PULUMI_SKIP_CHECKPOINTS=true``:
    its per-step state save is O(N) a step; the second up and the refresh, the figures, run as users run them,
    then (info) the refresh again with ``PULUMI_SKIP_CHECKPOINTS=true``."""
    from tests.support.world.project import planned_nodes
    from toolchain.manifest import REPO_ROOT

    from .counting_host import STATS_ENV, launcher
    from .engine_world import open_project

    shutil.rmtree(workdir, ignore_errors=True)
    world = NoopWorld(workdir).start()
    try:
        assert world.plane is not None
        raw = stack_config(nodes, world.target.port)
        kubeconfig = world.plane.kubeconfig.read_text()
        cli = open_project(workdir, raw, world.target, secrets={"kubernetes.kubeconfig": kubeconfig})
        stats = workdir / "host-stats"
        cli.env[STATS_ENV] = str(stats)
        script = workdir / "bin" / "pulumi-resource-pulumi-python"
        script.unlink()
        script.write_text(launcher(REPO_ROOT / ".venv" / "bin" / "python", REPO_ROOT))
        script.chmod(0o755)
        planning = dict(raw, credentials={"vc": {"username": "planner@vsphere.local", "password": "-"}})
        planning["kubernetes"] = dict(raw["kubernetes"], kubeconfig=kubeconfig)
        stack_file = workdir / "planned.yaml"
        stack_file.write_text(yaml.safe_dump(stack_document(planning)))
        world.expected.update(planned_nodes(stack_file, {"credentials": planning["credentials"]}))
        cli.env.pop(SKIP_CHECKPOINTS, None)
        if skip_checkpoints:
            cli.env[SKIP_CHECKPOINTS] = "true"
        first_label = "first up (creates)" + (", no checkpoints" if skip_checkpoints else "")
        first = _timed(cli, world, stats, nodes, first_label, "up", "--yes", "--skip-preview")
        cli.env.pop(SKIP_CHECKPOINTS, None)
        second = _timed(cli, world, stats, nodes, "second up (no-op)", "up", "--yes", "--skip-preview")
        refresh = _timed(cli, world, stats, nodes, "preview --refresh", "preview", "--refresh")
        if not skip_checkpoints:
            return [first, second, refresh]
        # Info: how much of the refresh's wall time is the engine's per-step snapshot (O(N) a step).
        cli.env[SKIP_CHECKPOINTS] = "true"
        bare = _timed(cli, world, stats, nodes, "preview --refresh, no checkpoints", "preview", "--refresh")
        cli.env.pop(SKIP_CHECKPOINTS, None)
        return [first, second, refresh, bare]
    finally:
        world.stop()


def run(
    sizes: Sequence[int],
    workdir: Path,
    progress: Callable[[str], None] | None = None,
    *,
    skip_checkpoints: bool = False,
) -> list[CommandFigures]:
    out = []
    for n in sizes:
        if progress:
            progress(f"no-op: {n} nodes (first up, second up, preview --refresh)")
        figures = measure(n, workdir / f"noop-{n}", skip_checkpoints=skip_checkpoints)
        if progress:  # each size's figures as soon as they are known: a later size may fail
            for f in figures:
                progress(
                    f"  {n} nodes, {f.command}: {f.seconds:.1f} s, {f.round_trips} vC round trips, {f.logins} logins,"
                    f" API {f.api_reads} reads / {f.api_writes} writes, {f.changes}"
                )
        out.extend(figures)
    return out
