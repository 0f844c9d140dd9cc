"""What a day-2 roll costs at 3 control-plane nodes and 30 workers, measured through the real CLI.

``python -m benchmarks.roll_cost [--workers-per-zone 10] [--pods-per-worker 2]``

The e2e tier's day-2 world (vcsim, a real API server audited, scheduler, kwok, the real CPI, the node
agent playing the kubelets) with the world stack scaled to 3 control-plane nodes and ``3 x
workers-per-zone`` workers, a Deployment spread over the workers under a PodDisruptionBudget. Each
scenario is one ``pulumi up``: a worker template roll with ``maxSurge`` 1, the same with ``maxSurge`` 5,
a control-plane template roll, a scale-down of 3 workers. For each: the wall time of the ``up``, the
engine's steps, the program's Kubernetes API requests from the API server's audit log (the dynamic
providers, pulumi-kubernetes; the world's own clients name themselves and are left out), and the order
the recorder saw (first-seen times of VMs, Ready, cordon, drained, Node and VM gone), checked against
what the roll promises. Figures, not a test: the e2e module tests/e2e/test_day2.py asserts the order at
small size; this says what it costs at the issue's size.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.world.controlplane import ControlPlane
from tests.support.world.process import Process
from tests.support.world.world import WORLD_AGENT, World
from toolchain.manifest import REPO_ROOT

from .engine_world import AUDIT_POLICY, client_of

WORKERS = "general"
ZONES = ("local-a", "local-b", "local-c")
TEMPLATES = ("DC0_C0_RP0_VM0", "DC0_C1_RP0_VM0")  # two of the simulator's VMs: the node templates


class AuditedControlPlane(ControlPlane):
    """The world's control plane, its API server writing an audit log (Metadata level, every request)."""

    @property
    def audit_log(self) -> Path:
        return self.workdir / "logs" / "audit.log"

    def processes(self) -> list[Process]:
        procs = super().processes()
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        self.audit_log.parent.mkdir(parents=True, exist_ok=True)
        assert self.apiserver is not None
        self.apiserver.args += [
            f"--audit-policy-file={policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
        ]
        return procs

    def offset(self) -> int:
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def since(self, offset: int) -> list[dict[str, Any]]:
        with self.audit_log.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class Figures:
    scenario: str
    seconds: float
    steps: Counter[str]
    requests: Counter[str]  # "<client> <verb> <resource>" -> count, the program's clients only
    order: list[str] = field(default_factory=list)  # what the roll promised, checked: "ok/BROKEN/unseen: ..."
    watch_errors: int = 0  # the recorder's failed polls and broken watches (a loaded machine)
    timeline: list[str] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(self.requests.values())


def program_requests(events: list[dict[str, Any]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for e in events:
        agent = str(e.get("userAgent", ""))
        if e.get("stage") != "ResponseComplete" or agent.startswith(WORLD_AGENT):
            continue
        who = client_of(agent)
        if not who.startswith(("OpenAPI-Generator", "pulumi")):  # the controllers, kwok, the CPI
            continue
        ref = e.get("objectRef") or {}
        resource = "/".join(p for p in (ref.get("resource"), ref.get("subresource")) if p) or "-"
        out[f"{'dynamic providers' if who.startswith('OpenAPI') else who} {e.get('verb')} {resource}"] += 1
    return out


def check_roll(rec: Any, old: dict[str, str], new: dict[str, str], batch: int) -> list[str]:
    """The promises of a create-before-delete roll, against what the recorder saw. An event it never
    saw (a watch that fell behind on a loaded machine) makes the promise "unseen", not kept."""
    slots = sorted(new)
    seen: dict[str, float] = rec.events
    out = []

    def verdict(what: str, pairs: list[tuple[list[str], list[str]]]) -> None:
        """Each pair: every event of the first list no later than every event of the second."""
        missing = sorted({k for a, b in pairs for k in (*a, *b) if k not in seen})
        if missing:
            out.append(f"unseen: {what} ({len(missing)} events never seen, e.g. {missing[0]!r})")
            return
        ok = all(max(seen[k] for k in a) <= min(seen[k] for k in b) for a, b in pairs)
        out.append(f"{'ok' if ok else 'BROKEN'}: {what}")

    batches = [slots[i : i + batch] for i in range(0, len(slots), batch)]
    verdict(
        f"new VMs in {len(batches)} batches of {batch}, each batch after the previous one was Ready",
        [([f"ready {new[a]}" for a in p], [f"vm {new[b]}" for b in n]) for p, n in itertools.pairwise(batches)],
    )
    verdict(
        "every new node Ready before an old one cordoned",
        [([f"ready {new[k]}" for k in slots], [f"cordon {old[k]}" for k in slots])],
    )
    steps = [([f"cordon {old[k]}"], [f"drained {old[k]}"]) for k in slots]
    steps += [([f"drained {old[k]}"], [f"node-gone {old[k]}"]) for k in slots]
    verdict("each old node cordoned, drained, then its Node deleted", steps)
    verdict("no VM deleted undrained", [([f"drained {old[k]}"], [f"vm-gone {old[k]}"]) for k in slots])
    return out


def timeline(rec: Any, created: set[str], retired: set[str]) -> list[str]:
    """First and last first-seen time of each kind of event, from the start of the `up`: the new
    nodes' VMs and Ready, the old ones' cordon, Node gone and VM gone."""
    start = min(rec.events.values())
    out = []
    for prefix, names in (
        ("vm ", created),
        ("ready ", created),
        ("cordon ", retired),
        ("node-gone ", retired),
        ("vm-gone ", retired),
    ):
        times = [
            t - start for k, t in rec.events.items() if k.startswith(prefix) and k[len(prefix) :].split("#")[0] in names
        ]
        if times:
            out.append(f"{prefix.strip():9} {len(times):3} first {min(times):6.1f}s last {max(times):6.1f}s")
    return out


def stack_template(workdir: Path, per_zone: int) -> Path:
    from tests.support.world.project import STACK_TEMPLATES

    raw = yaml.safe_load((STACK_TEMPLATES / "Pulumi.local.yaml").read_text())
    raw["config"]["vsphere-k8s:nodePools"]["workers"][0]["replicas"] = dict.fromkeys(ZONES, per_zone)
    path = workdir / "Pulumi.rolls.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def report(figures: list[Figures], per_zone: int, pods: int, path: Path | None) -> None:
    print(
        f"\nDay-2 rolls at 3 control-plane nodes and {3 * per_zone} workers "
        f"({pods} pods a worker under a PDB), {time.strftime('%Y-%m-%d %H:%M')} UTC"
    )
    print(f"{'scenario':36} {'up s':>7} {'API calls':>9} {'watch errors':>12}  steps")
    for f in figures:
        steps = ", ".join(f"{n} {op}" for op, n in sorted(f.steps.items()))
        print(f"{f.scenario:36} {f.seconds:7.1f} {f.calls:9} {f.watch_errors:12}  {steps}")
    for f in figures:
        print(f"\n{f.scenario}:")
        for line in [*f.order, *f.timeline]:
            print(f"  {line}")
        for what, n in f.requests.most_common():
            print(f"  {n:5}  {what}")
    if path:
        path.write_text(json.dumps([vars(f) for f in figures], indent=2, default=dict))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.roll_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--workers-per-zone", type=int, default=10)
    parser.add_argument("--pods-per-worker", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from kubernetes import client

    from tests.support.world.day2 import NS, STACK, Day2, deploy_app
    from tests.support.world.project import open_local_stack

    def say(message: str) -> None:
        print(f"[rolls] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    workdir = REPO_ROOT / "build" / "bench" / f"rolls-{time.strftime('%Y%m%d-%H%M%S')}"
    expected: dict[str, bool] = {}
    world = World(workdir, expected_nodes=lambda: expected, control_plane_type=AuditedControlPlane)
    figures: list[Figures] = []
    say(f"world in {workdir}")
    world.start()
    try:
        cp = world.control_plane
        assert isinstance(cp, AuditedControlPlane)
        template = stack_template(workdir, args.workers_per_zone)
        cli = open_local_stack(world, STACK, template, expected)
        day2 = Day2(world, cli, expected)

        def up(scenario: str, pool: set[str], roll: tuple[dict[str, str], dict[str, str], int] | None) -> None:
            say(f"{scenario}: pulumi up")
            offset = cp.offset()
            rec, steps, took = day2.up(pool)
            f = Figures(
                scenario,
                took,
                Counter(o for _, k, o, _ in steps.events if k == "pre" and o != "same"),
                program_requests(cp.since(offset)),
            )
            f.watch_errors = len(rec.errors)
            if roll is not None:
                old, new, batch = roll
                f.order = check_roll(rec, old, new, batch)
                f.timeline = timeline(rec, set(new.values()), set(old.values()))
            else:
                f.timeline = timeline(rec, set(), pool)
            if "spread" in rec.min_healthy:
                ok = not rec.violations
                f.order.append(f"{'ok' if ok else 'BROKEN'}: PDB held (lowest healthy {rec.min_healthy['spread']})")
            figures.append(f)
            say(f"{scenario}: {took:.1f}s, {f.calls} program API requests; {'; '.join(f.order)}")
            cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")

        say(f"first up: 3 control-plane nodes, {3 * args.workers_per_zone} workers")
        up("first up (create)", set(), None)
        core = world.core()
        apps, policy = client.AppsV1Api(core.api_client), client.PolicyV1Api(core.api_client)
        workers = 3 * args.workers_per_zone
        # One worker's pods may be away at a time: a drain waits for the evicted ones to run elsewhere.
        replicas = args.pods_per_worker * workers
        deploy_app(core, apps, policy, "spread", replicas=replicas, min_available=replicas - args.pods_per_worker)

        def roll(scenario: str, path: str, value: str, prefix: str, batch: int) -> None:
            before = day2.slots()
            cli.run("config", "set", "--path", path, value)
            after = day2.planned()
            keys = sorted(k for k in after if k.startswith(prefix))
            old = {k: before[k]["name"] for k in keys}
            new = {k: after[k] for k in keys}
            expected.update(dict.fromkeys(new.values(), prefix.startswith("cp-")))
            up(scenario, set(new.values()) | set(old.values()), (old, new, batch))

        roll("worker template roll, maxSurge 1", "nodePools.workers[0].template", TEMPLATES[1], f"{WORKERS}-", 1)
        cli.run("config", "set", "--path", "nodePools.workers[0].maxSurge", "5")
        roll("worker template roll, maxSurge 5", "nodePools.workers[0].template", TEMPLATES[0], f"{WORKERS}-", 5)
        roll("control-plane template roll", "nodePools.controlPlane.template", TEMPLATES[1], "cp-", 1)
        names = day2.planned()
        keep = max(args.workers_per_zone - 3, 1)
        victims = {names[f"{WORKERS}-local-a-{i}"] for i in range(keep, args.workers_per_zone)}
        cli.run("config", "set", "--path", "nodePools.workers[0].replicas.local-a", str(keep))
        up(f"scale-down of {len(victims)} workers", victims, None)
        apps.delete_namespaced_deployment("spread", NS)
        policy.delete_namespaced_pod_disruption_budget("spread", NS)
    finally:
        errors = world.stop()
        if errors:
            say(f"world stop: {errors}")
        report(figures, args.workers_per_zone, args.pods_per_worker, args.json)  # also what a failed run measured

    return 1 if any(line.startswith("BROKEN") for f in figures for line in f.order) else 0


if __name__ == "__main__":
    raise SystemExit(main())
