"""Kubernetes' version skew rules: within one configuration and from the running versions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from offline.program import offline_config
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load
from vsphere_k8s.plan.roll import NodeSpec
from vsphere_k8s.plan.skew import (
    Versions,
    config_issues,
    issues,
    running_versions,
    upgrade_issues,
)


def _msgs(found: Any) -> list[str]:
    return [str(i) for i in found]


def test_kubelet_newer_than_the_api_server_is_refused() -> None:
    found = _msgs(config_issues(Versions("1.35.2", {"general": "1.36.0", "old": "1.35.0"})))
    assert len(found) == 1
    assert "nodePools.workers[general].kubernetesVersion" in found[0]
    assert "newer than the control plane's 1.35.2" in found[0]


def test_kubelet_more_than_three_minors_behind_is_refused() -> None:
    assert _msgs(config_issues(Versions("1.36.0", {"a": "1.33.9"}))) == []
    (msg,) = _msgs(config_issues(Versions("1.36.0", {"a": "1.32.9"})))
    assert "4 minors behind" in msg


def test_control_plane_moves_one_minor_at_a_time() -> None:
    assert _msgs(upgrade_issues(Versions("1.34.2"), Versions("1.35.0"))) == []
    (msg,) = _msgs(upgrade_issues(Versions("1.34.2"), Versions("1.36.0")))
    assert msg.startswith("kubernetes.version:")
    assert "one minor at a time (first to 1.35.x)" in msg


def test_downgrades_are_refused_patch_or_minor() -> None:
    (msg,) = _msgs(upgrade_issues(Versions("1.35.4"), Versions("1.35.3")))
    assert "downgrade" in msg
    (msg,) = _msgs(upgrade_issues(Versions("1.35.4", {"w": "1.35.4"}), Versions("1.35.4", {"w": "1.34.0"})))
    assert "nodePools.workers[w]" in msg and "downgrade" in msg


def test_workers_do_not_move_with_the_control_plane() -> None:
    have = Versions("1.35.4", {"w": "1.35.4"})
    (msg,) = _msgs(upgrade_issues(have, Versions("1.36.0", {"w": "1.36.0"})))
    assert "the control plane goes first" in msg
    assert "nodePools.workers[w].kubernetesVersion: 1.35.4" in msg
    # The two-step path: the control plane with the pool pinned, then the pool.
    assert _msgs(issues(Versions("1.36.0", {"w": "1.35.4"}), have)) == []
    assert _msgs(issues(Versions("1.36.0", {"w": "1.36.0"}), Versions("1.36.0", {"w": "1.35.4"}))) == []


def test_a_new_pool_starts_at_its_version() -> None:
    assert _msgs(upgrade_issues(Versions("1.36.0"), Versions("1.36.0", {"new": "1.35.0"}))) == []


def _sim() -> dict[str, Any]:
    return copy.deepcopy(offline_config("sim"))


def test_stack_config_reports_a_kubelet_newer_than_the_control_plane() -> None:
    raw = _sim()
    raw["nodePools"]["workers"][0]["kubernetesVersion"] = "1.37.0"
    with pytest.raises(ConfigError) as info:
        load(raw, stack="test")
    pool = raw["nodePools"]["workers"][0]["name"]
    assert any(f"nodePools.workers[{pool}].kubernetesVersion" in str(i) for i in info.value.issues)


def test_the_cpi_pin_moves_with_the_minor() -> None:
    raw = _sim()
    minor = int(raw["kubernetes"]["version"].split(".")[1])
    raw["cpi"] = {**raw.get("cpi", {}), "version": f"v1.{minor - 1}.0"}
    with pytest.raises(ConfigError) as info:
        load(raw, stack="test")
    assert any(str(i).startswith("cpi.version") for i in info.value.issues)


def _spec(pool: str, version: str) -> NodeSpec:
    role: Any = "control-plane" if pool == "control-plane" else "worker"
    return NodeSpec(f"{pool}-a-0", f"n-{pool}", pool, role, "tpl", version, 2, 2048, 20)


def test_running_versions_are_read_from_the_last_runs_record() -> None:
    specs = [_spec("control-plane", "1.35.2"), _spec("general", "1.34.9"), _spec("control-plane", "1.36.3")]
    # Mid-roll the oldest counts: the next minor is one above the oldest API server still running.
    assert running_versions(specs) == Versions("1.35.2", {"general": "1.34.9"})
    assert running_versions([_spec("general", "1.35.2")]) is None  # no control plane recorded
    assert running_versions([_spec("control-plane", "")]) is None  # recorded before versions were kept


def test_a_control_plane_two_minors_ahead_of_what_runs_is_refused() -> None:
    have = running_versions([_spec("control-plane", "1.34.2"), _spec("general", "1.34.2")])
    assert have is not None
    found = _msgs(upgrade_issues(have, Versions("1.36.0", {"general": "1.34.2"})))
    assert found == [
        "kubernetes.version: the control plane runs 1.34.2; 1.36.0 skips a minor: upgrade one minor at a "
        "time (first to 1.35.x)"
    ]
