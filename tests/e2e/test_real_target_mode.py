"""The e2e tier's real-target mode, proven on a stand-in site: the live tests' variables point at a
vCenter and a cluster that the tier did not start, and the tier's own entry point
(`open_tier_world`, what tests/e2e/conftest.py calls) must then start nothing, open the stack on
them with every secret through `pulumi config set --secret`, and drive it with the real CLI.

The "site" here is a vcsim and a kube-apiserver started by this module, so the code path a
user with a real vCenter runs is the one exercised; the vSphere plugin is the project's
stand-in (VK8S_VSPHERE_PLUGIN=standin), which a real site replaces with the real plugin.
`up` and `destroy` cover the vSphere side (categories, tags, attachments, roles, permissions):
the VMs' guests would need the site's kubelets, which a simulator has not got.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pyVmomi import vim

from providers.vcenter.connection import VCenterConnection
from providers.vcenter.tagging import TaggingClient
from tests.support.vcsim import VCenterTarget, Vcsim, vcsim_certificate
from tests.support.world.controlplane import ControlPlane
from tests.support.world.pki import make_control_plane_pki
from tests.support.world.process import Process
from tests.support.world.project import STACK_TEMPLATES
from tests.support.world.target import TargetWorld, open_tier_world, vsphere_side_targets
from toolchain.manifest import REPO_ROOT
from vsphere_k8s import roles

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]


@dataclass
class Site:
    workdir: Path
    vcenter: VCenterTarget
    kubeconfig: Path
    ca: Path
    bundle: Path


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    """An 'existing' vCenter and cluster: started here, unknown to the tier but for the variables."""
    workdir = REPO_ROOT / "build" / "e2e-target" / time.strftime("%Y%m%d-%H%M%S")
    (workdir / "site").mkdir(parents=True)
    vcsim = Vcsim(clusters=3, hosts_per_cluster=2, vms_per_pool=1, workdir=workdir / "site")
    control_plane = ControlPlane(workdir / "site")
    started: list[Process] = []
    failed_before = request.session.testsfailed
    try:
        vcenter = vcsim.start()
        for proc in control_plane.processes()[:2]:  # etcd, kube-apiserver
            proc.start()
            started.append(proc)
        ca = workdir / "site" / "vcenter-ca.pem"
        ca.write_text(vcsim_certificate())
        other = make_control_plane_pki(workdir / "site" / "other-pki", "10.96.0.1").ca.cert
        bundle = workdir / "site" / "ssl-cert-file.pem"
        bundle.write_text(other.read_text() + ca.read_text())
        yield Site(workdir, vcenter, control_plane.admin_kubeconfig, ca, bundle)
    finally:
        for proc in reversed(started):
            proc.stop()
        vcsim.stop()
    if request.session.testsfailed == failed_before:
        shutil.rmtree(workdir, ignore_errors=True)


def _files_under(root: Path) -> Iterator[Path]:
    """Every regular file the tier wrote (the project copy's symlinks into the repo are not its)."""
    for folder, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                yield path


def test_the_live_variables_switch_the_tier_to_an_existing_vcenter_and_cluster(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = site.vcenter
    program_password, cpi_password, csi_password = (secrets.token_urlsafe(18) for _ in range(3))
    monkeypatch.setenv("VSPHERE_SERVER", f"{v.address}:{v.port}")
    monkeypatch.setenv("VSPHERE_USER", "k8s-program@vsphere.local")
    monkeypatch.setenv("VSPHERE_PASSWORD", program_password)
    monkeypatch.delenv("VSPHERE_INSECURE", raising=False)
    monkeypatch.setenv("VSPHERE_CA_FILE", str(site.ca))
    monkeypatch.delenv("VSPHERE_THUMBPRINT", raising=False)
    monkeypatch.setenv("KUBECONFIG_LIVE", str(site.kubeconfig))
    monkeypatch.setenv("VSPHERE_CPI_USER", "site-cpi@vsphere.local")
    monkeypatch.setenv("VSPHERE_CPI_PASSWORD", cpi_password)
    monkeypatch.setenv("VSPHERE_CSI_USER", "site-csi@vsphere.local")
    monkeypatch.setenv("VSPHERE_CSI_PASSWORD", csi_password)
    monkeypatch.setenv("VK8S_VSPHERE_PLUGIN", "standin")
    monkeypatch.setenv("SSL_CERT_FILE", str(site.bundle))  # what the plugin trusts, as on a real site
    monkeypatch.delenv("VK8S_E2E_STACK", raising=False)  # the local stack: its names are vcsim's

    expected: dict[str, bool] = {}
    tier = site.workdir / "tier"
    world, cli = open_tier_world(tier, "local", STACK_TEMPLATES / "Pulumi.local.yaml", expected)

    # Nothing of the local world was started: no simulator, control plane, kwok, node agent or CPI.
    assert isinstance(world, TargetWorld)
    assert world.vcsim.process is None and world.control_plane is None and world.agent is None
    assert world.vcenter is not None and not world.vcenter.simulated
    assert (world.vcenter.address, world.vcenter.port, world.kubeconfig) == (v.address, v.port, site.kubeconfig)
    # The stack file holds the target's address and trust; its credentials only encrypted.
    stack_file = cli.project / "stacks" / "Pulumi.local.yaml"
    config = yaml.safe_load(stack_file.read_text())["config"]
    vc = config["vsphere-k8s:vcenters"][0]
    assert (vc["server"], vc["port"], vc["tls"]) == (v.address, v.port, {"caCertFile": str(site.ca.resolve())})
    assert config["vsphere-k8s:cluster"]["allowInsecureTls"] is False
    assert set(config["vsphere-k8s:credentials"]["sim"]) == {"username", "password", "cpi", "csi"}
    assert "secure" in config["vsphere-k8s:credentials"]["sim"]["password"]

    preview = json.loads(cli.run("preview", "--json").stdout)
    created = [s["newState"]["type"] for s in preview["steps"] if s.get("op") == "create"]
    assert created.count("vsphere:index/virtualMachine:VirtualMachine") == len(expected) > 0
    assert created.count("pulumi-python:dynamic/vsphere:NodeBinding") == len(expected)

    cli.run("up", "--yes", "--skip-preview", *vsphere_side_targets(preview))
    conn = VCenterConnection(world.vcenter.endpoint())  # verified with VSPHERE_CA_FILE
    tagging = TaggingClient(conn)
    assert tagging.category_by_name("k8s-zone") is not None
    dc = next(e for e in conn.service_content().rootFolder.childEntity if isinstance(e, vim.Datacenter))
    auth = conn.service_content().authorizationManager

    def principals() -> set[str]:
        return {p.principal for p in auth.RetrieveEntityPermissions(dc, False)}

    site_accounts = {roles.principal("site-cpi@vsphere.local"), roles.principal("site-csi@vsphere.local")}
    assert site_accounts <= principals()  # vsphereRoles granted the accounts the variables named

    cli.run("destroy", "--yes", "--skip-preview")
    assert tagging.category_by_name("k8s-zone") is None
    assert not site_accounts & principals()

    # No secret reached a file of the tier's, its transcript included: not the vCenter passwords,
    # the cluster's client key or the stack's passphrase.
    kube_user = yaml.safe_load(site.kubeconfig.read_text())["users"][0]["user"]
    for secret in (program_password, cpi_password, csi_password, kube_user["client-key-data"], cli.passphrase):
        leaks = [str(p) for p in _files_under(tier) if secret in p.read_text(errors="replace")]
        assert not leaks, f"a secret is in plaintext in {leaks}"
    assert (tier / "logs" / "pulumi.log").is_file()  # the transcript exists: it was searched too
