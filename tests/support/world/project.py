"""A working copy of the Pulumi project for one world: the repo's code, its own stacks and state.

The program's modules are symlinked (the dynamic-provider host re-imports them from the
project root), Pulumi.yaml and the stack file are copied, so runs never write into the
repo's own ``stacks/`` and several worlds can exist side by side.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolchain.manifest import REPO_ROOT
from vsphere_k8s.config import StackConfig
from vsphere_k8s.loader import load
from vsphere_k8s.plan.nodes import plan_nodes
from vsphere_k8s.stack_file import read_stack_file

from .pulumi_cli import PulumiCli

if TYPE_CHECKING:
    from .world import World

LINKED = ("__main__.py", "components", "providers", "vsphere_k8s", "policies", "requirements.txt", ".venv")
STACK_TEMPLATES = REPO_ROOT / "stacks" / "world"


def make_project(workdir: Path, stack: str, template: Path) -> Path:
    project = workdir / "project"
    (project / "stacks").mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = project / name
        if not link.exists():
            link.symlink_to(REPO_ROOT / name)
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(template, project / "stacks" / f"Pulumi.{stack}.yaml")
    return project


def planned_nodes(stack_file: Path, overrides: dict[str, Any] | None = None) -> dict[str, bool]:
    """VM name -> control plane?, for the nodes the stack plans (what the node agent expects)."""
    raw, _ = read_stack_file(stack_file)
    raw.update(overrides or {})
    cfg: StackConfig = load(raw, stack=stack_file.stem)
    return {n.name: n.role == "control-plane" for n in plan_nodes(cfg)}


def init_stack(cli: PulumiCli, stack: str, *, port: int, username: str, password: str, kubeconfig: str) -> None:
    """`pulumi stack init` and the run-time config: the simulator's port and the secrets."""
    cli.run("stack", "init", stack)
    cli.run("config", "set", "--path", "vcenters[0].port", str(port))
    cli.set_secret("credentials.sim.username", username)
    cli.set_secret("credentials.sim.password", password)
    # The CPI's and the CSI's own accounts (vcsim accepts any login): vsphereRoles grants them.
    for account in ("cpi", "csi"):
        cli.set_secret(f"credentials.sim.{account}.username", f"k8s-{account}@vsphere.local")
        cli.set_secret(f"credentials.sim.{account}.password", secrets.token_urlsafe(18))
    cli.set_secret("kubernetes.kubeconfig", kubeconfig)


def open_local_stack(world: World, stack: str, template: Path, expected: dict[str, bool]) -> PulumiCli:
    """The project copy and `pulumi stack init` of a world's stack, with the world's vCenter and
    kubeconfig as its config; fills ``expected`` (the node agent's list) with the planned nodes."""
    assert world.vcenter is not None
    cli = PulumiCli(make_project(world.workdir, stack, template), world.workdir)
    kubeconfig = world.kubeconfig.read_text()
    init_stack(
        cli,
        stack,
        port=world.vcenter.port,
        username=world.vcenter.username,
        password=world.vcenter.password,
        kubeconfig=kubeconfig,
    )
    overrides = {
        "credentials": {"sim": {"username": "planner@vsphere.local", "password": "-"}},
        "kubernetes": {"version": "1.36.3", "mode": "existing", "kubeconfig": kubeconfig},
    }
    expected.update(planned_nodes(template, overrides))
    return cli
