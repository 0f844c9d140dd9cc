"""The day-2 e2e modules' shared pieces: a recorder of what a roll does, the engine's step order, the
stack's planned node names, a Deployment under a PodDisruptionBudget.

The recorder polls the API server and vCenter while an `up` runs and keeps when each thing was first
seen (a VM, a Node Ready, a cordon, a node emptied of pods, a Node or VM gone) and the lowest health each
PodDisruptionBudget reported, so a test asserts the order of operations rather than assuming it. A name
seen again after its Node (or VM) was gone is another machine: its events read ``<name>#1``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kubernetes import client, watch

from vsphere_k8s.loader import load
from vsphere_k8s.plan.nodes import plan_nodes
from vsphere_k8s.stack_file import read_stack_file

from . import vms
from .pulumi_cli import PulumiCli
from .world import World

STACK = "day2"
NS = "default"
WORKERS = "general"
TEMPLATE = "DC0_C0_RP0_VM0"  # the stack's node template
NEW_TEMPLATE = "DC0_C1_RP0_VM0"  # another of the simulator's VMs: a new node template
HOSTNAME = "kubernetes.io/hostname"


def plain(obj: Any) -> dict[str, Any]:
    """An API object as the API server serialises it (camelCase keys)."""
    out: dict[str, Any] = client.ApiClient().sanitize_for_serialization(obj)
    return out


def items(listing: Any) -> list[dict[str, Any]]:
    return list(plain(listing).get("items") or [])


def on_node(pod: dict[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def phase(pod: dict[str, Any]) -> str:
    return "Terminating" if pod["metadata"].get("deletionTimestamp") else str((pod.get("status") or {}).get("phase"))


def powered_on(content: Any) -> dict[str, str]:
    """Name -> managed object id of every powered-on VM, in one PropertyCollector read. The id, not the
    BIOS UUID: vcsim derives a VM's UUID from its path, so a VM replaced under its name keeps it."""
    return {str(props["name"]): moid for moid, props in vms.powered_on(content)}


def node_names(core: client.CoreV1Api) -> set[str]:
    return {n["metadata"]["name"] for n in items(core.list_node())}


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
    _vm_read: threading.Lock = field(default_factory=threading.Lock)  # taken before _lock, never inside it
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
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = kind != "DELETED" and any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        if ready:
            with self._lock:
                first = f"ready {self._as(name, self._node_gen.get(name, 0))}" not in self.events
            if first:
                # A Node is Ready only once its VM runs: read vCenter before stamping it, so a VM poll
                # that has not come round yet cannot put the VM after its Node.
                self._sync_vms()
        with self._lock:
            this = self._as(name, self._node_gen.get(name, 0))
            if kind == "DELETED":
                self._note(f"node-gone {this}")
                self._node_gen[name] = self._node_gen.get(name, 0) + 1
                self._count(name, False)
                return
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
            if kind != "DELETED" and phase(pod) == "Running" and on_node(pod):
                self._running[key] = on_node(pod)
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
            listing = plain(lister())
            listed = {key(i): i for i in listing.get("items") or []}
            for k in list(known):  # gone, or gone and made again under the name (another uid)
                if k not in listed or listed[k]["metadata"].get("uid") != known[k]["metadata"].get("uid"):
                    handle("DELETED", known.pop(k))
            for k, item in listed.items():
                known[k] = item
                handle("ADDED", item)
            return str(listing["metadata"]["resourceVersion"])

        version = relist()
        while not self._stop.is_set():
            try:
                for event in watch.Watch().stream(lister, resource_version=version, timeout_seconds=2):
                    obj = plain(event["object"])
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

    def _sync_vms(self) -> None:
        # One read and its bookkeeping at a time (the poll's and a watch's): an older read applied
        # after a newer one would see a VM go and come back.
        with self._vm_read:
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

    def poll(self) -> None:
        self._sync_vms()
        for pdb in items(self.policy.list_namespaced_pod_disruption_budget(NS)):
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
        return Recorder(core, policy, lambda: powered_on(content), pool or set())

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


def assert_control_plane_rolled_in_order(
    rec: Recorder, steps: Steps, cps: Sequence[str], *, old: Mapping[str, str], new: Mapping[str, str], stack: str
) -> None:
    """A control-plane roll's order (issue 16): each new VM only once the previous new node is Ready;
    every new one Ready before any old one is cordoned; the old ones retired one after another in
    reverse (each Node gone before the next is cordoned), each retirement before its VM's delete."""
    for a, b in itertools.pairwise(cps):
        assert rec.at(f"ready {new[a]}") <= rec.at(f"vm {new[b]}"), (a, b)
    assert max(rec.at(f"ready {new[k]}") for k in cps) <= min(rec.at(f"cordon {old[k]}") for k in cps)
    for later, earlier in itertools.pairwise(reversed(cps)):
        assert rec.at(f"node-gone {old[later]}") <= rec.at(f"cordon {old[earlier]}"), (later, earlier)
    for k in cps:
        zone = k.removeprefix("cp-").rsplit("-", 1)[0]
        assert steps.at("done", "delete-replaced", f"{stack}-retire-{k}") < steps.at(
            "pre", "delete-replaced", f"{stack}-cp-vm-{zone}-0"
        )
        assert rec.at(f"node-gone {old[k]}") < rec.at(f"vm-gone {old[k]}")


def deploy_app(
    core: client.CoreV1Api, apps: client.AppsV1Api, policy: client.PolicyV1Api, name: str, **spec: Any
) -> None:
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
        pods = items(core.list_namespaced_pod(NS, label_selector=f"app={name}"))
        budget = plain(policy.read_namespaced_pod_disruption_budget(name, NS)).get("status") or {}
        if [phase(p) for p in pods] == ["Running"] * spec["replicas"] and budget.get("currentHealthy") == len(pods):
            return
        time.sleep(1)
    raise AssertionError(f"{name}: pods not running within 180s: {[(on_node(p), phase(p)) for p in pods]}")


def logged_preview(cli: PulumiCli) -> str:
    """`pulumi preview --diff` with its diagnostics (the roll plan: the CLI writes them to stderr with --diff)."""
    result = cli.run("preview", "--diff")
    return result.stdout + result.stderr


def report(what: str, rec: Recorder, took: float) -> None:
    lines = [f"{what}: `pulumi up` {took:.1f}s, {rec.polls} polls, {len(rec.errors)} failed polls; order:"]
    print("\n" + "\n  ".join([*lines, *rec.order()]))
