"""vCenter TLS through the real CLI: what each side verifies, and the errors when it does not hold.

vcsim serves TLS with its own certificate (govmomi's self-signed LocalhostCert, read from the
module it was built from). A stack variant of `local` with `tls.insecure: false` and that
certificate as `tls.caCertFile` goes through `pulumi preview` and `pulumi up` of its
TLS-sensitive resources: the lookups, tag categories, tags and roles through the vSphere
plugin (here the project's STAND-IN of pulumi-resource-vsphere, which verifies as the real Go
plugin does: SSL_CERT_FILE or the system store, never the stack's CA), and the tag
attachments and permissions through the program's dynamic providers (the stack's CA, and its
thumbprint when set). Then each way of getting it wrong fails, naming the vCenter.

A world of its own, kept cheap: vcsim, etcd and kube-apiserver (the kubernetes provider
needs an API server that answers), no controller-manager, kwok, CPI or node agent; `up`
targets the vSphere side only. Each case gets a new simulator (same port) and a new stack.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from providers.vcenter.connection import Endpoint, VCenterConnection
from providers.vcenter.tagging import ObjectRef, TaggingClient
from tests.support.vcsim import VCenterTarget, Vcsim, vcsim_certificate
from tests.support.world.controlplane import ControlPlane
from tests.support.world.pki import make_control_plane_pki
from tests.support.world.process import Process
from tests.support.world.project import STACK_TEMPLATES, init_stack, make_project
from tests.support.world.pulumi_cli import PulumiCli
from tests.support.world.target import vsphere_side_targets
from toolchain.manifest import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

PLUGIN_WARNING = "the vSphere provider plugin verifies its certificate with this machine's trust store"


@dataclass
class TlsWorld:
    workdir: Path
    vcsim: Vcsim
    control_plane: ControlPlane
    vcenter: VCenterTarget
    ca: Path  # vcsim's certificate: the CA a stack names
    bundle: Path  # another CA, then vcsim's: what SSL_CERT_FILE points at when it is right
    other_ca: Path  # a CA that signed nothing vcsim serves
    processes: list[Process] = field(default_factory=list)
    stacks: int = 0

    def fresh_vcsim(self) -> None:
        """A new simulator on the same port: no tags, categories or roles of an earlier case."""
        self.vcenter = self.vcsim.restart()

    def verified(self) -> VCenterConnection:
        """The test's own look at vcsim, verifying the same CA."""
        v = self.vcenter
        return VCenterConnection(Endpoint(v.address, v.port, v.username, v.password, ca_cert=self.ca.read_text()))


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest) -> Iterator[TlsWorld]:
    workdir = REPO_ROOT / "build" / "e2e-tls" / time.strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True)
    vcsim = Vcsim(clusters=3, hosts_per_cluster=2, vms_per_pool=1, workdir=workdir)
    control_plane = ControlPlane(workdir)
    started: list[Process] = []
    failed_before = request.session.testsfailed
    try:
        vcenter = vcsim.start()
        for proc in control_plane.processes()[:2]:  # etcd, kube-apiserver
            proc.start()
            started.append(proc)
        ca = workdir / "vcenter-ca.pem"
        ca.write_text(vcsim_certificate())
        other = make_control_plane_pki(workdir / "other-pki", "10.96.0.1").ca.cert
        bundle = workdir / "ssl-cert-file.pem"
        bundle.write_text(other.read_text() + ca.read_text())
        yield TlsWorld(workdir, vcsim, control_plane, vcenter, ca, bundle, other, started)
    finally:
        for proc in reversed(started):
            proc.stop()
        vcsim.stop()
    if request.session.testsfailed == failed_before:
        shutil.rmtree(workdir, ignore_errors=True)  # a failed case keeps the logs and transcripts


def _stack(world: TlsWorld, tls: dict[str, Any], ssl_cert_file: Path | None) -> PulumiCli:
    """A new stack of the `local` inventory with ``tls`` as its vCenter's TLS, and no insecure opt-in."""
    world.fresh_vcsim()
    world.stacks += 1
    name = f"tls{world.stacks}"
    doc = yaml.safe_load((STACK_TEMPLATES / "Pulumi.local.yaml").read_text())
    config = doc["config"]
    config["vsphere-k8s:cluster"]["allowInsecureTls"] = False
    config["vsphere-k8s:vcenters"][0]["tls"] = tls
    template = world.workdir / f"Pulumi.{name}.yaml"
    template.write_text(yaml.safe_dump(doc))
    workdir = world.workdir / name
    cli = PulumiCli(make_project(workdir, name, template), workdir)
    cli.env.pop("SSL_CERT_FILE", None)
    if ssl_cert_file is not None:
        cli.env["SSL_CERT_FILE"] = str(ssl_cert_file)
    v = world.vcenter
    kubeconfig = world.control_plane.admin_kubeconfig.read_text()
    init_stack(cli, name, port=v.port, username=v.username, password=v.password, kubeconfig=kubeconfig)
    return cli


def _preview(cli: PulumiCli) -> dict[str, Any]:
    return dict(json.loads(cli.run("preview", "--json").stdout))


def _up(cli: PulumiCli, targets: list[str], *, check: bool = True) -> Any:
    return cli.run("up", "--yes", "--skip-preview", *targets, check=check)


def _sha1(target: VCenterTarget) -> str:
    der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((target.address, target.port)))
    hexed = hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - the fingerprint vCenter shows
    return ":".join(hexed[i : i + 2] for i in range(0, 40, 2))


def _clusters(conn: VCenterConnection) -> dict[str, str]:
    """Cluster name -> moref value in vcsim's one datacenter."""
    dc = conn.service_content().rootFolder.childEntity[0]
    return {c.name: c._moId for c in dc.hostFolder.childEntity if c._wsdlName == "ClusterComputeResource"}


def _untrusted(world: TlsWorld) -> str:
    return f"vCenter {world.vcenter.address}:{world.vcenter.port}: TLS certificate not trusted"


def test_the_stacks_ca_and_ssl_cert_file_carry_preview_and_up(world: TlsWorld) -> None:
    cli = _stack(world, {"caCertFile": str(world.ca)}, world.bundle)
    preview = _preview(cli)
    assert PLUGIN_WARNING not in json.dumps(preview)  # SSL_CERT_FILE holds the stack's CA: no warning
    up = _up(cli, vsphere_side_targets(preview))
    assert PLUGIN_WARNING not in up.stdout + up.stderr
    # The tags reached vcsim and the dynamic provider attached them, all over verified TLS.
    conn = world.verified()
    tagging = TaggingClient(conn)
    zones = tagging.category_by_name("k8s-zone")
    assert zones is not None and tagging.category_by_name("k8s-region") is not None
    zone_tags = {t.id: t.name for t in tagging.tags_for_category(zones.id)}
    assert sorted(zone_tags.values()) == ["local-a", "local-b", "local-c"]
    clusters = _clusters(conn)
    attached = tagging.attached_tags(ObjectRef("ClusterComputeResource", clusters["DC0_C0"]))
    assert [zone_tags[t] for t in attached if t in zone_tags] == ["local-a"]
    # The state says what was verified: no unverified-TLS opt-in on the provider or any dynamic resource.
    resources = cli.export()["deployment"]["resources"]
    provider = next(r for r in resources if r["type"] == "pulumi:providers:vsphere")
    assert provider["inputs"].get("allowUnverifiedSsl") in (False, "false")
    dynamic = [r for r in resources if r["type"].startswith("pulumi-python:dynamic/vsphere:")]
    assert dynamic and not any(r["inputs"].get("insecure") for r in dynamic)
    cli.run("destroy", "--yes", "--skip-preview")
    assert tagging.category_by_name("k8s-zone") is None


def test_ssl_cert_file_without_the_ca_fails_the_plugin_naming_the_vcenter(world: TlsWorld) -> None:
    cli = _stack(world, {"caCertFile": str(world.ca)}, world.other_ca)
    preview = cli.run("preview", check=False)
    out = preview.stdout + preview.stderr
    assert preview.returncode != 0
    # The program warned first (the plugin cannot be handed the CA), then the plugin's lookups failed.
    assert PLUGIN_WARNING in out and f"SSL_CERT_FILE ({world.other_ca}) does not hold it" in " ".join(out.split())
    assert _untrusted(world) in out
    assert f"this machine's trust store (SSL_CERT_FILE={world.other_ca})" in out
    assert world.vcenter.password not in out


def test_a_wrong_stack_ca_fails_the_dynamic_providers_naming_the_vcenter(world: TlsWorld) -> None:
    # The plugin trusts vcsim through SSL_CERT_FILE; the stack names a CA that did not sign it.
    cli = _stack(world, {"caCertFile": str(world.other_ca)}, world.bundle)
    targets = vsphere_side_targets(_preview(cli))  # preview asks nothing of vCenter through the dynamic providers
    up = _up(cli, targets, check=False)
    out = up.stdout + up.stderr
    assert up.returncode != 0
    assert _untrusted(world) in out and "verified against the CA of tls.caCert/caCertFile" in out
    assert "TagAttachment" in out or "Permission" in out
    assert world.vcenter.password not in out
    # Nothing was attached: the dynamic providers never got past the handshake.
    conn = world.verified()
    tagging = TaggingClient(conn)
    assert all(not tagging.attached_tags(ObjectRef("ClusterComputeResource", m)) for m in _clusters(conn).values())


def test_a_thumbprint_is_pinned_where_it_can_be_and_a_config_error_where_it_cannot(world: TlsWorld) -> None:
    # Alone, the vSphere plugin could not honour it: the program refuses the stack before any call.
    alone = _stack(world, {"thumbprint": _sha1(world.vcenter)}, world.bundle)
    refused = alone.run("preview", check=False)
    assert refused.returncode != 0
    assert "vcenters[sim].tls.thumbprint" in refused.stdout + refused.stderr
    # With the CA, the plugin verifies the CA and the dynamic providers both: a wrong pin fails them.
    wrong = "AB:" * 19 + "AB"
    cli = _stack(world, {"caCertFile": str(world.ca), "thumbprint": wrong}, world.bundle)
    up = _up(cli, vsphere_side_targets(_preview(cli)), check=False)
    out = up.stdout + up.stderr
    assert up.returncode != 0
    assert _untrusted(world) in out and "does not match the configured thumbprint" in out
    # The right pin passes.
    right = _stack(world, {"caCertFile": str(world.ca), "thumbprint": _sha1(world.vcenter)}, world.bundle)
    _up(right, vsphere_side_targets(_preview(right)))
    assert TaggingClient(world.verified()).category_by_name("k8s-zone") is not None
    right.run("destroy", "--yes", "--skip-preview")
