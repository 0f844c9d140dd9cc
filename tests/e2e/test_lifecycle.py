"""A stack's whole life through the real CLI: preview, up, up again, drift, deletion, destroy.

The steps run in order on one world (the package fixture): each starts from what the one
before it left, as a platform team's runs do. On a real target (tests/support/world/target.py)
the same steps run; what only a simulator allows (a foreign principal's permission planted on
the datacenter) is checked on the local world only.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml
from kubernetes import client
from pyVmomi import vim

from providers.vcenter.connection import connection_for
from providers.vcenter.tagging import ObjectRef, TaggingClient
from tests.e2e.conftest import E2E
from tests.support.world.target import TargetWorld
from vsphere_k8s import roles
from vsphere_k8s.facts import VM_TYPE
from vsphere_k8s.topology import labels
from vsphere_k8s.topology.uuids import PROVIDER_PREFIX

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

ZONE, REGION, BETA_ZONE = labels.ZONE, labels.REGION, labels.BETA_ZONE
UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"


def _steps(preview_json: str) -> list[dict[str, Any]]:
    return list(json.loads(preview_json).get("steps", []))


def _vms(e2e: E2E) -> dict[str, Any]:
    content = e2e.world.vsphere_content()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return {vm.name: vm for vm in view.view if vm.name in e2e.expected}
    finally:
        view.Destroy()


def _named(e2e: E2E, stem: str) -> str:
    """The planned node name of slot ``stem`` ("local-cp-local-a-0"): the stem itself for a slot's first
    generation, ``<stem>-<generation>`` once it has rolled (vsphere_k8s/plan/nodes.py)."""
    return next(n for n in e2e.expected if stem in (n, n.rsplit("-", 1)[0]))


def _nodes(e2e: E2E) -> dict[str, dict[str, Any]]:
    """Every Node as the API server serialises it (camelCase keys)."""
    items = client.ApiClient().sanitize_for_serialization(e2e.world.core().list_node())["items"]
    return {n["metadata"]["name"]: n for n in items}


def _labels(node: dict[str, Any]) -> dict[str, str]:
    return dict(node["metadata"].get("labels") or {})


def _initialised(node: dict[str, Any]) -> bool:
    spec = node.get("spec") or {}
    return bool(spec.get("providerID")) and not any(t["key"] == UNINITIALIZED for t in spec.get("taints") or [])


def _wait(what: str, cond: Any, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1.0)


def test_1_preview_of_a_new_stack_lists_every_resource(e2e: E2E) -> None:
    out = e2e.cli.run("preview", "--json").stdout
    steps = _steps(out)
    types = [s["newState"]["type"] for s in steps if s.get("op") == "create"]
    assert types.count(VM_TYPE) == len(e2e.expected)
    assert types.count("pulumi-python:dynamic/vsphere:NodeBinding") == len(e2e.expected)
    assert types.count("pulumi-python:dynamic/vsphere:TagAttachment") >= 2  # a zone and a region tag at least
    assert "kubernetes:apps/v1:DaemonSet" in types
    assert "vsphere:index/tagCategory:TagCategory" in types
    # Its own stack's last outputs come through a function call (components/memory.py), not a read.
    assert all(s.get("op") in {"create", "same"} for s in steps)


FOREIGN = "VSPHERE.LOCAL\\site-admins"  # a permission someone else granted on the datacenter


def _zone(e2e: E2E, index: int = 0) -> dict[str, Any]:
    """A zone of the stack file (its datacenter and cluster: the simulator's or the site's)."""
    config = yaml.safe_load(e2e.stack_file.read_text())["config"]
    return dict(config["vsphere-k8s:topology"]["zones"][index])


def _datacenter(e2e: E2E) -> Any:
    content = e2e.world.vsphere_content()
    name = _zone(e2e)["datacenter"]
    return next(e for e in content.rootFolder.childEntity if isinstance(e, vim.Datacenter) and e.name == name)


def _granted_principals(e2e: E2E) -> set[str]:
    """The CPI's and the CSI's accounts, as vCenter names the principals vsphereRoles grants."""
    if isinstance(e2e.world, TargetWorld):
        assert e2e.world.target is not None
        return {roles.principal(user) for user, _ in e2e.world.target.accounts.values()}
    return {"VSPHERE.LOCAL\\k8s-cpi", "VSPHERE.LOCAL\\k8s-csi"}  # tests/support/world/project.py's accounts


def _dc_permissions(e2e: E2E) -> dict[str, int]:
    auth = e2e.world.vsphere_content().authorizationManager
    return {p.principal: int(p.roleId) for p in auth.RetrieveEntityPermissions(_datacenter(e2e), False)}


def test_2_up_creates_everything_and_the_cpi_and_bindings_agree(e2e: E2E) -> None:
    if e2e.simulated:  # a principal of the site's own: on a real vCenter it would have to exist
        auth = e2e.world.vsphere_content().authorizationManager
        foreign = vim.AuthorizationManager.Permission(principal=FOREIGN, group=True, roleId=-1, propagate=True)
        auth.SetEntityPermissions(_datacenter(e2e), [foreign])
    e2e.cli.run("up", "--yes", "--skip-preview")
    # vsphereRoles: the CPI's and CSI's accounts granted their roles, the site's own grant untouched.
    granted = _dc_permissions(e2e)
    assert _granted_principals(e2e) <= set(granted)
    if e2e.simulated:
        assert granted[FOREIGN] == -1
    vms = _vms(e2e)
    assert set(vms) == set(e2e.expected)
    for name, vm in vms.items():
        extra = {o.key: o.value for o in vm.config.extraConfig}
        assert vm.config.flags.diskUuidEnabled, f"{name}: disk.EnableUUID is off"
        assert int(vm.config.version.removeprefix("vmx-")) >= 15, f"{name}: {vm.config.version}"
        assert {"guestinfo.metadata", "guestinfo.metadata.encoding", "guestinfo.userdata"} <= set(extra), name
    # The CPI (a real process, configured from what the stack deployed) initialised every node.
    nodes = _wait(
        "the CPI to initialise every node",
        lambda: (
            ns if len(ns := _nodes(e2e)) == len(e2e.expected) and all(_initialised(n) for n in ns.values()) else None
        ),
    )
    outputs = e2e.cli.outputs()
    for name, node in nodes.items():
        vm = vms[name]
        assert node["spec"]["providerID"] == PROVIDER_PREFIX + vm.config.uuid
        planned = outputs["nodes"][name]
        assert _labels(node)[ZONE] == planned["zone"]
        assert _labels(node)[REGION] == planned["region"]
    # Anti-affinity: the two workers in one cluster have a rule.
    rules = [
        r
        for cluster in _clusters(e2e)
        for r in cluster.configurationEx.rule
        if isinstance(r, vim.cluster.AntiAffinityRuleSpec)
    ]
    assert any({vm.name for vm in r.vm} == {_named(e2e, f"local-general-local-a-{i}") for i in (0, 1)} for r in rules)


def _clusters(e2e: E2E) -> list[Any]:
    content = e2e.world.vsphere_content()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.ClusterComputeResource], True)
    try:
        return list(view.view)
    finally:
        view.Destroy()


def test_3_a_second_up_changes_nothing(e2e: E2E) -> None:
    e2e.cli.run("preview", "--expect-no-changes", "--diff")
    e2e.cli.run("refresh", "--yes", "--skip-preview")  # refresh reads every grant: nobody else's into state
    if e2e.simulated:
        assert _dc_permissions(e2e)[FOREIGN] == -1
    exported = json.dumps(e2e.cli.export())
    assert "site-admins" not in exported
    before = _nodes(e2e)
    e2e.cli.run("up", "--yes", "--expect-no-changes", "--skip-preview")
    after = _nodes(e2e)

    def versions(nodes: dict[str, dict[str, Any]]) -> dict[str, str]:
        return {n: v["metadata"]["resourceVersion"] for n, v in nodes.items()}

    # kwok's heartbeats touch node status; the binding's writes would show as label changes.
    assert {n: _labels(v) for n, v in before.items()} == {n: _labels(v) for n, v in after.items()}
    assert versions(before).keys() == versions(after).keys()


def test_3b_the_policy_pack_runs_as_the_cli_runs_it(e2e: E2E) -> None:
    pack = str(e2e.project / "policies")
    ok = e2e.cli.run("preview", "--policy-pack", pack, "--policy-pack-config", f"{pack}/config/local.json")
    assert "vsphere-k8s@v0.1.0" in ok.stdout + ok.stderr  # the pack ran (its name and version in the summary)
    # The same stack under prod's settings: unverified TLS is a mandatory violation there.
    bad = e2e.cli.run("preview", "--policy-pack", pack, "--policy-pack-config", f"{pack}/config/prod.json", check=False)
    assert bad.returncode != 0
    assert "vcenter-tls-verified" in bad.stdout + bad.stderr


def test_4_drift_shows_in_preview_and_up_repairs_it(e2e: E2E) -> None:
    e2e.cli.run("config", "set", "--path", "nodeBinding.mode", "enforce")
    e2e.cli.run("up", "--yes", "--skip-preview")
    victim = _named(e2e, "local-general-local-b-0")
    right = _labels(_nodes(e2e)[victim])[ZONE]
    # A hand edit of both zone labels (the CPI rewrites a GA label to its beta twin's value, so an
    # edit of the GA label alone is undone within a second: checked here too).
    e2e.world.core().patch_node(victim, {"metadata": {"labels": {ZONE: "edited-by-hand"}}})
    _wait("the CPI to put the GA label back", lambda: _labels(_nodes(e2e)[victim])[ZONE] == right, 30)
    edit = {ZONE: "edited-by-hand", BETA_ZONE: "edited-by-hand"}
    e2e.world.core().patch_node(victim, {"metadata": {"labels": edit}})
    diff = e2e.cli.run("preview", "--refresh", "--diff").stdout
    assert "local-bind-general-local-b-0" in diff and "edited-by-hand" in diff
    e2e.cli.run("up", "--refresh", "--yes", "--skip-preview")
    repaired = _labels(_nodes(e2e)[victim])
    assert (repaired[ZONE], repaired[BETA_ZONE]) == (right, right)
    e2e.cli.run("preview", "--expect-no-changes", "--refresh")


def test_5_refresh_survives_out_of_band_deletion(e2e: E2E) -> None:
    vm = _vms(e2e)[_named(e2e, "local-general-local-c-0")]
    task = vm.PowerOffVM_Task()
    _wait("power off", lambda: task.info.state in {"success", "error"})
    task = vm.Destroy_Task()
    _wait("VM destroy", lambda: task.info.state in {"success", "error"})
    out = e2e.cli.run("refresh", "--yes", "--skip-preview").stdout
    assert "deleted" in out or "delete" in out
    # The next up puts it back.
    e2e.cli.run("up", "--yes", "--skip-preview")
    assert _named(e2e, "local-general-local-c-0") in _vms(e2e)


def test_6_state_holds_no_credential_in_plaintext(e2e: E2E) -> None:
    assert e2e.world.vcenter is not None
    exported = json.dumps(e2e.cli.export())
    kubeconfig = e2e.world.kubeconfig.read_text()
    # Whatever authenticates its user: a client key or a token (a real cluster's kubeconfig may hold either).
    users = [u.get("user") or {} for u in yaml.safe_load(kubeconfig).get("users") or []]
    credentials = [str(u[k]) for u in users for k in ("client-key-data", "token", "password") if u.get(k)]
    assert credentials and not any(c in exported for c in credentials)
    assert e2e.world.vcenter.password not in exported


def test_7_destroy_removes_exactly_what_the_stack_made(e2e: E2E) -> None:
    assert e2e.world.vcenter is not None
    tagging = TaggingClient(connection_for(e2e.world.vcenter.endpoint()))
    # Planted beside the stack's own: a foreign tag on a cluster the stack tags, and a namespace label.
    cluster = next(c for c in _clusters(e2e) if c.name == _zone(e2e)["computeCluster"])
    target = ObjectRef("ClusterComputeResource", cluster._moId)
    category = tagging.create_category("planted-category", "SINGLE", ["ClusterComputeResource"])
    planted = tagging.create_tag("planted-tag", category)
    tagging.attach(planted, target)
    # Each node's NodeRetirement drains and deletes its Node before its VM goes, so the planted label
    # sits on something the stack did not make: the default namespace.
    core = e2e.world.core()
    core.patch_namespace("default", {"metadata": {"labels": {"example.com/planted": "yes"}}})
    ours = set(e2e.expected)

    e2e.cli.run("destroy", "--yes", "--skip-preview")

    try:
        assert not _vms(e2e), "the stack's VMs outlived destroy"
        assert tagging.category_by_name("k8s-zone") is None, "the stack's zone category outlived destroy"
        assert tagging.attached_tags(target) == [planted]
        # The permissions the stack granted are gone; the one granted by someone else is not.
        assert not _granted_principals(e2e) & set(_dc_permissions(e2e))
    finally:
        if not e2e.simulated:  # the planted tag leaves a real vCenter as it came
            tagging.delete_category(category)
    assert not ours & set(_nodes(e2e)), "the stack's nodes were not retired (drained and deleted) by destroy"
    namespace = core.read_namespace("default")
    assert namespace.metadata is not None
    labels_left = namespace.metadata.labels or {}
    assert labels_left.get("example.com/planted") == "yes"
    if not e2e.simulated:  # a real cluster's namespace left as it came
        core.patch_namespace("default", {"metadata": {"labels": {"example.com/planted": None}}})
    e2e.sim_only("a foreign principal's permission planted on the datacenter")
    assert _dc_permissions(e2e) == {FOREIGN: -1}
