"""The no-op benchmark's world at hundreds of nodes: kwok's slower heartbeats, the agent's VM lookup."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from benchmarks.noop_cost import CONTROLLER_ARGS, HEARTBEAT_STAGE, GuestReporter, bench_stages
from tests.support.world.kubelets import STAGES


def _by_name(text: str) -> dict[str, Any]:
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(text) if d}


def test_bench_stages_slow_only_the_heartbeat() -> None:
    world = _by_name(STAGES.read_text())
    bench = _by_name(bench_stages(STAGES.read_text(), heartbeat_seconds=60))
    assert bench[HEARTBEAT_STAGE]["spec"]["delay"] == {
        "durationMilliseconds": 60000,
        "jitterDurationMilliseconds": 90000,
    }
    assert world[HEARTBEAT_STAGE]["spec"]["delay"]["durationMilliseconds"] == 5000
    # Everything else, templates included, is the world's.
    bench[HEARTBEAT_STAGE]["spec"]["delay"] = world[HEARTBEAT_STAGE]["spec"]["delay"]
    assert bench == world


def test_bench_stages_name_the_missing_stage() -> None:
    text = yaml.safe_dump({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": "other"}})
    with pytest.raises(ValueError, match=HEARTBEAT_STAGE):
        bench_stages(text)


def test_grace_outlasts_a_slow_heartbeat() -> None:
    seconds = {a.split("=")[0]: int(a.split("=")[1].rstrip("s")) for a in CONTROLLER_ARGS}
    assert seconds["--node-monitor-grace-period"] >= 10 * 90  # ten of the slowest heartbeats missed


def _content() -> Any:
    return SimpleNamespace(propertyCollector=SimpleNamespace(_stub=None))


def test_guest_reporter_reads_the_ids_once_per_missing_name() -> None:
    reads: list[int] = []
    ids = {"a": "vm-1", "b": "vm-2"}
    done: list[tuple[str, str, str]] = []

    def list_ids() -> dict[str, str]:
        reads.append(1)
        return dict(ids)

    report = GuestReporter(_content, list_ids, lambda vm, name, ip: done.append((vm._moId, name, ip)))
    report("a", "10.0.0.1")
    report("b", "10.0.0.2")
    assert len(reads) == 1  # b was in the first read
    ids["c"] = "vm-3"
    report("c", "10.0.0.3")
    assert len(reads) == 2
    assert done == [("vm-1", "a", "10.0.0.1"), ("vm-2", "b", "10.0.0.2"), ("vm-3", "c", "10.0.0.3")]
    with pytest.raises(LookupError, match="VM d not found"):
        report("d", "10.0.0.4")
