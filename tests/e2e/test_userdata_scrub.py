"""Join material does not outlive the join: a bootstrap-mode stack through the real CLI.

The `boot` stack (stacks/world/Pulumi.boot.yaml) renders full kubeadm user-data (CA and
service-account keys on control-plane nodes, a join token on every node). The world stands in
for what the guests would do: its kube-apiserver is the cluster (the stack is given the
world's CA as kubernetes.clusterCa, so the program's own admin kubeconfig is trusted there),
and the node agent registers each node once the test lets it. Before a node joins, a vCenter
reader finds its user-data complete and its token accepted by the API server; after, the
reader finds no key, token or password in anything it can read, the token is gone, and
preview, refresh and a second `up` see no change. Then a scale-up does the same for the new
node. The stack has its own project copy, backend and passphrase; it is destroyed at the end.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from providers.vcenter.connection import Endpoint, VCenterConnection
from tests.e2e.conftest import E2E
from tests.support.world import kubeadm
from tests.support.world.project import STACK_TEMPLATES, make_project, planned_nodes
from tests.support.world.pulumi_cli import BackgroundUp, PulumiCli
from tests.support.world.reader import ReaderView, read_vms
from vsphere_k8s.render.cloud_init import KUBEADM_CONFIG, PKI_STAGE, SCRIPT_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

STACK = "boot"
CP_KEYS = {"ca.key", "front-proxy-ca.key", "etcd/ca.key", "sa.key"}


@dataclass
class Boot:
    e2e: E2E
    cli: PulumiCli
    stack_file: Path
    nodes: dict[str, bool] = field(default_factory=dict)  # VM name -> control plane, as planned
    tokens: dict[str, str] = field(default_factory=dict)  # VM name -> its token, as a reader saw it
    report: dict[str, dict[str, Any]] = field(default_factory=dict)
    ups: int = 0
    running: Background | None = None
    kubeadm_cluster: kubeadm.KubeadmCluster | None = None  # what the real kubeadm put into the world

    def run(self, *args: str, check: bool = True) -> Any:
        return self.cli.run(*args, "--stack", STACK, check=check)

    def reader(self) -> Any:
        """A session of its own, as a read-only account (the simulator accepts any login)."""
        vc = self.e2e.world.vcenter
        assert vc is not None
        ep = Endpoint(vc.address, vc.port, "k8s-reader@vsphere.local", secrets.token_urlsafe(12), insecure=True)
        return VCenterConnection(ep).service_content()


def _plan(stack_file: Path, port: int) -> dict[str, bool]:
    """The nodes the stack plans (its secrets and run-time values replaced by placeholders)."""
    k8s = {"version": "1.36.3", "controlPlaneEndpoint": "127.0.0.1", "controlPlanePort": port}
    creds = {"sim": {"username": "planner@vsphere.local", "password": "-"}}
    return planned_nodes(stack_file, {"credentials": creds, "kubernetes": k8s})


@pytest.fixture(scope="module")
def boot(e2e: E2E) -> Iterator[Boot]:
    world = e2e.world
    assert world.vcenter is not None and world.control_plane is not None and world.control_plane.pki is not None
    workdir = world.workdir / STACK
    template = STACK_TEMPLATES / f"Pulumi.{STACK}.yaml"
    cli = PulumiCli(make_project(workdir, STACK, template), workdir)
    stack_file = cli.project / "stacks" / f"Pulumi.{STACK}.yaml"
    pki = world.control_plane.pki
    cli.run("stack", "init", STACK)
    b = Boot(e2e, cli, stack_file)
    port = world.control_plane.api_port
    b.run("config", "set", "--path", "vcenters[0].port", str(world.vcenter.port))
    b.run("config", "set", "--path", "kubernetes.controlPlanePort", str(port))
    cli.run("config", "set", "--path", "kubernetes.clusterCa.cert", "--stack", STACK, stdin=pki.ca.cert.read_text())
    cli.set_secret("kubernetes.clusterCa.key", pki.ca.key.read_text())
    cli.set_secret("credentials.sim.username", world.vcenter.username)
    cli.set_secret("credentials.sim.password", world.vcenter.password)
    kubeadm.bind_cluster_admins(world.core())
    b.nodes = _plan(stack_file, port)
    try:
        yield b
    finally:
        if b.running is not None:
            b.running.stop()
        b.run("cancel", "--yes", check=False)  # a lock left by an interrupted up
        b.run("destroy", "--yes", "--skip-preview", check=False)
        for name in b.nodes:
            e2e.expected.pop(name, None)
        if b.kubeadm_cluster is not None:  # the world is shared: leave no kubeadm-config for the next stack
            kubeadm.delete_objects(b.kubeadm_cluster.admin_kubeconfig, b.kubeadm_cluster.created)
        report = workdir.parent / "logs" / "reader-report.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(b.report, indent=2, sort_keys=True))


def _wait(what: str, cond: Any, timeout: float = 240.0, up: Background | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if up is not None:
            up.check_alive()
        if time.monotonic() > deadline:
            doing = f"; the up so far:\n{up.tail()}" if up is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{doing}")
        time.sleep(1.0)


class Background(BackgroundUp):
    """The boot stack's next `up` in the background (tests/support/world/pulumi_cli.py), logged as up-<n>.log."""

    def __init__(self, b: Boot) -> None:
        b.ups += 1
        super().__init__(b.cli, STACK, b.cli.workdir / "logs" / f"up-{b.ups}.log")
        b.running = self


def _role(doc: dict[str, Any]) -> str:
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    first = next(iter(yaml.safe_load_all(files[KUBEADM_CONFIG])))
    if first["kind"] == "InitConfiguration":
        return "init control plane"
    return "joining control plane" if "controlPlane" in first else "worker"


def _token_of(doc: dict[str, Any]) -> str:
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    first = next(iter(yaml.safe_load_all(files[KUBEADM_CONFIG])))
    if first["kind"] == "InitConfiguration":
        assert [t["ttl"] for t in first["bootstrapTokens"]] == ["0h30m0s"]  # bounded, never 0s
        return str(first["bootstrapTokens"][0]["token"])
    return str(first["discovery"]["bootstrapToken"]["token"])


def _summary(view: ReaderView) -> dict[str, Any]:
    return {
        "extraConfig keys": sorted(k for k in view.extra_config if k.startswith("guestinfo.")),
        "findings": sorted(set(view.findings())),
    }


def _check_before(b: Boot, names: list[str]) -> None:
    """Before the join: the user-data a reader sees is complete enough to bootstrap from."""
    # A VM can be listed a moment before its clone's extraConfig is readable: wait for both.
    views = _wait(
        "the VMs with their guestinfo",
        lambda: (
            vs
            if len(vs := read_vms(b.reader(), names)) == len(names) and all(v.user_data() for v in vs.values())
            else None
        ),
    )
    for name in names:
        text = views[name].user_data()
        assert text is not None and text.startswith("#cloud-config\n"), name
        doc = yaml.safe_load(text)
        files = {f["path"]: f["content"] for f in doc["write_files"]}
        role = _role(doc)
        assert KUBEADM_CONFIG in files and SCRIPT_PATH in files and doc["runcmd"] == [[SCRIPT_PATH]], name
        staged = {p.removeprefix(PKI_STAGE + "/") for p in files if p.startswith(PKI_STAGE)}
        assert (staged >= CP_KEYS) == (role != "worker"), (name, staged)
        b.tokens[name] = _token_of(doc)
        b.report.setdefault(name, {})["role"] = role
        b.report[name]["before join"] = _summary(views[name])


def _token_answer(b: Boot, token: str) -> int:
    """How the API server answers a request with the token: 201 accepted, 401 refused."""
    cp = b.e2e.world.control_plane
    assert cp is not None and cp.pki is not None
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    resp = requests.post(
        f"{cp.server}/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json=review,
        headers={"Authorization": f"Bearer {token}"},
        verify=str(cp.pki.ca.cert),
        timeout=30,
    )
    if resp.status_code == 201:
        user = resp.json()["status"]["userInfo"]["username"]
        assert user == f"system:bootstrap:{token.split('.', maxsplit=1)[0]}"
    return resp.status_code


def _token_secret(b: Boot, token: str) -> bool:
    return kubeadm.token_secret_exists(b.e2e.world.core(), token)


def _kubeadm_init(b: Boot, names: list[str]) -> None:
    """What the init node's `kubeadm init` puts into the cluster (kubeadm-config, cluster-info, add-ons),
    by the real kubeadm with the documents of that node's user-data (tests/support/world/kubeadm.py)."""
    cp = b.e2e.world.control_plane
    assert cp is not None and cp.pki is not None
    for name in names:
        if b.report[name]["role"] != "init control plane":
            continue
        text = read_vms(b.reader(), [name])[name].user_data()
        assert text is not None
        b.kubeadm_cluster = kubeadm.init_cluster_objects(
            kubeadm.kubeadm_config_of(text), cp.admin_kubeconfig, b.cli.workdir / "kubeadm", pki=cp.pki
        )


def _join(b: Boot, names: list[str], joiners: list[str]) -> None:
    """While `up` runs: check the material before the join, then let the nodes register."""
    up = Background(b)
    _check_before(b, names)
    _kubeadm_init(b, names)
    for name in joiners:  # NodeJoin creates each joiner's token once the API is up
        token = b.tokens[name]
        _wait(f"{name}'s bootstrap token in the API", lambda t=token: _token_secret(b, t), up=up)  # type: ignore[misc]
        assert _token_answer(b, token) == 201, f"{name}: the API server refused its token before the join"
        b.report[name]["token before join"] = "accepted by the API server"
    b.e2e.expected.update({n: b.nodes[n] for n in names})  # the node agent registers them now
    up.join()


def _check_after(b: Boot, names: list[str]) -> None:
    views = read_vms(b.reader(), names)
    vc = b.e2e.world.vcenter
    cp = b.e2e.world.control_plane
    assert vc is not None and cp is not None and cp.pki is not None
    needles = [*b.tokens.values(), vc.password, cp.pki.ca.key.read_text().strip()]
    for name in names:
        view = views[name]
        assert view.user_data() is None, f"{name}: user-data still in guestinfo after the join"
        assert {"guestinfo.metadata", "guestinfo.metadata.encoding"} <= set(view.extra_config), name
        assert view.findings(needles) == [], name
        assert not _token_secret(b, b.tokens[name]), f"{name}: its bootstrap token outlived the join"
        # The API server caches a token's authentication for a few seconds (and its Secret lister lags).
        started = time.monotonic()
        refused = lambda n=name: _token_answer(b, b.tokens[n]) == 401  # noqa: E731
        _wait(f"the API server to refuse {name}'s token", refused, 60)
        took = time.monotonic() - started
        b.report[name]["token after join"] = f"Secret deleted; refused (401) within {took:.0f}s of the check"
        b.report[name]["after join"] = _summary(view)


def test_1_user_data_is_complete_before_the_join_and_gone_after(boot: Boot) -> None:
    names = sorted(boot.nodes)
    joiners = [n for n in names if "-cp-local-a-" not in n]
    _join(boot, names, joiners)
    _check_after(boot, names)
    roles = {boot.report[n]["role"] for n in names}
    assert roles == {"init control plane", "joining control plane", "worker"}
    # State is the one long-lived holder: every secret it keeps is encrypted.
    exported = json.dumps(boot.cli.run("stack", "export", "--stack", STACK).stdout)
    assert all(t not in exported for t in boot.tokens.values())
    assert "PRIVATE KEY" not in exported


def test_2_no_later_preview_refresh_or_up_puts_it_back(boot: Boot) -> None:
    names = sorted(boot.nodes)
    boot.run("preview", "--expect-no-changes", "--diff")
    boot.run("refresh", "--yes", "--skip-preview", "--expect-no-changes")
    boot.run("up", "--yes", "--skip-preview", "--expect-no-changes")
    views = read_vms(boot.reader(), names)
    assert all(v.user_data() is None and not v.findings() for v in views.values())


def test_3_a_scale_up_node_gets_its_own_token_which_then_goes(boot: Boot) -> None:
    boot.run("config", "set", "--path", "nodePools.workers[0].replicas.local-b", "1")
    before = set(boot.nodes)
    cp = boot.e2e.world.control_plane
    assert cp is not None
    boot.nodes = _plan(boot.stack_file, cp.api_port)
    added = sorted(set(boot.nodes) - before)
    assert len(added) == 1 and "-general-local-b-" in added[0]
    _join(boot, added, added)
    _check_after(boot, sorted(boot.nodes))
