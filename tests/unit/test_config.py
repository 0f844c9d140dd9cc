"""The stack configuration model: every example stack loads, and bad input names its key path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from offline.program import PLACEHOLDER_PASSWORD, offline_config
from vsphere_k8s.config import StackConfig
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load
from vsphere_k8s.stack_file import read_stack_file

STACKS = Path(__file__).resolve().parents[2] / "stacks"
STACK_NAMES = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS.glob("Pulumi.*.yaml"))

Raw = dict[str, Any]


def sim() -> Raw:
    return copy.deepcopy(offline_config("sim"))


def issues_of(raw: Raw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(raw, stack="test")
    return [str(i) for i in info.value.issues]


def test_all_three_environments_exist() -> None:
    assert {"sim", "dev", "prod"} <= set(STACK_NAMES)


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_example_stack_loads(stack: str) -> None:
    cfg = load(offline_config(stack), stack=stack, read_file=lambda p: (STACKS.parent / p).read_text())
    assert isinstance(cfg, StackConfig)
    assert cfg.cluster.name
    # Each zone resolves to exactly one region and vCenter.
    for zone in cfg.topology.zones:
        assert cfg.zone_vcenter(zone).name in {vc.name for vc in cfg.vcenters}


def test_stack_files_hold_no_plaintext_credentials() -> None:
    for stack in STACK_NAMES:
        raw, encrypted = read_stack_file(STACKS / f"Pulumi.{stack}.yaml")
        assert "credentials" not in raw or "credentials" in encrypted, stack


def test_sim_stack_values() -> None:
    cfg = load(sim(), stack="sim")
    assert [z.name for z in cfg.topology.zones] == ["sim-a", "sim-b", "sim-c"]
    assert cfg.topology.zone_category == "k8s-zone"
    assert cfg.topology.region_category == "k8s-region"
    assert sum(cfg.node_pools.control_plane.replicas.values()) == 3
    assert cfg.kubernetes.control_plane_endpoint == "10.10.0.10"
    assert cfg.vcenters[0].tls.insecure is True
    assert cfg.credentials["sim"].password.get_secret_value() == PLACEHOLDER_PASSWORD


def test_prod_spans_two_vcenters_with_a_ca_file() -> None:
    cfg = load(offline_config("prod"), stack="prod", read_file=lambda p: (STACKS.parent / p).read_text())
    assert len(cfg.vcenters) == 2
    assert all(vc.tls.ca_cert and "BEGIN CERTIFICATE" in vc.tls.ca_cert for vc in cfg.vcenters)
    assert {cfg.zone_vcenter(z).name for z in cfg.topology.zones} == {vc.name for vc in cfg.vcenters}


def _set(path: list[str | int], value: Any) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        node: Any = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


def _drop(path: list[str | int]) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        node: Any = raw
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return apply


def _dup_zone(raw: Raw) -> None:
    raw["topology"]["zones"].append(copy.deepcopy(raw["topology"]["zones"][0]))


INVALID: list[tuple[str, Callable[[Raw], None], str, str]] = [
    ("duplicate zone", _dup_zone, "topology.zones[sim-a]", "more than once"),
    (
        "zone in unknown region",
        _set(["topology", "zones", 0, "region"], "nope"),
        "topology.zones[sim-a].region",
        "'nope'",
    ),
    ("missing datastore", _drop(["topology", "zones", 0, "datastore"]), "topology.zones[sim-a].datastore", "required"),
    ("bad pod CIDR", _set(["kubernetes", "podCidr"], "10.300.0.0/16"), "kubernetes.podCidr", "CIDR"),
    ("CIDR with host bits", _set(["kubernetes", "serviceCidr"], "10.96.0.1/12"), "kubernetes.serviceCidr", "host bits"),
    (
        "pod CIDR overlaps nodes",
        _set(["kubernetes", "podCidr"], "10.10.0.0/16"),
        "topology.zones[sim-b].network",
        "overlaps",
    ),
    (
        "even control plane",
        _set(["nodePools", "controlPlane", "replicas"], {"sim-a": 1, "sim-b": 1}),
        "nodePools.controlPlane.replicas",
        "1, 3 or 5",
    ),
    (
        "endpoint outside the network",
        _set(["kubernetes", "controlPlaneEndpoint"], "192.168.1.10"),
        "kubernetes.controlPlaneEndpoint",
        "outside 10.10.0.0/24",
    ),
    (
        "endpoint inside the node range",
        _set(["kubernetes", "controlPlaneEndpoint"], "10.10.0.25"),
        "kubernetes.controlPlaneEndpoint",
        "node range",
    ),
    (
        "static range too small",
        _set(["topology", "zones", 0, "network", "static", "rangeEnd"], "10.10.0.22"),
        "topology.zones[sim-a].network.static",
        "reserve",
    ),
    (
        "insecure TLS without opt-in",
        _set(["cluster", "allowInsecureTls"], False),
        "vcenters[sim].tls.insecure",
        "allowInsecureTls",
    ),
    ("no credentials", _drop(["credentials"]), "credentials.sim", "pulumi config set --secret"),
    ("misspelt key", _set(["kubernetes", "podCIDR"], "10.0.0.0/16"), "kubernetes.podCIDR", "unknown key"),
    ("unknown top-level key", _set(["clusterName"], "x"), "clusterName", "unknown key"),
    (
        "two default storage classes",
        _set(["storageClasses", 1, "default"], True),
        "storageClasses",
        "exactly one",
    ),
    ("bad Kubernetes version", _set(["kubernetes", "version"], "2.0"), "kubernetes.version", "1.31.4"),
    (
        "unknown datacenter",
        _set(["topology", "zones", 0, "datacenter"], "DCX"),
        "topology.zones[sim-a].datacenter",
        "DCX",
    ),
    (
        "workers in an unknown zone",
        _set(["nodePools", "workers", 0, "replicas", "zz"], 1),
        "nodePools.workers[general].replicas.zz",
        "not in topology.zones",
    ),
    (
        "CPU count not a number",
        _set(["nodePools", "controlPlane", "cpus"], "many"),
        "nodePools.controlPlane.cpus",
        "integer",
    ),
    ("node names too long", _set(["cluster", "name"], "a" * 60), "nodePools.controlPlane", "63"),
    ("cluster name not a DNS label", _set(["cluster", "name"], "Prod_1"), "cluster.name", "DNS label"),
]


@pytest.mark.parametrize(("label", "mutate", "path", "fragment"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_stack_names_the_key(label: str, mutate: Callable[[Raw], None], path: str, fragment: str) -> None:
    raw = sim()
    mutate(raw)
    issues = issues_of(raw)
    matching = [i for i in issues if i.startswith(path + ":")]
    assert matching, f"{label}: no issue at {path}; got {issues}"
    assert any(fragment in i for i in matching), f"{label}: {matching}"


def test_every_problem_is_reported_at_once() -> None:
    raw = sim()
    raw["nodePools"]["controlPlane"]["replicas"] = {"sim-a": 2}
    raw["kubernetes"]["controlPlaneEndpoint"] = "192.168.1.10"
    raw["storageClasses"][1]["default"] = True
    paths = {i.split(":")[0] for i in issues_of(raw)}
    assert {"nodePools.controlPlane.replicas", "kubernetes.controlPlaneEndpoint", "storageClasses"} <= paths


def test_credentials_never_echoed_in_errors() -> None:
    raw = sim()
    raw["credentials"]["sim"]["password"] = {"nested": "hunter2-secret"}
    text = "\n".join(issues_of(raw))
    assert "credentials.sim.password" in text
    assert "hunter2" not in text


def test_password_is_hidden_in_model_repr() -> None:
    cfg = load(sim(), stack="sim")
    assert PLACEHOLDER_PASSWORD not in repr(cfg)
    assert PLACEHOLDER_PASSWORD not in str(cfg.model_dump())


def test_unreadable_ca_file_is_named() -> None:
    raw = sim()
    raw["vcenters"][0]["tls"] = {"caCertFile": "does/not/exist.pem"}
    issues = issues_of(raw)
    assert any(i.startswith("vcenters[sim].tls.caCertFile: cannot be read") for i in issues), issues


def test_tls_needs_exactly_one_mode() -> None:
    raw = sim()
    raw["vcenters"][0]["tls"] = {}
    issues = issues_of(raw)
    assert any(i.startswith("vcenters[sim].tls") for i in issues), issues


def test_render_is_readable_without_traceback() -> None:
    raw = sim()
    raw["topology"]["zones"][0]["region"] = "nope"
    with pytest.raises(ConfigError) as info:
        load(raw, stack="sim")
    text = info.value.render()
    assert text.splitlines()[0] == "the configuration of stack 'sim' has 1 problem(s):"
    assert "Traceback" not in text


def test_a_structural_error_does_not_hide_cross_field_ones() -> None:
    raw = sim()
    raw["kubernetes"]["podCidr"] = "bad"  # structural: the kubernetes section fails to parse
    _dup_zone(raw)  # cross-field, in a section that parses
    raw["nodePools"]["controlPlane"]["replicas"] = {"sim-a": 2}  # cross-field
    paths = {i.split(":")[0] for i in issues_of(raw)}
    assert {"kubernetes.podCidr", "topology.zones[sim-a]", "nodePools.controlPlane.replicas"} <= paths


def test_a_thumbprint_alone_is_refused_naming_what_the_vsphere_provider_needs() -> None:
    """The vSphere provider plugin has no thumbprint input: a pin alone would fail every lookup."""
    raw = copy.deepcopy(offline_config("dev"))
    raw["vcenters"][0]["tls"] = {"thumbprint": raw["vcenters"][0]["tls"]["thumbprint"]}
    with pytest.raises(ConfigError) as caught:
        load(raw, stack="dev")
    (issue,) = caught.value.issues
    assert issue.path == "vcenters[vc-dev].tls.thumbprint"
    assert "also set tls.caCert or tls.caCertFile" in issue.message


@pytest.mark.parametrize(
    ("account", "value", "path", "words"),
    [
        ("csi", {"username": "k8s-csi", "password": "p"}, "credentials.vc-dev.csi.username", "user@domain or DOMAIN"),
        (
            "csi",
            {"username": "k8s-csi@vsphere.local", "password": "p\x01q"},
            "credentials.vc-dev.csi.password",
            "control",
        ),
        (
            "cpi",
            {"username": "k8s-cpi@vsphere.local", "password": "p\rq"},
            "credentials.vc-dev.cpi.password",
            "control",
        ),
    ],
)
def test_accounts_the_drivers_would_refuse_or_mangle_are_config_errors(
    account: str, value: dict[str, str], path: str, words: str
) -> None:
    raw = copy.deepcopy(offline_config("dev"))
    raw["credentials"]["vc-dev"][account] = value
    with pytest.raises(ConfigError) as caught:
        load(raw, stack="dev")
    assert [i.path for i in caught.value.issues] == [path]
    assert words in caught.value.issues[0].message


def test_accepted_forms_and_escapable_characters_pass() -> None:
    raw = copy.deepcopy(offline_config("dev"))
    raw["credentials"]["vc-dev"]["csi"] = {"username": "VSPHERE.LOCAL\\k8s-csi", "password": "tab\there"}
    assert load(raw, stack="dev").credentials["vc-dev"].for_csi.username == "VSPHERE.LOCAL\\k8s-csi"
