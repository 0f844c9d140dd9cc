"""Pack config in the --policy-pack-config shape, applied outside the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policies.evaluate import PackConfig, PackConfigError, evaluate, mandatory
from policies.rules import Level, policy

from .builders import Topology, storage_class, vm

TOPOLOGY = Topology()
BAD_VM = vm("n", TOPOLOGY.placed("east-a"), hardware_version=13)
TWO_DEFAULTS = [storage_class("a", default=True), storage_class("b", default=True)]


def test_defaults_levels() -> None:
    findings = evaluate([*TOPOLOGY.resources(), BAD_VM, *TWO_DEFAULTS])
    by_policy = {f.policy: f.level for f in findings}
    assert by_policy == {
        "node-vm-disk-uuid-and-hardware": Level.MANDATORY,
        "single-default-storage-class": Level.ADVISORY,
    }
    assert [f.policy for f in mandatory(findings)] == ["node-vm-disk-uuid-and-hardware"]
    assert findings[0].urn == BAD_VM.urn


def test_levels_and_properties_from_config(tmp_path: Path) -> None:
    path = tmp_path / "pack.json"
    path.write_text(
        json.dumps(
            {
                "all": "advisory",
                "single-default-storage-class": "mandatory",
                "node-vm-disk-uuid-and-hardware": {"enforcementLevel": "mandatory", "minHardwareVersion": 13},
            }
        )
    )
    pack = PackConfig.load(path)
    assert pack.level(policy("vcenter-tls-verified")) == Level.ADVISORY
    assert pack.config(policy("node-vm-disk-uuid-and-hardware")) == {"minHardwareVersion": 13}
    findings = evaluate([*TOPOLOGY.resources(), BAD_VM, *TWO_DEFAULTS], pack)
    assert [f.policy for f in mandatory(findings)] == ["single-default-storage-class"]  # hw 13 now allowed


def test_disabled_policy_does_not_run() -> None:
    assert (
        evaluate([*TOPOLOGY.resources(), BAD_VM], PackConfig.parse({"node-vm-disk-uuid-and-hardware": "disabled"}))
        == []
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"no-such-policy": "advisory"}, "unknown policy 'no-such-policy'"),
        ({"all": "loud"}, "unknown enforcement level"),
    ],
)
def test_config_errors(raw: dict[str, str], expected: str) -> None:
    with pytest.raises(PackConfigError, match=expected):
        PackConfig.parse(raw)
