"""A control-plane roll that keeps etcd's quorum, through the real CLI (issue 16).

A world of its own (as tests/e2e/test_day2.py's, whose recorder and helpers it reuses) plus a
three-member etcd on loopback (tests/support/world/etcd_members.py) standing in for the control
plane's members: TLS with client certificates, members named after the control-plane Nodes, a
new member added (kubeadm's join) once a new control-plane Node registers. The stack reaches it
through ``kubernetes.etcd`` (the client key only as a secret). A poller reads the member list and
each member's health every 0.2 s while an `up` runs; the engine's log has each retirement's steps
and calls (NodeRetirement prints them), in the engine's own order.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import pytest
import yaml

from tests.support.world.day2 import NEW_TEMPLATE, STACK, Day2, Recorder, Steps, logged_preview, node_names
from tests.support.world.etcd_members import EtcdMembers
from tests.support.world.kubelets import vm_uuids
from tests.support.world.project import STACK_TEMPLATES, open_local_stack
from tests.support.world.pulumi_cli import PulumiCli
from tests.support.world.world import World
from toolchain.manifest import REPO_ROOT

CALLS = re.compile(r"^(admitted|retired) (\S+): (\d+) API calls(?:, (\d+) etcd calls)?$")


@dataclass
class EtcdRecorder(Recorder):
    """The day-2 recorder, and at each Node's deletion the members etcd lists at that moment: a
    member removed after its Node would still be listed (the retirement removes, then deletes)."""

    members: EtcdMembers | None = None
    listed_at_node_gone: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def _node(self, kind: str, node: dict[str, Any]) -> None:
        if kind == "DELETED" and self.members is not None:
            listed = self.members.member_list() or []
            self.listed_at_node_gone[node["metadata"]["name"]] = tuple(self.members.name_of(x) for x in listed)
        super()._node(kind, node)


@dataclass
class Log:
    """The engine's diagnostics of one `up --json`, in its sequence order."""

    lines: list[tuple[int, str]]

    @classmethod
    def parse(cls, text: str) -> Log:
        out = []
        for raw in text.splitlines():
            if raw.startswith("{"):
                event = json.loads(raw)
                message = (event.get("diagnosticEvent") or {}).get("message")
                if message:
                    out += [(int(event["sequence"]), m.strip()) for m in message.splitlines() if m.strip()]
        return cls(out)

    def seq(self, pattern: str) -> int:
        hits = [s for s, m in self.lines if re.fullmatch(pattern, m)]
        assert hits, f"no log line {pattern!r}; lines: {[m for _, m in self.lines][-40:]}"
        return hits[0]

    def calls(self) -> dict[str, tuple[str, int, int]]:
        """Node -> (admitted|retired, API calls, etcd calls) the step reported."""
        found = {}
        for _, m in self.lines:
            if hit := CALLS.match(m):
                found[f"{hit[1]} {hit[2]}"] = (hit[1], int(hit[3]), int(hit[4] or 0))
        return found


@dataclass
class EtcdDay2(Day2):
    members: EtcdMembers

    def recorder(self, pool: set[str] | None = None) -> Recorder:
        base = super().recorder(pool)  # test_day2's, whatever it records: the etcd view is added
        return EtcdRecorder(**{f.name: getattr(base, f.name) for f in fields(base) if f.init}, members=self.members)

    def up_logged(self, *args: str) -> tuple[EtcdRecorder, Steps, Log, float, int]:
        """`up --json` under the recorders; its exit code is returned, not raised."""
        self.members.reset()
        with self.recorder() as rec:
            started = time.monotonic()
            run = self.cli.run("up", "--yes", "--skip-preview", "--json", *args, check=False)
            took = time.monotonic() - started
            time.sleep(1)  # the poller's last samples
        assert isinstance(rec, EtcdRecorder)
        return rec, Steps.parse(run.stdout), Log.parse(run.stdout), took, run.returncode


def _one_worker_template(workdir: Any) -> Any:
    """The local stack with one worker: the control plane is what this module rolls."""
    doc = yaml.safe_load((STACK_TEMPLATES / "Pulumi.local.yaml").read_text())
    doc["config"]["vsphere-k8s:nodePools"]["workers"][0]["replicas"] = {"local-a": 1}
    path = workdir / "Pulumi.local.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _configure_etcd(cli: PulumiCli, members: EtcdMembers) -> None:
    """kubernetes.etcd: the members' client URLs, the etcd CA and the client certificate; the key as a secret."""
    assert members.pki is not None
    for i, url in enumerate(members.client_urls):
        cli.run("config", "set", "--path", f"kubernetes.etcd.endpoints[{i}]", url)
    cli.run("config", "set", "--path", "kubernetes.etcd.caCert", stdin=members.pki.ca.cert.read_text())
    cli.run("config", "set", "--path", "kubernetes.etcd.clientCert", stdin=members.pki.client.cert.read_text())
    cli.set_secret("kubernetes.etcd.clientKey", members.pki.client.key.read_text())


@pytest.fixture(scope="module")
def day2e() -> Iterator[EtcdDay2]:
    workdir = REPO_ROOT / "build" / "e2e" / f"day2-etcd-{time.strftime('%Y%m%d-%H%M%S')}"
    expected: dict[str, bool] = {}
    world = World(workdir, expected_nodes=lambda: expected)
    world.start()
    members: EtcdMembers | None = None
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        cli = open_local_stack(world, STACK, _one_worker_template(workdir), expected)
        agent = world.agent
        assert agent is not None
        # kubeadm joins a control-plane node's etcd member once its kubelet has registered the Node.
        members = EtcdMembers(workdir, lambda: [n for n in list(agent.registered) if expected.get(n)])
        members.start([n for n, cp in expected.items() if cp])
        _configure_etcd(cli, members)
        cli.run("up", "--yes", "--skip-preview")
        yield EtcdDay2(world, cli, expected, members)
    finally:
        if members is not None:
            members.stop()
        world.stop()


def _quorum_report(members: EtcdMembers) -> str:
    samples = members.samples
    peak = max(s.members for s in samples)
    least = min(s.healthy_voters - (s.voters // 2 + 1) for s in samples)
    return (
        f"{len(samples)} etcd samples ({members.unanswered} unanswered), peak {peak} members, "
        f"least margin of healthy voters over quorum {least}"
    )


def _timeline(*events: dict[str, float]) -> list[str]:
    merged = {k: v for e in events for k, v in e.items()}
    start = min(merged.values())
    return [f"{t - start:7.1f}s {k}" for k, t in sorted(merged.items(), key=lambda kv: kv[1])]


def test_1_a_control_plane_roll_removes_each_old_member_and_keeps_quorum(day2e: EtcdDay2) -> None:
    core = day2e.world.core()
    before = day2e.slots()
    day2e.cli.run("config", "set", "--path", "nodePools.controlPlane.template", NEW_TEMPLATE)
    after = day2e.planned()
    cps = sorted(k for k in after if k.startswith("cp-"))
    old = {k: before[k]["name"] for k in cps}
    new = {k: after[k] for k in cps}
    assert len(cps) == 3 and all(old[k] != new[k] for k in cps)
    assert sorted(day2e.members.members) == sorted(old.values())  # members named after the Nodes
    day2e.expected.update(dict.fromkeys(new.values(), True))
    preview = logged_preview(day2e.cli)
    assert "its etcd member is not removed" not in preview  # kubernetes.etcd is configured
    for k in cps:
        assert f"replace {old[k]} -> {new[k]}: template" in preview, preview[-4000:]

    rec, steps, log, took, rc = day2e.up_logged()
    assert rc == 0, log.lines[-20:]
    samples, events = list(day2e.members.samples), dict(day2e.members.events)
    calls = log.calls()
    cp_calls = {k: v for k, v in calls.items() if k.split(" ", 1)[1] in {*old.values(), *new.values()}}
    api = sum(v[1] for v in cp_calls.values())
    etcd = sum(v[2] for v in cp_calls.values())
    print(
        f"\ncontrol-plane roll with etcd: `pulumi up` {took:.1f}s; {_quorum_report(day2e.members)}; "
        f"{api} API calls and {etcd} etcd calls by the control plane's NodeRetirements: {cp_calls}\n  "
        + "\n  ".join(_timeline(rec.events, events))
    )

    # etcd never lost a quorum of healthy voting members, sampled all through the `up`; member lists
    # it could not answer in time (a loaded machine) are counted, and rare.
    assert len(samples) >= 20 and not day2e.members.lost, day2e.members.lost
    assert day2e.members.unanswered <= len(samples) // 10, day2e.members.unanswered
    assert all(s.has_quorum for s in samples)
    # Pulumi creates every replacement before it deletes: three new members join beside the three
    # old ones (6 voters, a quorum of 4) before the first old one leaves.
    assert max(s.members for s in samples) == 6
    # Each new member joined and was promoted (caught up) before the next new VM, and all before any
    # old member was removed.
    for a, b in itertools.pairwise(cps):
        assert events[f"etcd-voter {new[a]}"] <= rec.at(f"vm {new[b]}"), (a, b)
        assert rec.at(f"ready {new[a]}") <= rec.at(f"vm {new[b]}"), (a, b)
    first_gone = min(events[f"etcd-gone {old[k]}"] for k in cps)
    assert max(events[f"etcd-voter {new[k]}"] for k in cps) < first_gone
    # Each old node in turn: cordoned, drained, its member removed, then its Node deleted (the engine's
    # log, in order; etcd listed no member of it when the Node went), then its VM.
    for k in cps:
        node = old[k]
        cordon = log.seq(f"cordon {node}")
        removed = log.seq(rf"remove etcd member \d+ \({node}\)")
        deleted = log.seq(f"delete node {node}")
        assert cordon < log.seq(f"drained {node}") < removed < deleted, node
        assert node not in rec.listed_at_node_gone[node], (node, rec.listed_at_node_gone[node])
        zone = k.removeprefix("cp-").rsplit("-", 1)[0]
        assert steps.at("done", "delete-replaced", f"local-retire-{k}") < steps.at(
            "pre", "delete-replaced", f"local-cp-vm-{zone}-0"
        )
        assert rec.at(f"drained {node}") < rec.at(f"vm-gone {node}")
    # One old node at a time: the next is cordoned only once the last one's Node is gone.
    for later, earlier in itertools.pairwise(reversed(cps)):
        assert log.seq(f"delete node {old[later]}") < log.seq(f"cordon {old[earlier]}"), (later, earlier)
    # After the roll the members are exactly the new nodes, every one a healthy voter.
    listed = day2e.members.member_list() or []
    assert sorted(day2e.members.name_of(x) for x in listed) == sorted(new.values())
    assert not any(x.get("isLearner") for x in listed)
    assert all(day2e.members.gateway.healthy(str(x["clientURLs"][0])) for x in listed)
    assert {n for n, m in day2e.members.members.items() if m.state == "removed"} == set(old.values())
    live = node_names(core)
    assert set(new.values()) <= live and not set(old.values()) & live
    # Every retirement and admission reported its calls: three of each on the control plane.
    assert sorted(cp_calls) == sorted([f"admitted {n}" for n in new.values()] + [f"retired {n}" for n in old.values()])
    day2e.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_2_a_retirement_that_would_break_quorum_fails_the_up_and_deletes_nothing(day2e: EtcdDay2) -> None:
    core = day2e.world.core()
    names = {k: v["name"] for k, v in day2e.slots().items() if k.startswith("cp-")}
    keep, going = names["cp-local-a-0"], [names["cp-local-b-0"], names["cp-local-c-0"]]
    # Scale the control plane 3 -> 1 while the member of the node that stays is down (out of band):
    # removing either other member would leave two voters of which one is healthy.
    day2e.cli.run("config", "set", "--path", "nodePools.controlPlane.replicas.local-b", "0")
    day2e.cli.run("config", "set", "--path", "nodePools.controlPlane.replicas.local-c", "0")
    day2e.members.stop_member(keep)
    vms_before = set(vm_uuids(day2e.world.vsphere_content()))

    rec, steps, log, took, rc = day2e.up_logged()
    print(f"\nrefused retirement: `pulumi up` {took:.1f}s, exit {rc}; {_quorum_report(day2e.members)}")
    assert rc != 0
    text = "\n".join(m for _, m in log.lines)
    refusal = re.search(
        rf"removing ({'|'.join(going)})'s etcd member leaves 2 voting members of which 1 are healthy, "
        rf"below a quorum of 2 \(unhealthy: {keep}\); nothing removed",
        text,
    )
    assert refusal, text[-3000:]
    # Nothing deleted: both Nodes, both VMs and both members are still there; nobody's Node went.
    assert set(going) <= node_names(core)
    assert set(going) <= set(vm_uuids(day2e.world.vsphere_content())) and vms_before <= set(
        vm_uuids(day2e.world.vsphere_content())
    )
    listed = {day2e.members.name_of(x) for x in day2e.members.member_list() or []}
    assert listed == {keep, *going}
    assert not [k for k in rec.events if k.startswith(("node-gone ", "vm-gone "))]
    assert not any(o == "delete" and "-cp-vm-" in n for o, n in steps.ops("delete", "delete-replaced"))

    # With the member back, the same `up` retires both, one after the other, down to one member.
    day2e.members.restart_member(keep)
    deadline = time.monotonic() + 60
    while not day2e.members.gateway.healthy(day2e.members.members[keep].client_url):
        assert time.monotonic() < deadline, f"{keep}'s member not healthy again within 60s"
        time.sleep(0.5)
    rec, steps, log, took, rc = day2e.up_logged()
    report = _quorum_report(day2e.members)
    print(f"\ncontrol-plane scale-down 3 -> 1: `pulumi up` {took:.1f}s, exit {rc}; {report}")
    assert rc == 0, log.lines[-20:]
    assert not day2e.members.lost, day2e.members.lost
    listed_after = [day2e.members.name_of(x) for x in day2e.members.member_list() or []]
    assert listed_after == [keep]
    assert not set(going) & node_names(core)
    for node in going:
        assert log.seq(rf"remove etcd member \d+ \({node}\)") < log.seq(f"delete node {node}")
    day2e.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")
