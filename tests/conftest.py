"""Shared fixtures. Live fixtures start simulators on free loopback ports per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
