"""The control plane's etcd members, as a local cluster on loopback (issue 16's proof of member removal).

Separate from the etcd the world's kube-apiserver uses: these members stand in for the ones kubeadm
runs on each control-plane node, so the program's NodeRetirement has a real cluster to keep a quorum
in. TLS on client and peer URLs with client-certificate auth (the world's etcd CA); each member is
named after its control-plane Node, as kubeadm names it.

It plays kubeadm's side of a control-plane join: once a new control-plane Node has registered (its
kubelet is up), ``member add`` as a learner (kubeadm's learner mode), start the member with
``initial-cluster-state=existing`` and promote it once etcd accepts (the learner has caught up). A
member the program removes exits on its own; its process is reaped. A poller records the member
list and each member's health every ``interval`` seconds while a test runs.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolchain.manifest import locate

from .pki import EtcdPki, make_etcd_pki
from .process import Process, free_port

CLUSTER_TOKEN = "vsphere-k8s-e2e-members"
_ERRORS = (urllib.error.URLError, OSError, ValueError, ssl.SSLError)


def quorum(voters: int) -> int:
    return voters // 2 + 1


class Gateway:
    """etcd's v3 JSON gateway with the client certificate (the world's own calls, counted apart from the program's)."""

    def __init__(self, pki: EtcdPki) -> None:
        self.context = ssl.create_default_context(cafile=str(pki.ca.cert))
        self.context.load_cert_chain(str(pki.client.cert), str(pki.client.key))

    def post(self, url: str, path: str, body: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
        req = urllib.request.Request(  # noqa: S310 - loopback URLs of the world's own members
            url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=timeout, context=self.context) as answer:  # noqa: S310
            data: dict[str, Any] = json.loads(answer.read() or b"{}")
            return data

    def healthy(self, url: str, timeout: float = 1.0) -> bool:
        """The member's own health (/health?serializable=true): up, with a leader, no alarm. Not a
        linearizable read, whose latency on a loaded 2-core machine says more about the machine."""
        try:
            target = url + "/health?serializable=true"
            with urllib.request.urlopen(target, timeout=timeout, context=self.context) as r:  # noqa: S310
                return bool(json.loads(r.read()).get("health") == "true")
        except _ERRORS:
            return False


@dataclass
class LocalMember:
    name: str
    client_port: int
    peer_port: int
    process: Process | None = None
    id: str = ""
    state: str = "running"  # running | stopped (by the test) | removed (by the program)

    @property
    def client_url(self) -> str:
        return f"https://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"https://127.0.0.1:{self.peer_port}"


@dataclass(frozen=True)
class Sample:
    at: float
    members: int
    voters: int
    healthy_voters: int
    names: tuple[str, ...]

    @property
    def has_quorum(self) -> bool:
        return self.voters > 0 and self.healthy_voters >= quorum(self.voters)


@dataclass
class EtcdMembers:
    workdir: Path
    # Names of the control-plane Nodes registered so far (their kubelets are up): a new one joins etcd.
    control_plane_nodes: Callable[[], list[str]]
    interval: float = 0.2
    pki: EtcdPki | None = None
    members: dict[str, LocalMember] = field(default_factory=dict)
    events: dict[str, float] = field(default_factory=dict)  # "etcd-add|etcd-voter|etcd-gone <name>" -> first seen
    samples: list[Sample] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # samples without a quorum of healthy voters, said why
    unanswered: int = 0  # samples whose member list no member answered (within 3 s)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _gateway: Gateway | None = None
    _seen: dict[str, str] = field(default_factory=dict)  # member id -> its name, every member seen

    @property
    def gateway(self) -> Gateway:
        assert self._gateway is not None
        return self._gateway

    @property
    def client_urls(self) -> list[str]:
        return [m.client_url for m in self.members.values()]

    def _log(self, line: str) -> None:
        path = self.workdir / "logs" / "etcd-members.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as log:
            log.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def _note(self, what: str) -> None:
        with self._lock:
            if what not in self.events:
                self.events[what] = time.monotonic()
                self._log(what)

    def _process(self, m: LocalMember, initial_cluster: str, state: str) -> Process:
        assert self.pki is not None
        ca, cert = self.pki.ca.cert, self.pki.member
        return Process(
            f"etcd-member-{m.name}",
            [
                str(locate("etcd")),
                f"--name={m.name}",
                f"--data-dir={self.workdir / 'etcd-members' / m.name}",
                f"--listen-client-urls={m.client_url}",
                f"--advertise-client-urls={m.client_url}",
                f"--listen-peer-urls={m.peer_url}",
                f"--initial-advertise-peer-urls={m.peer_url}",
                f"--initial-cluster={initial_cluster}",
                f"--initial-cluster-state={state}",
                f"--initial-cluster-token={CLUSTER_TOKEN}",
                "--client-cert-auth",
                f"--trusted-ca-file={ca}",
                f"--cert-file={cert.cert}",
                f"--key-file={cert.key}",
                "--peer-client-cert-auth",
                f"--peer-trusted-ca-file={ca}",
                f"--peer-cert-file={cert.cert}",
                f"--peer-key-file={cert.key}",
                # A loaded 2-core machine: slower heartbeats than etcd's defaults keep a busy member
                # from calling elections the test would read as lost health.
                "--heartbeat-interval=250",
                "--election-timeout=2500",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            self.workdir,
            ready=lambda: True,  # health needs a quorum: waited for by the caller
        )

    def start(self, names: list[str], timeout: float = 90.0) -> EtcdMembers:
        """A new cluster of ``names`` (the control plane's Nodes), healthy, then the join and poll loops."""
        self.pki = make_etcd_pki(self.workdir / "etcd-pki")
        self._gateway = Gateway(self.pki)
        for name in names:
            self.members[name] = LocalMember(name, free_port(), free_port())
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members.values())
        for m in self.members.values():
            m.process = self._process(m, initial, "new")
            m.process.start()  # returns once the process runs: the members wait for each other
        deadline = time.monotonic() + timeout
        while not all(self.gateway.healthy(m.client_url) for m in self.members.values()):
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"etcd members {names} not healthy within {timeout:.0f}s; see logs/etcd-member-*")
            time.sleep(0.3)
        for listed in self.member_list() or []:
            self.members[str(listed["name"])].id = str(listed["ID"])
        self._threads = [
            threading.Thread(target=self._loop, args=(self.sync_once, 0.3), name="etcd-join", daemon=True),
            threading.Thread(target=self._loop, args=(self.poll_once, self.interval), name="etcd-poll", daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        for m in self.members.values():
            if m.process is not None:
                m.process.stop()

    def _loop(self, step: Callable[[], None], every: float) -> None:
        while not self._stop.wait(every):
            try:
                step()
            except Exception as e:  # a hiccup of a loaded machine: the next round sees it
                self.errors.append(repr(e))

    def member_list(self) -> list[dict[str, Any]] | None:
        """The member list, linearizable (a member just removed, still serving, cannot answer it with
        its stale view), from the newest running member that answers; None when none does."""
        for m in reversed(list(self.members.values())):
            if m.state != "running":
                continue
            try:
                answer = self.gateway.post(m.client_url, "/v3/cluster/member/list", {"linearizable": True}, 3.0)
                return list(answer.get("members") or [])
            except _ERRORS:
                continue
        return None

    def name_of(self, listed: dict[str, Any]) -> str:
        """A member's name; a member added but not started yet has none in etcd: the one it was added for."""
        if listed.get("name"):
            return str(listed["name"])
        return next((m.name for m in self.members.values() if m.id == str(listed["ID"])), str(listed["ID"]))

    def sync_once(self) -> None:
        """kubeadm's etcd steps for new control-plane nodes; reap the members the program removed."""
        listed = self.member_list()
        if listed is None:
            return
        ids = {str(x["ID"]): x for x in listed}
        for m in self.members.values():
            if m.state == "running" and m.id and m.id not in ids:
                m.state = "removed"
                if m.process is not None:
                    m.process.stop()  # it exits by itself once removed; reaped here
                self._log(f"member {m.name} removed from the cluster: process stopped")
        voters = [m for m in self.members.values() if m.state == "running" and not ids.get(m.id, {}).get("isLearner")]
        for name in self.control_plane_nodes():
            if name not in self.members:
                try:  # etcd refuses a new member for a few seconds after a start or a change: next round
                    self._join(name, listed, voters)
                except _ERRORS as e:
                    self._log(f"member add for {name} refused for now: {e}")
        for m in self.members.values():
            entry = ids.get(m.id)
            if m.state == "running" and entry is not None and entry.get("isLearner"):
                try:  # a voter promotes; etcd refuses until the learner has caught up with the leader
                    self.gateway.post(voters[0].client_url, "/v3/cluster/member/promote", {"ID": m.id})
                    self._log(f"member {m.name} promoted to a voting member")
                except (*_ERRORS, IndexError):
                    pass

    def _join(self, name: str, listed: list[dict[str, Any]], voters: list[LocalMember]) -> None:
        m = LocalMember(name, free_port(), free_port())
        body = {"peerURLs": [m.peer_url], "isLearner": True}
        added = self.gateway.post(voters[0].client_url, "/v3/cluster/member/add", body)
        m.id = str(added["member"]["ID"])
        self.members[name] = m
        self._note(f"etcd-add {name}")
        peers = [f"{x['name']}={x['peerURLs'][0]}" for x in listed if x.get("name") and x.get("peerURLs")]
        m.process = self._process(m, ",".join([*peers, f"{name}={m.peer_url}"]), "existing")
        m.process.start()

    def _sample(self, listed: list[dict[str, Any]], now: float) -> tuple[Sample, list[str], dict[str, bool]]:
        names = [self.name_of(x) for x in listed]
        health = {}
        for x, name in zip(listed, names, strict=True):
            urls = x.get("clientURLs") or []
            health[name] = bool(urls) and self.gateway.healthy(str(urls[0]))
        voters = [n for x, n in zip(listed, names, strict=True) if not x.get("isLearner")]
        sample = Sample(now, len(listed), len(voters), sum(health[n] for n in voters), tuple(sorted(names)))
        return sample, voters, health

    def poll_once(self) -> None:
        listed = self.member_list()
        now = time.monotonic()
        if listed is None:
            with self._lock:
                self.unanswered += 1
            return
        sample, voters, health = self._sample(listed, now)
        if not sample.has_quorum:
            # The list and the health checks are not one read: a member removed (and shutting down)
            # between them looks like a sick voter. Read both again before calling it a loss.
            again = self.member_list()
            listed_ids = {str(x["ID"]) for x in listed}
            if again is not None and {str(x["ID"]) for x in again} < listed_ids:
                listed = again
                sample, voters, health = self._sample(listed, now)
        names = [self.name_of(x) for x in listed]
        for name in voters:
            self._note(f"etcd-voter {name}")
        with self._lock:
            self.samples.append(sample)
            if not sample.has_quorum:
                sick = sorted(n for n in voters if not health[n])
                self.lost.append(f"{now:.1f}: {sample.healthy_voters}/{sample.voters} voters healthy ({sick})")
            listed_ids = {str(x["ID"]) for x in listed}
            gone = [name for mid, name in self._seen.items() if mid not in listed_ids]
            self._seen.update({str(x["ID"]): n for x, n in zip(listed, names, strict=True)})
        for name in gone:
            self._note(f"etcd-gone {name}")

    def reset(self) -> None:
        """A new window of observation (one `up`)."""
        with self._lock:
            self.events.clear()
            self.samples.clear()
            self.lost.clear()
            self.errors.clear()
            self.unanswered = 0

    def stop_member(self, name: str) -> None:
        """Out of band, as a crashed or powered-off node: the member stays in the cluster, unhealthy."""
        m = self.members[name]
        m.state = "stopped"
        assert m.process is not None
        m.process.stop()

    def restart_member(self, name: str) -> None:
        m = self.members[name]
        assert m.process is not None
        m.process.start()  # its data dir holds its membership: the flags of its first start are ignored
        m.state = "running"
