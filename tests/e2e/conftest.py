"""The end-to-end world: the real CLI, plugins and control plane on a local simulated data centre.

With the live tests' variables set (VSPHERE_SERVER, ..., KUBECONFIG_LIVE: see
tests/support/world/target.py), the same tier runs against that vCenter and cluster instead;
steps that only a simulator allows skip there, saying so.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.world.project import STACK_TEMPLATES
from tests.support.world.pulumi_cli import PulumiCli
from tests.support.world.target import TargetWorld, open_tier_world
from tests.support.world.world import World
from toolchain.manifest import REPO_ROOT

STACK = "local"


@dataclass
class E2E:
    world: World
    cli: PulumiCli
    project: Path
    stack_file: Path
    expected: dict[str, bool]

    @property
    def simulated(self) -> bool:
        """The local world (vcsim, kwok, the node agent), not an existing vCenter and cluster."""
        return not isinstance(self.world, TargetWorld)

    def sim_only(self, what: str) -> None:
        """Skip the rest of a step on a real target: ``what`` only a simulator allows."""
        if not self.simulated:
            pytest.skip(f"real target: {what} only on the local simulated data centre")


@pytest.fixture(scope="package")
def e2e(request: pytest.FixtureRequest) -> Iterator[E2E]:
    workdir = REPO_ROOT / "build" / "e2e" / time.strftime("%Y%m%d-%H%M%S")
    template = STACK_TEMPLATES / f"Pulumi.{STACK}.yaml"
    expected: dict[str, bool] = {}
    world, cli = open_tier_world(workdir, STACK, template, expected)
    failed_before = request.session.testsfailed
    ok = False
    try:
        yield E2E(world, cli, cli.project, cli.project / "stacks" / f"Pulumi.{STACK}.yaml", expected)
        ok = request.session.testsfailed == failed_before  # a failed step keeps the logs
    finally:
        errors = world.stop()
        if ok and not errors and not os.environ.get("VK8S_KEEP_E2E"):
            shutil.rmtree(workdir, ignore_errors=True)
