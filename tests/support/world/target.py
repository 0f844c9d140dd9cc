"""The end-to-end tier against an existing vCenter and cluster instead of the local world.

Selected by the live tests' variables, plus what a whole stack needs:

    VSPHERE_SERVER, VSPHERE_USER, VSPHERE_PASSWORD   the vCenter (host[:port]) and the program's account
    VSPHERE_CA_FILE [+ VSPHERE_THUMBPRINT]           the CA that signed its certificate (tls.caCertFile)
      or VSPHERE_INSECURE=1                          no verification (a lab; needs allowInsecureTls)
    KUBECONFIG_LIVE                                  a kubeconfig file of the cluster (mode: existing)
    VSPHERE_CPI_USER/_PASSWORD, VSPHERE_CSI_USER/_PASSWORD   the CPI's and the CSI's accounts
                                                     (vsphereRoles grants them their roles)
    VK8S_E2E_STACK                                   the site's stack file: its datacenter, clusters,
                                                     datastores, network and template (default: the
                                                     local one, whose names are the simulator's)
    VK8S_VSPHERE_PLUGIN                              the real pulumi-resource-vsphere binary, or
                                                     "standin" for the project's test double

Nothing is started: the cluster's own kubelets register the VMs' nodes and its own CPI (the
DaemonSet the stack deploys) initialises them. Credentials and the kubeconfig reach the stack
through `pulumi config set --secret` (stdin); only non-secret settings are written to its file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.vcsim import VCenterTarget, real_vcenter_from_env

from .project import STACK_TEMPLATES, make_project, open_local_stack, planned_nodes
from .pulumi_cli import PulumiCli
from .world import World

NAMESPACE = "vsphere-k8s"
STANDIN = "standin"


class TargetError(ValueError):
    """The variables select a real target but leave out something it needs (named in the message)."""


@dataclass(frozen=True)
class Target:
    vcenter: VCenterTarget
    kubeconfig: Path
    stack_file: Path
    vsphere_plugin: Path | None  # None: the project's stand-in (asked for with "standin")
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)  # cpi/csi -> user, password


def target_from_env() -> Target | None:
    """The real target the environment names, or None (VSPHERE_SERVER unset: the local world)."""
    vcenter = real_vcenter_from_env()
    if vcenter is None:
        if os.environ.get("VSPHERE_SERVER"):
            raise TargetError("VSPHERE_SERVER is set: VSPHERE_USER and VSPHERE_PASSWORD must be set too")
        return None
    if not vcenter.insecure and not vcenter.ca_file:
        raise TargetError(
            "set VSPHERE_CA_FILE (a PEM file of the CA that signed the vCenter's certificate) or VSPHERE_INSECURE=1"
        )
    if vcenter.thumbprint and not vcenter.ca_file:
        raise TargetError("VSPHERE_THUMBPRINT needs VSPHERE_CA_FILE: the vSphere provider plugin cannot pin one")
    kubeconfig = os.environ.get("KUBECONFIG_LIVE")
    if not kubeconfig or not Path(kubeconfig).is_file():
        raise TargetError("KUBECONFIG_LIVE must name the kubeconfig file of the target cluster")
    plugin = os.environ.get("VK8S_VSPHERE_PLUGIN", "")
    if not plugin:
        raise TargetError(
            "set VK8S_VSPHERE_PLUGIN to the real pulumi-resource-vsphere binary (`pulumi plugin install resource "
            'vsphere` puts it under ~/.pulumi/plugins/), or to "standin" for the project\'s test double'
        )
    if plugin != STANDIN and not os.access(plugin, os.X_OK):
        raise TargetError(f"VK8S_VSPHERE_PLUGIN={plugin} is not an executable file")
    accounts: dict[str, tuple[str, str]] = {}
    for role in ("cpi", "csi"):
        user, password = (
            os.environ.get(f"VSPHERE_{role.upper()}_USER"),
            os.environ.get(f"VSPHERE_{role.upper()}_PASSWORD"),
        )
        if bool(user) != bool(password):
            raise TargetError(f"set both VSPHERE_{role.upper()}_USER and VSPHERE_{role.upper()}_PASSWORD, or neither")
        if user and password:
            accounts[role] = (user, password)
    return Target(
        vcenter,
        Path(kubeconfig),
        Path(os.environ.get("VK8S_E2E_STACK") or STACK_TEMPLATES / "Pulumi.local.yaml"),
        None if plugin == STANDIN else Path(plugin),
        accounts,
    )


@dataclass
class TargetWorld(World):
    """The World over a vCenter and a cluster that already exist: nothing is started or stopped.

    A World (its tests need no other type): ``control_plane``, ``agent`` and ``cpi`` stay None,
    ``vcenter`` is the target's and ``kubeconfig`` is KUBECONFIG_LIVE.
    """

    target: Target | None = None

    @property
    def kubeconfig(self) -> Path:
        assert self.target is not None
        return self.target.kubeconfig

    def start(self) -> TargetWorld:
        assert self.target is not None
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.vcenter = self.target.vcenter
        return self

    def stop(self) -> list[str]:
        return []


def target_stack_config(stack_file: Path, vcenter: VCenterTarget) -> dict[str, Any]:
    """The site's stack file with the target's vCenter address and trust (nothing secret)."""
    doc = yaml.safe_load(stack_file.read_text())
    config = doc.setdefault("config", {})
    vcenters = config.get(f"{NAMESPACE}:vcenters")
    if not isinstance(vcenters, list) or len(vcenters) != 1:
        raise TargetError(f"{stack_file}: the e2e tier targets one vCenter; list exactly one under vcenters")
    vc = vcenters[0]
    vc["server"], vc["port"] = vcenter.address, vcenter.port
    if vcenter.insecure:
        vc["tls"] = {"insecure": True}
        config.setdefault(f"{NAMESPACE}:cluster", {})["allowInsecureTls"] = True
    else:
        vc["tls"] = {"caCertFile": str(Path(vcenter.ca_file or "").resolve())}
        if vcenter.thumbprint:
            vc["tls"]["thumbprint"] = vcenter.thumbprint
        config.setdefault(f"{NAMESPACE}:cluster", {})["allowInsecureTls"] = False
    mode = config.setdefault(f"{NAMESPACE}:kubernetes", {}).setdefault("mode", "existing")
    if mode != "existing":
        raise TargetError(f"{stack_file}: kubernetes.mode must be existing (the cluster is KUBECONFIG_LIVE's)")
    return dict(doc)


def open_target_stack(world: TargetWorld, stack: str, expected: dict[str, bool]) -> PulumiCli:
    """The project copy and `pulumi stack init` of the target's stack; its secrets through the CLI."""
    target = world.target
    assert target is not None
    doc = target_stack_config(target.stack_file, target.vcenter)
    template = world.workdir / f"Pulumi.{stack}.yaml"
    template.write_text(yaml.safe_dump(doc))
    cli = PulumiCli(make_project(world.workdir, stack, template), world.workdir)
    if target.vsphere_plugin is not None:
        # The real plugin in the stand-in's place: the CLI takes pulumi-resource-vsphere from PATH.
        link = Path(cli.env["PATH"].split(os.pathsep)[0]) / "pulumi-resource-vsphere"
        link.unlink(missing_ok=True)
        link.symlink_to(target.vsphere_plugin.resolve())
    cli.run("stack", "init", stack)
    name = doc["config"][f"{NAMESPACE}:vcenters"][0]["name"]
    cli.set_secret(f"credentials.{name}.username", target.vcenter.username)
    cli.set_secret(f"credentials.{name}.password", target.vcenter.password)
    for role, (user, password) in target.accounts.items():
        cli.set_secret(f"credentials.{name}.{role}.username", user)
        cli.set_secret(f"credentials.{name}.{role}.password", password)
    kubeconfig = target.kubeconfig.read_text()
    cli.set_secret("kubernetes.kubeconfig", kubeconfig)
    overrides = {
        "credentials": {name: {"username": "planner@vsphere.local", "password": "-"}},
        "kubernetes": {**doc["config"][f"{NAMESPACE}:kubernetes"], "kubeconfig": kubeconfig},
    }
    expected.update(planned_nodes(template, overrides))
    return cli


def open_tier_world(workdir: Path, stack: str, template: Path, expected: dict[str, bool]) -> tuple[World, PulumiCli]:
    """The e2e tier's world and stack: the real target the environment names, else the local
    world (started, with ``template`` as its stack); ``expected`` gets the planned nodes."""
    target = target_from_env()
    world: World = (
        World(workdir, expected_nodes=lambda: expected)
        if target is None
        else TargetWorld(workdir, expected_nodes=lambda: expected, target=target)
    )
    world.start()
    try:
        if isinstance(world, TargetWorld):
            return world, open_target_stack(world, stack, expected)
        return world, open_local_stack(world, stack, template, expected)
    except BaseException:
        world.stop()
        raise


# What the vSphere side of a stack creates, and what the engine needs created with it.
VSPHERE_SIDE = (
    "vsphere:index/tagCategory:TagCategory",
    "vsphere:index/tag:Tag",
    "vsphere:index/role:Role",
    "pulumi-python:dynamic/vsphere:TagAttachment",
    "pulumi-python:dynamic/vsphere:Permission",
    "pulumi:providers:kubernetes",  # the CloudProvider component's own provider (and its readiness check)
)


def vsphere_side_targets(preview: dict[str, Any]) -> list[str]:
    """`--target` arguments for the vSphere side of a `pulumi preview --json`: those resources with
    their parents, providers and dependencies (no VM, no node binding, no Kubernetes object)."""
    steps = {s["urn"]: s.get("newState", {}) for s in preview["steps"]}
    todo = [urn for urn, state in steps.items() if state.get("type") in VSPHERE_SIDE]
    chosen: set[str] = set()
    while todo:
        urn = todo.pop()
        if urn in chosen or urn not in steps:
            continue
        chosen.add(urn)
        state = steps[urn]
        todo += [state.get("parent") or "", *state.get("dependencies", [])]
        if state.get("provider"):
            todo.append(str(state["provider"]).rsplit("::", 1)[0])  # the provider's URN, without its id
    return [arg for urn in sorted(chosen) for arg in ("--target", urn)]
