"""Day-2 changes through the real CLI (issue 16): a drained scale-down, a rolling worker template
change, a control-plane roll one node at a time (its etcd step skipped: this stack has no etcd access)
and a worker roll with maxSurge 0 / maxUnavailable 1 (each old node retired before its replacement,
under the same name).

A world of its own (vcsim, a real API server and scheduler, kwok running the pods, the real CPI):
the steps change the node set, which the lifecycle steps sharing the package world must not see.
A recorder polls the API server and vCenter while each `up` runs and keeps when each thing was
first seen (a VM, a Node Ready, a cordon, a node emptied of pods, a Node or VM gone) and the
lowest health each PodDisruptionBudget reported, so the order of operations is asserted, not assumed.
A name seen again after its Node (or VM) was gone is another machine: its events read ``<name>#1``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from kubernetes import client, watch
from pyVmomi import vim, vmodl

from tests.support.world.project import STACK_TEMPLATES, open_local_stack
from tests.support.world.pulumi_cli import PulumiCli
from tests.support.world.world import World
from toolchain.manifest import REPO_ROOT
from vsphere_k8s.loader import load
from vsphere_k8s.plan.nodes import plan_nodes
from vsphere_k8s.stack_file import read_stack_file

STACK = "day2"
NS = "default"
WORKERS = "general"
TEMPLATE = "DC0_C0_RP0_VM0"  # the stack's node template
NEW_TEMPLATE = "DC0_C1_RP0_VM0"  # another of the simulator's VMs: a new node template
HOSTNAME = "kubernetes.io/hostname"


def _plain(obj: Any) -> dict[str, Any]:
    """An API object as the API server serialises it (camelCase keys)."""
    out: dict[str, Any] = client.ApiClient().sanitize_for_serialization(obj)
    return out


def _items(listing: Any) -> list[dict[str, Any]]:
    return list(_plain(listing).get("items") or [])


def _on(pod: dict[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _phase(pod: dict[str, Any]) -> str:
    return "Terminating" if pod["metadata"].get("deletionTimestamp") else str((pod.get("status") or {}).get("phase"))


def _powered_on(content: Any) -> dict[str, str]:
    """Name -> managed object id of every powered-on VM, in one PropertyCollector read. The id, not the
    BIOS UUID: vcsim derives a VM's UUID from its path, so a VM replaced under its name keeps it."""
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        pc = vmodl.query.PropertyCollector
        spec = pc.FilterSpec(
            objectSet=[
                pc.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[pc.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)],
                )
            ],
            propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=["name", "runtime.powerState"])],
        )
        found: dict[str, str] = {}
        for obj in content.propertyCollector.RetrieveContents([spec]) or []:
            props = {p.name: p.val for p in obj.propSet}
            if props.get("runtime.powerState") == "poweredOn":
                found[str(props["name"])] = str(obj.obj._moId)
        return found
    finally:
        view.Destroy()


def _node_names(core: client.CoreV1Api) -> set[str]:
    return {n["metadata"]["name"] for n in _items(core.list_node())}


@dataclass
class Recorder:
    """First-seen times of what the roll does: Nodes and pods from API server watches (a cordon and
    a Node deletion a few milliseconds apart are both seen), VMs and PDB health polled."""

    core: client.CoreV1Api
    policy: client.PolicyV1Api
    vms: Callable[[], dict[str, str]]  # powered-on VM name -> its managed object id
    pool: set[str] = field(default_factory=set)  # node names whose availability is counted
    interval: float = 0.2
    events: dict[str, float] = field(default_factory=dict)  # "<what> <name>" -> first seen (monotonic)
    min_healthy: dict[str, int] = field(default_factory=dict)  # PDB -> lowest currentHealthy seen
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    polls: int = 0
    min_available: int | None = None  # fewest of ``pool`` Ready and schedulable at once, during the `up`
    _available: set[str] = field(default_factory=set)
    _counting: bool = False
    _node_gen: dict[str, int] = field(default_factory=dict)  # name -> Nodes of that name seen gone
    _vm_gen: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen_vms: dict[str, str] = field(default_factory=dict)  # name -> the managed object id last seen
    _running: dict[str, str] = field(default_factory=dict)  # pod -> node, pods running (not terminating)

    def _note(self, what: str) -> None:
        self.events.setdefault(what, time.monotonic())

    @staticmethod
    def _as(name: str, gen: int) -> str:
        return f"{name}#{gen}" if gen else name

    def _drained(self) -> None:
        for key in [k for k in self.events if k.startswith("cordon ")]:
            node = key.split(" ", 1)[1]
            if node.split("#", 1)[0] not in self._running.values():
                self._note(f"drained {node}")

    def _count(self, name: str, available: bool) -> None:
        (self._available.add if available else self._available.discard)(name)
        if self._counting:
            now = len(self._available & self.pool)
            self.min_available = now if self.min_available is None else min(self.min_available, now)

    def _node(self, kind: str, node: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        with self._lock:
            this = self._as(name, self._node_gen.get(name, 0))
            if kind == "DELETED":
                self._note(f"node-gone {this}")
                self._node_gen[name] = self._node_gen.get(name, 0) + 1
                self._count(name, False)
                return
            conditions = (node.get("status") or {}).get("conditions") or []
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            cordoned = bool((node.get("spec") or {}).get("unschedulable"))
            if ready:
                self._note(f"ready {this}")
            if cordoned:
                self._note(f"cordon {this}")
            self._count(name, ready and not cordoned)
            self._drained()

    def _pod(self, kind: str, pod: dict[str, Any]) -> None:
        key = f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
        with self._lock:
            if kind != "DELETED" and _phase(pod) == "Running" and _on(pod):
                self._running[key] = _on(pod)
            else:
                self._running.pop(key, None)
            self._drained()

    def _watch(self, lister: Callable[..., Any], handle: Callable[[str, dict[str, Any]], None]) -> None:
        known: dict[tuple[str, str], dict[str, Any]] = {}

        def key(obj: dict[str, Any]) -> tuple[str, str]:
            return str(obj["metadata"].get("namespace") or ""), str(obj["metadata"]["name"])

        def relist() -> str:
            """List afresh; what went meanwhile is handled as deleted (a watch can't resume from a
            compacted version: after a few quiet minutes, e.g. a long roll's creates, it answers 410)."""
            listing = _plain(lister())
            items = {key(i): i for i in listing.get("items") or []}
            for k in list(known):  # gone, or gone and made again under the name (another uid)
                if k not in items or items[k]["metadata"].get("uid") != known[k]["metadata"].get("uid"):
                    handle("DELETED", known.pop(k))
            for k, item in items.items():
                known[k] = item
                handle("ADDED", item)
            return str(listing["metadata"]["resourceVersion"])

        version = relist()
        while not self._stop.is_set():
            try:
                for event in watch.Watch().stream(lister, resource_version=version, timeout_seconds=2):
                    obj = _plain(event["object"])
                    version = obj["metadata"]["resourceVersion"]
                    if event["type"] == "DELETED":
                        known.pop(key(obj), None)
                    else:
                        known[key(obj)] = obj
                    handle(str(event["type"]), obj)
            except Exception as e:  # a loaded machine's hiccup, or a compacted version: list again
                self.errors.append(repr(e))
                try:
                    version = relist()
                except Exception as again:
                    self.errors.append(repr(again))

    def poll(self) -> None:
        vms = self.vms()
        with self._lock:
            for vm, moid in self._seen_vms.items():
                # Powered off and destroyed (the VM's delete), or another VM under the name already.
                if vms.get(vm) != moid:
                    self._note(f"vm-gone {self._as(vm, self._vm_gen.get(vm, 0))}")
                    self._vm_gen[vm] = self._vm_gen.get(vm, 0) + 1
            for vm in vms:
                self._note(f"vm {self._as(vm, self._vm_gen.get(vm, 0))}")
            self._seen_vms = dict(vms)
        for pdb in _items(self.policy.list_namespaced_pod_disruption_budget(NS)):
            status = pdb.get("status") or {}
            have, want = status.get("currentHealthy"), status.get("desiredHealthy")
            if have is None or want is None:
                continue
            name = pdb["metadata"]["name"]
            self.min_healthy[name] = min(self.min_healthy.get(name, have), have)
            if have < want:
                self.violations.append(f"{name}: {have} healthy < {want}")
        self.polls += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as e:  # a transient hiccup of a loaded machine: the next poll sees it
                self.errors.append(repr(e))

    def __enter__(self) -> Recorder:
        self.poll()
        self._threads = [
            threading.Thread(target=self._run, name="day2-poll", daemon=True),
            threading.Thread(target=self._watch, args=(self.core.list_node, self._node), daemon=True),
            # The test's own pods: DaemonSet pods (the CSI node plugin) are not evicted by a drain.
            threading.Thread(
                target=self._watch, args=(partial(self.core.list_namespaced_pod, NS), self._pod), daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
        time.sleep(1)  # the watches have listed what is there before the `up` starts
        with self._lock:
            self._counting = True
            self.min_available = len(self._available & self.pool)
        return self

    def __exit__(self, *_exc: object) -> None:
        time.sleep(1)  # the last events reach the watches
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.poll()

    def at(self, what: str) -> float:
        assert what in self.events, f"never saw {what!r}; saw {sorted(self.events)}"
        return self.events[what]

    def order(self) -> list[str]:
        start = min(self.events.values())
        return [f"{t - start:7.1f}s {k}" for k, t in sorted(self.events.items(), key=lambda kv: kv[1])]


@dataclass
class Day2:
    world: World
    cli: PulumiCli
    expected: dict[str, bool]

    def slots(self) -> dict[str, Any]:
        return dict(self.cli.outputs()["nodeSlots"])

    def planned(self) -> dict[str, str]:
        """Slot -> node name the next run plans, from the stack file and the last run's record."""
        raw, _ = read_stack_file(self.cli.project / "stacks" / f"Pulumi.{STACK}.yaml")
        raw.update(
            credentials={"sim": {"username": "planner@vsphere.local", "password": "-"}},
            kubernetes={"version": "1.36.3", "mode": "existing", "kubeconfig": self.world.kubeconfig.read_text()},
        )
        return {n.key: n.name for n in plan_nodes(load(raw, stack=STACK), self.slots())}

    def recorder(self, pool: set[str] | None = None) -> Recorder:
        core = self.world.core()
        policy = client.PolicyV1Api(core.api_client)
        content = self.world.vsphere_content()
        return Recorder(core, policy, lambda: _powered_on(content), pool or set())

    def up(self, pool: set[str] | None = None) -> tuple[Recorder, Steps, float]:
        with self.recorder(pool) as rec:
            started = time.monotonic()
            out = self.cli.run("up", "--yes", "--skip-preview", "--json").stdout  # the engine's events
            took = time.monotonic() - started
        return rec, Steps.parse(out), took


@dataclass
class Steps:
    """The engine's own order of the steps (`up --json`): (sequence, "pre"|"done", op, logical name)."""

    events: list[tuple[int, str, str, str]]

    @classmethod
    def parse(cls, text: str) -> Steps:
        events = []
        for line in text.splitlines():
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            for key, kind in (("resourcePreEvent", "pre"), ("resOutputsEvent", "done")):
                meta = (event.get(key) or {}).get("metadata")
                if meta:
                    events.append((int(event["sequence"]), kind, str(meta["op"]), str(meta["urn"]).rsplit("::", 1)[1]))
        return cls(events)

    def at(self, kind: str, op: str, name: str) -> int:
        seqs = [seq for seq, k, o, n in self.events if (k, o, n) == (kind, op, name)]
        assert seqs, f"no {kind} {op} of {name}; steps: {sorted({(o, n) for _, _, o, n in self.events if o != 'same'})}"
        return seqs[0]

    def ops(self, *ops: str) -> list[tuple[str, str]]:
        return [(o, n) for _, k, o, n in self.events if k == "pre" and o in ops]


@pytest.fixture(scope="module")
def day2() -> Iterator[Day2]:
    # Always the local world, also when the tier targets a real site: kwok runs these pods.
    workdir = REPO_ROOT / "build" / "e2e" / f"day2-{time.strftime('%Y%m%d-%H%M%S')}"
    expected: dict[str, bool] = {}
    world = World(workdir, expected_nodes=lambda: expected)
    world.start()
    try:
        cli = open_local_stack(world, STACK, STACK_TEMPLATES / "Pulumi.local.yaml", expected)
        cli.run("up", "--yes", "--skip-preview")
        yield Day2(world, cli, expected)
    finally:
        world.stop()


def _app(core: client.CoreV1Api, apps: client.AppsV1Api, policy: client.PolicyV1Api, name: str, **spec: Any) -> None:
    """A Deployment of ``replicas`` pods and a PDB with ``min_available``; ``nodes`` pins it there."""
    labels = {"app": name}
    pod_spec: dict[str, Any] = {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}
    if spec.get("nodes"):
        pod_spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": HOSTNAME, "operator": "In", "values": spec["nodes"]}]}
                    ]
                }
            },
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": labels}, "topologyKey": HOSTNAME}
                ]
            },
        }
    # Plain manifests, as kubectl sends them (the client serialises dicts as they are).
    deployment: Any = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": spec["replicas"],
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
    budget_manifest: Any = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"minAvailable": spec["min_available"], "selector": {"matchLabels": labels}},
    }
    apps.create_namespaced_deployment(NS, deployment)
    policy.create_namespaced_pod_disruption_budget(NS, budget_manifest)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        pods = _items(core.list_namespaced_pod(NS, label_selector=f"app={name}"))
        budget = _plain(policy.read_namespaced_pod_disruption_budget(name, NS)).get("status") or {}
        if [_phase(p) for p in pods] == ["Running"] * spec["replicas"] and budget.get("currentHealthy") == len(pods):
            return
        time.sleep(1)
    raise AssertionError(f"{name}: pods not running within 180s: {[(_on(p), _phase(p)) for p in pods]}")


def _logged_preview(cli: PulumiCli) -> str:
    """`pulumi preview --diff` with its diagnostics (the roll plan: the CLI writes them to stderr with --diff)."""
    result = cli.run("preview", "--diff")
    return result.stdout + result.stderr


def _report(what: str, rec: Recorder, took: float) -> None:
    lines = [f"{what}: `pulumi up` {took:.1f}s, {rec.polls} polls, {len(rec.errors)} failed polls; order:"]
    print("\n" + "\n  ".join([*lines, *rec.order()]))


def test_1_scale_down_drains_before_the_vm_goes_and_honours_the_pdb(day2: Day2) -> None:
    core = day2.world.core()
    apps = client.AppsV1Api(core.api_client)
    policy = client.PolicyV1Api(core.api_client)
    names = day2.planned()
    victim = names[f"{WORKERS}-local-a-1"]
    # One pod on each of three workers (the victim among them); the PDB lets one go at a time.
    pinned = [victim, names[f"{WORKERS}-local-b-0"], names[f"{WORKERS}-local-c-0"]]
    _app(core, apps, policy, "pinned", replicas=3, min_available=2, nodes=pinned)
    assert victim in {_on(p) for p in _items(core.list_namespaced_pod(NS, label_selector="app=pinned"))}
    day2.cli.run("config", "set", "--path", "nodePools.workers[0].replicas.local-a", "1")
    preview = _logged_preview(day2.cli)
    assert f"retire {WORKERS}-local-a-1: scale-down" in preview, preview[-4000:]

    rec, steps, took = day2.up()
    _report("scale-down", rec, took)
    slot = f"{WORKERS}-local-a-1"
    assert rec.at(f"cordon {victim}") <= rec.at(f"drained {victim}") <= rec.at(f"node-gone {victim}")
    assert rec.at(f"drained {victim}") < rec.at(f"vm-gone {victim}"), "the VM went before its node was drained"
    # The engine finished the retirement (drain, Node deleted) before it began deleting the VM.
    assert steps.at("done", "delete", f"local-retire-{slot}") < steps.at(
        "pre", "delete", f"local-{WORKERS}-vm-local-a-1"
    )
    assert {n for _, n in steps.ops("create", "update", "replace", "create-replacement")} <= {
        f"local-{WORKERS}-anti-affinity-DC0-DC0_C0"  # the zone's rule, now without the removed VM
    }
    assert not rec.violations, rec.violations
    assert rec.min_healthy["pinned"] >= 2
    assert victim not in _node_names(core)
    # Nothing else was touched.
    assert not [k for k in rec.events if k.startswith(("cordon ", "vm-gone ")) and victim not in k]
    day2.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")  # a second `up` changes nothing
    apps.delete_namespaced_deployment("pinned", NS)
    policy.delete_namespaced_pod_disruption_budget("pinned", NS)


def test_2_a_template_change_rolls_the_workers_create_before_delete(day2: Day2) -> None:
    core = day2.world.core()
    apps = client.AppsV1Api(core.api_client)
    policy = client.PolicyV1Api(core.api_client)
    before = day2.slots()
    _app(core, apps, policy, "spread", replicas=2, min_available=1)
    day2.cli.run("config", "set", "--path", "nodePools.workers[0].template", NEW_TEMPLATE)
    after = day2.planned()
    workers = sorted(k for k in after if k.startswith(f"{WORKERS}-"))
    old = {k: before[k]["name"] for k in workers}
    new = {k: after[k] for k in workers}
    assert all(old[k] != new[k] for k in workers)
    assert all(after[k] == before[k]["name"] for k in after if k not in workers)  # the control plane stays
    day2.expected.update(dict.fromkeys(new.values(), False))  # their kubelets register once the VMs boot
    preview = _logged_preview(day2.cli)
    for k in workers:
        assert f"replace {old[k]} -> {new[k]}: template" in preview, preview[-4000:]

    rec, steps, took = day2.up()
    _report("worker template roll", rec, took)
    # The engine's order: every replacement created before any old node's retirement is deleted,
    # and each old VM deleted only after its retirement (drain, Node deleted) is done.
    creates = [steps.at("done", "create-replacement", f"local-retire-{k}") for k in workers]
    retires = [steps.at("pre", "delete-replaced", f"local-retire-{k}") for k in workers]
    assert max(creates) < min(retires)
    for k in workers:
        zone, ordinal = k.removeprefix(f"{WORKERS}-").rsplit("-", 1)
        vm = f"local-{WORKERS}-vm-{zone}-{ordinal}"
        assert steps.at("done", "delete-replaced", f"local-retire-{k}") < steps.at("pre", "delete-replaced", vm)
    assert not rec.violations, rec.violations
    assert rec.min_healthy["spread"] >= 1
    # maxSurge 1: each new VM after the previous new node was Ready, in plan order.
    for a, b in itertools.pairwise(workers):
        assert rec.at(f"ready {new[a]}") <= rec.at(f"vm {new[b]}"), (a, b)
    # Create before delete: every new node Ready before any old one is cordoned.
    last_ready = max(rec.at(f"ready {new[k]}") for k in workers)
    for k in workers:
        assert last_ready <= rec.at(f"cordon {old[k]}")
        assert rec.at(f"cordon {old[k]}") <= rec.at(f"drained {old[k]}") <= rec.at(f"node-gone {old[k]}")
        assert rec.at(f"drained {old[k]}") < rec.at(f"vm-gone {old[k]}")
    live = _node_names(core)
    assert set(new.values()) <= live and not set(old.values()) & live
    slots = day2.slots()
    assert {k: slots[k]["name"] for k in workers} == new
    day2.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")  # a second `up` changes nothing


def test_3_a_control_plane_roll_replaces_one_node_at_a_time(day2: Day2) -> None:
    core = day2.world.core()
    before = day2.slots()
    day2.cli.run("config", "set", "--path", "nodePools.controlPlane.template", NEW_TEMPLATE)
    after = day2.planned()
    cps = sorted(k for k in after if k.startswith("cp-"))
    old = {k: before[k]["name"] for k in cps}
    new = {k: after[k] for k in cps}
    assert len(cps) == 3 and all(old[k] != new[k] for k in cps)
    day2.expected.update(dict.fromkeys(new.values(), True))
    preview = _logged_preview(day2.cli)
    # The e2e stack has no kubernetes.etcd: the program says it cannot remove the members.
    assert "its etcd member is not removed" in preview

    rec, steps, took = day2.up()
    _report("control-plane template roll", rec, took)
    assert not rec.violations, rec.violations
    # One at a time: each new control-plane VM only once the previous new node is Ready ...
    for a, b in itertools.pairwise(cps):
        assert rec.at(f"ready {new[a]}") <= rec.at(f"vm {new[b]}"), (a, b)
    # ... every new one before any old one is retired, and the old ones retired one after another,
    # in reverse (each Node gone before the next is cordoned), each before its VM.
    assert max(rec.at(f"ready {new[k]}") for k in cps) <= min(rec.at(f"cordon {old[k]}") for k in cps)
    for later, earlier in itertools.pairwise(reversed(cps)):
        assert rec.at(f"node-gone {old[later]}") <= rec.at(f"cordon {old[earlier]}"), (later, earlier)
    for k in cps:
        zone = k.removeprefix("cp-").rsplit("-", 1)[0]
        assert steps.at("done", "delete-replaced", f"local-retire-{k}") < steps.at(
            "pre", "delete-replaced", f"local-cp-vm-{zone}-0"
        )
    live = _node_names(core)
    assert set(new.values()) <= live and not set(old.values()) & live
    day2.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_4_max_unavailable_retires_each_worker_before_its_replacement_under_its_name(day2: Day2) -> None:
    core = day2.world.core()
    apps = client.AppsV1Api(core.api_client)
    policy = client.PolicyV1Api(core.api_client)
    before = day2.slots()
    workers = sorted(k for k in before if k.startswith(f"{WORKERS}-"))
    names = {k: before[k]["name"] for k in workers}
    assert len(workers) == 3, workers  # after the scale-down: one in each zone
    # One pod pinned to each worker; the PDB lets one go at a time: an evicted pod waits (Pending)
    # for its node's replacement, so the next drain is refused until it runs there again.
    _app(core, apps, policy, "rolling", replicas=3, min_available=2, nodes=list(names.values()))
    raw, _ = read_stack_file(day2.cli.project / "stacks" / f"Pulumi.{STACK}.yaml")
    template = NEW_TEMPLATE if raw["nodePools"]["workers"][0]["template"] == TEMPLATE else TEMPLATE
    for key, value in (("maxSurge", "0"), ("maxUnavailable", "1"), ("template", template)):
        day2.cli.run("config", "set", "--path", f"nodePools.workers[0].{key}", value)
    assert {k: v for k, v in day2.planned().items() if k in workers} == names  # the names stay
    preview = _logged_preview(day2.cli)
    for k in workers:
        assert f"replace {names[k]} (deleted first, same name): template" in preview, preview[-4000:]

    rec, steps, took = day2.up(pool=set(names.values()))
    _report("worker roll, maxSurge 0 / maxUnavailable 1", rec, took)
    print("engine steps:", [(o, n) for o, n in steps.ops("delete-replaced", "create-replacement", "replace")])
    for k in workers:
        n = names[k]
        zone, ordinal = k.removeprefix(f"{WORKERS}-").rsplit("-", 1)
        vm = f"local-{WORKERS}-vm-{zone}-{ordinal}"
        # Seen: the old node cordoned, drained, its Node deleted, its VM deleted; only then the new VM
        # (the same name, another machine) and its Node Ready.
        assert rec.at(f"cordon {n}") <= rec.at(f"drained {n}") <= rec.at(f"node-gone {n}"), k
        assert rec.at(f"node-gone {n}") < rec.at(f"vm-gone {n}") <= rec.at(f"vm {n}#1") <= rec.at(f"ready {n}#1"), k
        # The engine's order: the retirement's delete (drain) done before the VM's delete begins, the
        # VM's delete done before its replacement is created.
        assert steps.at("done", "delete-replaced", f"local-retire-{k}") < steps.at("pre", "delete-replaced", vm)
        assert steps.at("done", "delete-replaced", vm) < steps.at("pre", "create-replacement", vm)
    # One at a time: the next old node is cordoned only once the previous replacement is Ready.
    for a, b in itertools.pairwise(workers):
        assert rec.at(f"ready {names[a]}#1") <= rec.at(f"cordon {names[b]}"), (a, b)
        assert steps.at("done", "create-replacement", f"local-retire-{a}") < steps.at(
            "pre", "delete-replaced", f"local-retire-{b}"
        )
    # Never more than maxUnavailable of the pool unavailable, and no budget broken.
    assert rec.min_available == len(workers) - 1, rec.min_available
    assert not rec.violations, rec.violations
    assert rec.min_healthy["rolling"] >= 2
    # Nothing else was retired: the control plane's nodes were not touched.
    assert not [
        e for e in rec.events if e.startswith("cordon ") and e.split(" ", 1)[1].split("#")[0] not in names.values()
    ]
    live = _node_names(core)
    assert set(names.values()) <= live
    slots = day2.slots()
    assert {k: slots[k]["name"] for k in workers} == names
    assert all(slots[k]["generation"] != before[k]["generation"] for k in workers)
    day2.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")  # a second `up` changes nothing
    apps.delete_namespaced_deployment("rolling", NS)
    policy.delete_namespaced_pod_disruption_budget("rolling", NS)
