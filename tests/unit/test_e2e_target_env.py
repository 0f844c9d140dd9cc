"""The e2e tier's real-target variables: what selects a target, and what a missing piece says."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.world.project import STACK_TEMPLATES
from tests.support.world.target import TargetError, target_from_env, target_stack_config

VARS = (
    "VSPHERE_SERVER",
    "VSPHERE_USER",
    "VSPHERE_PASSWORD",
    "VSPHERE_INSECURE",
    "VSPHERE_CA_FILE",
    "VSPHERE_THUMBPRINT",
    "KUBECONFIG_LIVE",
    "VK8S_VSPHERE_PLUGIN",
    "VK8S_E2E_STACK",
    "VSPHERE_CPI_USER",
    "VSPHERE_CPI_PASSWORD",
    "VSPHERE_CSI_USER",
    "VSPHERE_CSI_PASSWORD",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A complete set of variables (a CA, a kubeconfig, the stand-in plugin): each test breaks one."""
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    for name, value in {
        "VSPHERE_SERVER": "vc.example:8443",
        "VSPHERE_USER": "svc@vsphere.local",
        "VSPHERE_PASSWORD": "pw-not-shown",
        "VSPHERE_CA_FILE": str(tmp_path / "ca.pem"),
        "KUBECONFIG_LIVE": str(tmp_path / "kubeconfig"),
        "VK8S_VSPHERE_PLUGIN": "standin",
    }.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_without_vsphere_server_the_tier_builds_its_local_world(env: pytest.MonkeyPatch) -> None:
    env.delenv("VSPHERE_SERVER")
    assert target_from_env() is None


def test_the_variables_name_the_target(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("VSPHERE_CPI_USER", "cpi@vsphere.local")
    env.setenv("VSPHERE_CPI_PASSWORD", "cpi-pw")
    target = target_from_env()
    assert target is not None
    assert (target.vcenter.address, target.vcenter.port, target.vcenter.ca_file) == (
        "vc.example",
        8443,
        str(tmp_path / "ca.pem"),
    )
    assert target.vsphere_plugin is None and target.accounts == {"cpi": ("cpi@vsphere.local", "cpi-pw")}
    assert target.stack_file == STACK_TEMPLATES / "Pulumi.local.yaml"
    assert "pw-not-shown" not in repr(target) and "cpi-pw" not in repr(target)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"VSPHERE_PASSWORD": None}, "VSPHERE_PASSWORD"),
        ({"VSPHERE_CA_FILE": None}, "VSPHERE_CA_FILE"),
        ({"VSPHERE_CA_FILE": None, "VSPHERE_THUMBPRINT": "AB:CD"}, "VSPHERE_CA_FILE"),
        ({"KUBECONFIG_LIVE": None}, "KUBECONFIG_LIVE"),
        ({"KUBECONFIG_LIVE": "/nonexistent/kubeconfig"}, "KUBECONFIG_LIVE"),
        ({"VK8S_VSPHERE_PLUGIN": None}, "VK8S_VSPHERE_PLUGIN"),
        ({"VK8S_VSPHERE_PLUGIN": "/nonexistent/pulumi-resource-vsphere"}, "VK8S_VSPHERE_PLUGIN"),
        ({"VSPHERE_CSI_USER": "csi@vsphere.local"}, "VSPHERE_CSI_PASSWORD"),
    ],
)
def test_a_missing_piece_is_named(env: pytest.MonkeyPatch, change: dict[str, str | None], named: str) -> None:
    for name, value in change.items():
        if value is None:
            env.delenv(name)
        else:
            env.setenv(name, value)
    with pytest.raises(TargetError, match=named):
        target_from_env()


def test_the_stack_gets_the_targets_address_and_trust_and_nothing_secret(env: pytest.MonkeyPatch) -> None:
    target = target_from_env()
    assert target is not None
    doc = target_stack_config(target.stack_file, target.vcenter)
    config = doc["config"]
    vc = config["vsphere-k8s:vcenters"][0]
    assert (vc["server"], vc["port"]) == ("vc.example", 8443)
    assert vc["tls"] == {"caCertFile": str(Path(target.vcenter.ca_file or "").resolve())}
    assert config["vsphere-k8s:cluster"]["allowInsecureTls"] is False
    assert "pw-not-shown" not in yaml.safe_dump(doc)
    env.setenv("VSPHERE_INSECURE", "1")
    insecure = target_from_env()
    assert insecure is not None
    lab = target_stack_config(insecure.stack_file, insecure.vcenter)["config"]
    assert lab["vsphere-k8s:vcenters"][0]["tls"] == {"insecure": True}
    assert lab["vsphere-k8s:cluster"]["allowInsecureTls"] is True


def test_a_bootstrap_stack_is_refused(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    doc = yaml.safe_load((STACK_TEMPLATES / "Pulumi.local.yaml").read_text())
    doc["config"]["vsphere-k8s:kubernetes"]["mode"] = "bootstrap"
    site = tmp_path / "Pulumi.site.yaml"
    site.write_text(yaml.safe_dump(doc))
    env.setenv("VK8S_E2E_STACK", str(site))
    target = target_from_env()
    assert target is not None
    with pytest.raises(TargetError, match=r"kubernetes\.mode must be existing"):
        target_stack_config(target.stack_file, target.vcenter)
