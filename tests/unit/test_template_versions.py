"""The node template contract: a template whose name or annotation says another Kubernetes version
than its pool runs is refused, naming the pool's template (docs/node-templates.md)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from components.lookups import template_version_issues
from offline.program import offline_config
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load
from vsphere_k8s.template_versions import (
    annotation_issue,
    disagreeing,
    said_in_annotation,
    said_in_name,
)

IMAGE_BUILDER_NOTES = (
    "Cluster API vSphere image - Ubuntu 24.04 and Kubernetes v1.35.4 - "
    "https://github.com/kubernetes-sigs/cluster-api-provider-vsphere/tree/main/build/images"
)


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("ubuntu-2404-kube-v1.35.4", ["1.35.4"]),  # image-builder's OVA names
        ("photon-5-kube-v1.35.4+vmware.1", ["1.35.4"]),
        ("tpl-v1.35", ["1.35"]),
        ("node-1.35.2", ["1.35.2"]),
        ("golden_k8s_1.36", ["1.36"]),
        ("Kubernetes 1.36.3 node", ["1.36.3"]),
        # Not Kubernetes releases: OS versions, a site's own image numbering, no number at all.
        ("ubuntu-22.04", []),
        ("golden-v1.2", []),
        ("rhel-9.4-base", []),
        ("DC0_C0_RP0_VM0", []),
    ],
)
def test_versions_a_template_name_states(name: str, said: list[str]) -> None:
    assert said_in_name(name) == said


def test_an_annotation_is_read_only_where_kubernetes_is_named() -> None:
    assert said_in_annotation(IMAGE_BUILDER_NOTES) == ["1.35.4"]
    assert said_in_annotation("Ubuntu 24.04, containerd 1.7.24, built 2026-11-30") == []
    assert said_in_annotation("KUBERNETES_SEMVER=v1.36.3") == ["1.36.3"]


def test_a_minor_is_compared_as_a_minor_and_a_release_as_a_release() -> None:
    assert disagreeing(["1.36"], "1.36.3") is None
    assert disagreeing(["1.36.3"], "1.36.3") is None
    assert disagreeing(["1.35"], "1.36.3") == "1.35"
    assert disagreeing(["1.36.1"], "1.36.3") == "1.36.1"
    assert disagreeing(["1.36.3", "1.35"], "1.36.3") == "1.35"  # every statement must agree
    assert disagreeing([], "1.36.3") is None  # a template that says nothing is not judged


def _sim(version: str = "1.36.3") -> dict[str, Any]:
    raw = copy.deepcopy(offline_config("sim"))
    raw["kubernetes"]["version"] = version
    return raw


def _issues(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(raw, stack="test")
    return [str(i) for i in info.value.issues]


def test_a_worker_template_named_for_another_minor_is_refused_naming_the_pool() -> None:
    raw = _sim()
    raw["nodePools"]["workers"][0]["template"] = "ubuntu-2404-kube-v1.35.4"
    (issue,) = _issues(raw)
    assert issue.startswith("nodePools.workers[general].template: ")
    assert "'ubuntu-2404-kube-v1.35.4' says Kubernetes 1.35.4, but the pool runs 1.36.3" in issue


def test_the_control_plane_template_is_held_to_kubernetes_version() -> None:
    raw = _sim()
    raw["nodePools"]["controlPlane"]["template"] = "kube-v1.35"
    (issue,) = _issues(raw)
    assert issue.startswith("nodePools.controlPlane.template: ")


def test_a_pinned_pool_is_held_to_its_own_version() -> None:
    raw = _sim()
    raw["nodePools"]["controlPlane"]["template"] = "ubuntu-2404-kube-v1.36.3"
    pool = raw["nodePools"]["workers"][0]
    pool.update(template="ubuntu-2404-kube-v1.35.4", kubernetesVersion="1.35.4")
    assert load(raw, stack="test").node_pools.workers[0].template == "ubuntu-2404-kube-v1.35.4"
    pool["kubernetesVersion"] = "1.36.3"  # bumped without its new template
    (issue,) = _issues(raw)
    assert issue.startswith("nodePools.workers[general].template: ")


def test_an_annotation_that_says_another_version_names_the_template() -> None:
    issue = annotation_issue("nodePools.workers[general].template", "tpl", IMAGE_BUILDER_NOTES, "1.36.3")
    assert issue is not None and issue.path == "nodePools.workers[general].template"
    assert "annotation (vSphere Notes) of template 'tpl' says Kubernetes 1.35.4" in issue.message
    assert annotation_issue("p", "tpl", IMAGE_BUILDER_NOTES, "1.35.4") is None
    assert annotation_issue("p", "tpl", "", "1.36.3") is None


@dataclass
class _Found:
    annotation: str | None


@dataclass
class _Lookups:
    """VSphereLookups' template() as vCenter would answer it: template name -> annotation."""

    notes: dict[str, str | None]

    def __post_init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def template(self, zone: Any, template: str, pool_path: str) -> _Found:
        self.calls.append((zone.name, template, pool_path))
        return _Found(self.notes[template])


def test_the_program_checks_each_pools_template_as_vcenter_has_it() -> None:
    raw = _sim()
    raw["nodePools"]["workers"][0]["template"] = "workers-tpl"
    cfg = load(raw, stack="test")
    lookups = _Lookups({"DC0_C0_RP0_VM0": "Kubernetes v1.36.3", "workers-tpl": IMAGE_BUILDER_NOTES})
    issues = template_version_issues(cfg, lookups)  # type: ignore[arg-type]
    assert [i.path for i in issues] == ["nodePools.workers[general].template"]  # once, for three zones
    # Looked up in every zone the pool has nodes in, under the key path the lookup names on failure.
    assert {(t, p) for _, t, p in lookups.calls} == {
        ("DC0_C0_RP0_VM0", "nodePools.controlPlane"),
        ("workers-tpl", "nodePools.workers[general]"),
    }
    assert len(lookups.calls) == 6
    assert template_version_issues(cfg, _Lookups({"DC0_C0_RP0_VM0": None, "workers-tpl": ""})) == []  # type: ignore[arg-type]
