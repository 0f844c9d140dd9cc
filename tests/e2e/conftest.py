"""The end-to-end world: the real CLI, plugins and control plane on a local simulated data centre."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.world.project import STACK_TEMPLATES, open_local_stack
from tests.support.world.pulumi_cli import PulumiCli
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


@pytest.fixture(scope="package")
def e2e(request: pytest.FixtureRequest) -> Iterator[E2E]:
    workdir = REPO_ROOT / "build" / "e2e" / time.strftime("%Y%m%d-%H%M%S")
    template = STACK_TEMPLATES / f"Pulumi.{STACK}.yaml"
    expected: dict[str, bool] = {}
    world = World(workdir, expected_nodes=lambda: expected)
    world.start()
    failed_before = request.session.testsfailed
    ok = False
    try:
        cli = open_local_stack(world, STACK, template, expected)
        yield E2E(world, cli, cli.project, cli.project / "stacks" / f"Pulumi.{STACK}.yaml", expected)
        ok = request.session.testsfailed == failed_before  # a failed step keeps the logs
    finally:
        errors = world.stop()
        if ok and not errors and not os.environ.get("VK8S_KEEP_E2E"):
            shutil.rmtree(workdir, ignore_errors=True)
