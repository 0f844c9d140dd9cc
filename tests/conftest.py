"""Shared fixtures. Live fixtures start simulators on free loopback ports per session; the offline
ones run the real program under mocks once per session and stack, for tests that only read the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from offline.program import OfflineRun, offline_config, run_program
from tests.support.vcsim import VCenterTarget, Vcsim, real_vcenter_from_env


@pytest.fixture(scope="session")
def vcenter() -> Iterator[VCenterTarget]:
    """The vCenter simulator, or a real vCenter when VSPHERE_SERVER/USER/PASSWORD are set."""
    real = real_vcenter_from_env()
    if real is not None:
        yield real
        return
    sim = Vcsim()
    target = sim.start()
    try:
        yield target
    finally:
        sim.stop()


@pytest.fixture(scope="session")
def offline_run() -> Callable[[str], OfflineRun]:
    """The program under mocks on a stack file's own config (placeholder credentials), run once per stack.

    Shared by every test that only reads the run (recording, mocks, exports): a test that
    needs another config, or would change what it reads, runs the program itself.
    """
    runs: dict[str, OfflineRun] = {}

    def get(stack: str) -> OfflineRun:
        if stack not in runs:
            runs[stack] = run_program(offline_config(stack), stack=stack)
        return runs[stack]

    return get


@pytest.fixture(scope="session")
def sim(offline_run: Callable[[str], OfflineRun]) -> OfflineRun:
    """The sim stack under mocks (stacks/Pulumi.sim.yaml)."""
    return offline_run("sim")


@pytest.fixture(scope="session")
def prod(offline_run: Callable[[str], OfflineRun]) -> OfflineRun:
    """The prod stack under mocks (stacks/Pulumi.prod.yaml): two vCenters, verified TLS."""
    return offline_run("prod")
