"""`pulumi preview` of the bootstrap-mode `sim` stack (PKI, tokens, cloud-init) against the simulator.

Its VMs' guests never boot in vcsim, so nothing would answer at the API VIP: a preview is
as far as a bootstrap stack can go here, and it must succeed with every unknown it has.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import E2E
from tests.support.world.project import make_project
from tests.support.world.pulumi_cli import PulumiCli
from toolchain.manifest import REPO_ROOT
from vsphere_k8s.facts import VM_TYPE

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_preview_of_the_bootstrap_stack_succeeds(e2e: E2E) -> None:
    e2e.sim_only("the `sim` stack, whose vCenter and inventory are the simulator's,")
    assert e2e.world.vcenter is not None
    workdir = e2e.world.workdir / "sim"
    project = make_project(workdir, "sim", REPO_ROOT / "stacks" / "Pulumi.sim.yaml")
    cli = PulumiCli(project, workdir)
    cli.run("stack", "init", "sim")
    cli.run("config", "set", "--path", "vcenters[0].port", str(e2e.world.vcenter.port))
    cli.set_secret("credentials.sim.username", e2e.world.vcenter.username)
    cli.set_secret("credentials.sim.password", e2e.world.vcenter.password)
    steps = json.loads(cli.run("preview", "--json").stdout)["steps"]
    types = [s["newState"]["type"] for s in steps if s.get("op") == "create"]
    assert types.count("tls:index/privateKey:PrivateKey") >= 4  # cluster, front-proxy and etcd CAs, SA key
    assert "random:index/randomString:RandomString" in types or "random:index/randomPassword:RandomPassword" in types
    vms = [s for s in steps if s["newState"]["type"] == VM_TYPE]
    assert len(vms) == 6
    # The user-data depends on keys not made yet: in preview it is unknown, not a placeholder.
    assert all("extraConfig" in v["newState"].get("inputs", {}) for v in vms)
