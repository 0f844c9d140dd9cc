"""The pack over the real program's offline recording of every stack in stacks/."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from offline import __main__ as cli
from offline import policy_run, policy_views
from offline.program import ROOT, OfflineRun
from policies.evaluate import PackConfig, evaluate, mandatory
from vsphere_k8s.facts import VM_TYPE

STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


@pytest.fixture(scope="module")
def runs(offline_run: Callable[[str], OfflineRun]) -> dict[str, OfflineRun]:
    return {stack: offline_run(stack) for stack in STACKS}


def test_stacks_exist() -> None:
    assert {"sim", "dev", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_no_mandatory_violation(stack: str, runs: dict[str, OfflineRun]) -> None:
    run = runs[stack]
    pack_file = policy_run.default_pack_config(stack)
    pack = PackConfig.load(pack_file) if pack_file else None
    views = policy_views.views(run.recording)
    # The rules saw the whole cluster: VMs placed in zones, the CPI and CSI configs.
    assert sum(v.type == VM_TYPE for v in views) >= 3
    found = mandatory(evaluate(views, pack))
    assert found == [], "\n".join(f"{f.policy}: {f.message}" for f in found)


def test_a_broken_vm_in_the_real_recording_is_caught(runs: dict[str, OfflineRun]) -> None:
    views = policy_views.views(runs["prod"].recording)
    target = next(v for v in views if v.type == VM_TYPE)
    views = [dataclasses.replace(v, props={**v.props, "hardwareVersion": 13}) if v is target else v for v in views]
    found = [f for f in mandatory(evaluate(views)) if f.urn == target.urn]
    assert [f.policy for f in found] == ["node-vm-disk-uuid-and-hardware"]


def test_a_plaintext_kubeconfig_output_is_caught(runs: dict[str, OfflineRun]) -> None:
    views = policy_views.views(runs["sim"].recording)
    cluster = next(v for v in views if v.type == "vsphere-k8s:index:Cluster")
    assert cluster.is_secret("kubeconfig") is True  # as the program registers it
    leaked = dataclasses.replace(cluster, secret_props=frozenset())
    views = [leaked if v is cluster else v for v in views]
    found = [f for f in mandatory(evaluate(views)) if f.urn == cluster.urn]
    assert found and found[0].policy == "credentials-only-in-secrets" and "output kubeconfig" in found[0].message


def test_sim_tls_is_refused_outside_the_allow_list(runs: dict[str, OfflineRun]) -> None:
    views = policy_views.views(runs["sim"].recording)
    pack = PackConfig.parse({"vcenter-tls-verified": {"allowInsecureStacks": []}})
    refused = {f.urn.rsplit("$", 1)[-1].split("::")[0] for f in mandatory(evaluate(views, pack)) if f.urn}
    # Every path to vCenter: the provider, the tag attachments, the CPI's and the CSI's configs.
    assert {
        "pulumi:providers:vsphere",
        "pulumi-python:dynamic/vsphere:TagAttachment",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:Secret",
    } <= refused


def test_offline_cli_fails_on_a_mandatory_violation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"vcenter-tls-verified": {"allowInsecureStacks": []}}))
    code = cli.main(["--stack", "sim", "--out", str(tmp_path / "out"), "--quiet", "--policy-config", str(strict)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "[mandatory] vcenter-tls-verified" in printed and "Policies: " in printed
    assert (tmp_path / "out" / "resources.json").exists()  # the files are still written for review
    assert cli.main(["--stack", "sim", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert cli.main(["--stack", "sim", "--out", str(tmp_path / "o2"), "--quiet", "--no-policy"]) == 0
    assert "Policies:" not in capsys.readouterr().out.split("wrote")[-1]


def test_offline_cli_rejects_a_bad_pack_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"no-such-policy": "advisory"}))
    assert cli.main(["--stack", "sim", "--out", str(tmp_path / "out"), "--quiet", "--policy-config", str(bad)]) == 2


def test_the_real_cpi_without_the_uninitialized_toleration_is_caught(runs: dict[str, OfflineRun]) -> None:
    views = policy_views.views(runs["sim"].recording)
    cpi = next(v for v in views if v.type == "kubernetes:apps/v1:DaemonSet" and "cloud-controller" in v.name)
    spec = copy.deepcopy(dict(cpi.props["spec"]))
    pod = spec["template"]["spec"]
    pod["tolerations"] = [t for t in pod["tolerations"] if "uninitialized" not in t.get("key", "")]
    views = [dataclasses.replace(v, props={**v.props, "spec": spec}) if v is cpi else v for v in views]
    found = [f for f in mandatory(evaluate(views)) if f.urn == cpi.urn]
    assert [f.policy for f in found] == ["cpi-daemonset-wiring"]


def test_a_resource_on_the_default_provider_is_caught(runs: dict[str, OfflineRun]) -> None:
    views = policy_views.views(runs["sim"].recording)
    target = next(v for v in views if v.type == "vsphere:index/tag:Tag")
    views = [dataclasses.replace(v, provider=None) if v is target else v for v in views]
    assert [f.policy for f in mandatory(evaluate(views)) if f.urn == target.urn] == ["explicit-providers"]
