"""The end-to-end world: the real CLI, plugins and control plane on a local simulated data centre."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.world.project import STACK_TEMPLATES, init_stack, make_project, planned_nodes
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


def _kubeconfig_text(world: World) -> str:
    return world.kubeconfig.read_text()


@pytest.fixture(scope="package")
def e2e() -> Iterator[E2E]:
    workdir = REPO_ROOT / "build" / "e2e" / time.strftime("%Y%m%d-%H%M%S")
    template = STACK_TEMPLATES / f"Pulumi.{STACK}.yaml"
    project = make_project(workdir, STACK, template)
    stack_file = project / "stacks" / f"Pulumi.{STACK}.yaml"
    expected: dict[str, bool] = {}
    world = World(workdir, expected_nodes=lambda: expected)
    world.start()
    ok = False
    try:
        assert world.vcenter is not None
        cli = PulumiCli(project, workdir)
        init_stack(
            cli,
            STACK,
            port=world.vcenter.port,
            username=world.vcenter.username,
            password=world.vcenter.password,
            kubeconfig=_kubeconfig_text(world),
        )
        expected.update(
            planned_nodes(
                template,
                {
                    "credentials": {"sim": {"username": "x", "password": "y"}},
                    "kubernetes": {"version": "1.36.3", "mode": "existing", "kubeconfig": _kubeconfig_text(world)},
                },
            )
        )
        yield E2E(world, cli, project, stack_file, expected)
        ok = True
    finally:
        errors = world.stop()
        if ok and not errors and not os.environ.get("VK8S_KEEP_E2E"):
            shutil.rmtree(workdir, ignore_errors=True)
