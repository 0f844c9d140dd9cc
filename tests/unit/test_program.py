"""The real program (`__main__.py`) under Pulumi's mocks: what it registers, and how it refuses bad config."""

from __future__ import annotations

import copy
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline.program import PLACEHOLDER_PASSWORD, ROOT, OfflineRun, offline_config
from offline.runtime import configure, run
from vsphere_k8s.stack_file import PROJECT

PROVIDER = "pulumi:providers:vsphere"


def test_cluster_component_is_the_root(sim: OfflineRun) -> None:
    clusters = sim.recording.of_type("vsphere-k8s:index:Cluster")
    assert [c.name for c in clusters] == ["sim"]
    assert not clusters[0].custom


def test_one_vsphere_provider_per_vcenter_with_secret_credentials(sim: OfflineRun) -> None:
    (provider,) = sim.recording.of_type(PROVIDER)
    assert provider.inputs["vsphereServer"] == "127.0.0.1:8989"
    assert provider.inputs["allowUnverifiedSsl"] in (True, "true")
    assert {"user", "password"} <= provider.secret_inputs
    cluster = sim.recording.of_type("vsphere-k8s:index:Cluster")[0]
    assert provider.parent == cluster.urn


def test_prod_verifies_tls_on_both_vcenters(prod: OfflineRun) -> None:
    providers = prod.recording.of_type(PROVIDER)
    assert len(providers) == 2
    assert all(p.inputs.get("allowUnverifiedSsl") in (False, "false", None) for p in providers)


def test_exports_name_every_planned_node(sim: OfflineRun) -> None:
    nodes = sim.exports["nodes"]
    assert sim.exports["clusterName"] == "sim"
    assert len(nodes) == 6
    assert {n["zone"] for n in nodes.values()} == {"sim-a", "sim-b", "sim-c"}
    assert sorted(n["ip"] for n in nodes.values() if n["role"] == "control-plane") == [
        "10.10.0.100",
        "10.10.0.20",
        "10.10.0.60",
    ]


def test_no_plaintext_credential_in_any_registration(sim: OfflineRun) -> None:
    for reg in sim.recording.registrations.values():
        for key, value in reg.inputs.items():
            if PLACEHOLDER_PASSWORD in str(value):
                assert key in reg.secret_inputs, f"{reg.type} {reg.name}.{key} holds the password in plaintext"
    assert PLACEHOLDER_PASSWORD not in str(sim.exports)


def _run_path(path: Path) -> None:
    runpy.run_path(str(path), run_name="__pulumi_test__")


def _run_main(config: dict[str, Any]) -> tuple[BaseException | None, int]:
    """Run __main__.py itself (bypassing the offline pre-check) and count registrations."""
    mocks, monitor = configure(config, project=PROJECT, stack="sim", secret_keys={"credentials"} & set(config))
    error: BaseException | None = None

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__pulumi_test__")

    try:
        recording = run(program, monitor, mocks)
        count = len(recording.registrations)
    except Exception as exc:  # the engine surfaces the program's RunError
        error, count = exc, len(monitor.registrations)
    return error, count


def test_bad_config_fails_before_anything_is_registered() -> None:
    raw = copy.deepcopy(offline_config("sim"))
    del raw["topology"]["zones"][0]["datastore"]
    raw["kubernetes"]["podCidr"] = "not-a-cidr"
    error, count = _run_main(raw)
    assert error is not None
    text = str(error)
    assert "topology.zones[sim-a].datastore: required but not set" in text
    assert "kubernetes.podCidr" in text
    assert count == 0


def test_a_misspelt_top_level_key_is_an_error_under_the_engine_too() -> None:
    """The engine path reads every key of the namespace, as the offline loader does."""
    raw = copy.deepcopy(offline_config("sim"))
    raw["vsphereroles"] = {"create": True}
    error, count = _run_main(raw)
    assert error is not None
    assert "vsphereroles: unknown key; did you mean vsphereRoles?" in str(error)
    assert count == 0


def test_credentials_must_be_a_secret() -> None:
    raw = copy.deepcopy(offline_config("sim"))
    mocks, monitor = configure(raw, project=PROJECT, stack="sim", secret_keys=set())
    error: BaseException | None = None
    try:
        run(lambda: _run_path(ROOT / "__main__.py"), monitor, mocks)
    except Exception as exc:
        error = exc
    assert error is not None and "pulumi config set --secret" in str(error)
    assert PLACEHOLDER_PASSWORD not in str(error)
    assert len(monitor.registrations) == 0


def test_offline_cli_prints_tree_and_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from offline.__main__ import main

    assert main(["--stack", "sim", "--out", str(tmp_path)]) in (0, 1)
    out = capsys.readouterr().out
    assert "vsphere-k8s:Cluster  sim (component)" in out
    assert (tmp_path / "resources.json").exists()
    assert PLACEHOLDER_PASSWORD not in (tmp_path / "resources.json").read_text()
    # Whole numbers as the program wrote them, not as the wire's doubles (replicas: 1, not 1.0).
    controller = yaml.safe_load(
        (tmp_path / "manifests" / "vmware-system-csi" / "deployment-vsphere-csi-controller.yaml").read_text()
    )
    assert type(controller["spec"]["replicas"]) is int
    cpi = (tmp_path / "manifests" / "kube-system" / "daemonset-vsphere-cloud-controller-manager.yaml").read_text()
    assert "runAsUser: 1001\n" in cpi and "1001.0" not in cpi


def test_offline_cli_reports_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from offline.__main__ import main

    assert main(["--stack", "no-such-stack", "--out", str(tmp_path)]) == 2
    assert "no stack file" in capsys.readouterr().err


def test_kubeconfig_must_be_a_secret() -> None:
    raw = copy.deepcopy(offline_config("sim"))
    raw["kubernetes"] = {**raw["kubernetes"], "mode": "existing", "kubeconfig": "apiVersion: v1\nkind: Config\n"}
    mocks, monitor = configure(raw, project=PROJECT, stack="sim", secret_keys={"credentials"})
    error: BaseException | None = None
    try:
        run(lambda: _run_path(ROOT / "__main__.py"), monitor, mocks)
    except Exception as exc:
        error = exc
    assert error is not None
    assert "kubernetes.kubeconfig: holds a credential but is not a secret" in str(error)
    assert len(monitor.registrations) == 0
