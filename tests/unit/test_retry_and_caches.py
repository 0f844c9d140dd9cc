"""The providers' one retry budget, and the one reset of their per-process caches."""

from __future__ import annotations

import importlib

import pytest

from providers import caches
from providers.caches import reset_caches
from providers.node_binding.kube import nodes_for
from providers.retry import RetryPolicy
from providers.vcenter.connection import Endpoint, connection_for
from tests.unit.test_node_binding_kube import KUBECONFIG


def test_retries_pause_as_the_policy_says_count_each_pause_then_give_up_from_the_cause() -> None:
    slept: list[float] = []
    counted: list[int] = []
    policy = RetryPolicy(attempts=4, base_delay=0.5, max_delay=1.5, sleep=slept.append)
    retries = policy.start(lambda cause: RuntimeError(f"gave up: {cause}"), lambda: counted.append(1))
    for _ in range(3):
        retries.pause("HTTP 503")
    assert slept == [0.5, 1.0, 1.5] and len(counted) == 3
    cause = ConnectionError("reset by peer")
    with pytest.raises(RuntimeError, match="gave up: reset by peer") as caught:
        retries.pause(cause)
    assert caught.value.__cause__ is cause
    assert len(slept) == 3  # no pause once the budget is spent


def test_a_single_attempt_never_sleeps() -> None:
    slept: list[float] = []
    retries = RetryPolicy(attempts=1, sleep=slept.append).start(lambda cause: ValueError(str(cause)))
    with pytest.raises(ValueError, match="HTTP 429"):
        retries.pause("HTTP 429")
    assert slept == []


def test_reset_caches_drops_every_session_and_client_as_a_new_provider_process_starts() -> None:
    endpoint = Endpoint(host="vc.example", username="u", password="p")  # no I/O until the first call
    conn, kube = connection_for(endpoint), nodes_for(KUBECONFIG)
    assert connection_for(endpoint) is conn and nodes_for(KUBECONFIG) is kube
    reset_caches()
    assert connection_for(endpoint) is not conn
    assert nodes_for(KUBECONFIG) is not kube
    reset_caches()


@pytest.mark.parametrize(("module", "reset"), caches._HOLDERS)
def test_every_cache_holder_has_the_reset_the_registry_names(module: str, reset: str) -> None:
    assert callable(getattr(importlib.import_module(module), reset))
