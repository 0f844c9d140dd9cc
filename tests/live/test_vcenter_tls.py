"""What the program's vCenter connections verify, against vcsim's real TLS endpoint.

Every dynamic provider (and the stand-in vSphere plugin) talks to vCenter through
:class:`VCenterConnection`; each case checks its SOAP side (pyVmomi) and its REST side
(the tagging API through requests) separately, since they are two TLS stacks.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from providers.retry import RetryPolicy
from providers.vcenter.connection import Endpoint, VCenterConnection
from providers.vcenter.retry import VCenterError
from providers.vcenter.tagging import TaggingClient
from tests.support.vcsim import VCenterTarget, Vcsim, vcsim_certificate
from tests.support.world.pki import make_control_plane_pki

pytestmark = pytest.mark.live

SOAP: Callable[[VCenterConnection], Any] = lambda c: c.service_content().about.fullName  # noqa: E731
REST: Callable[[VCenterConnection], Any] = lambda c: TaggingClient(c).categories()  # noqa: E731
SIDES = pytest.mark.parametrize("side", [SOAP, REST], ids=["soap", "rest"])


@pytest.fixture(scope="module")
def sim() -> Iterator[VCenterTarget]:
    vcsim = Vcsim(clusters=1, hosts_per_cluster=1, standalone_hosts=0, vms_per_pool=0)
    target = vcsim.start()
    try:
        yield target
    finally:
        vcsim.stop()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A CA that did not sign vcsim's certificate."""
    return make_control_plane_pki(tmp_path_factory.mktemp("other-pki"), "10.96.0.1").ca.cert.read_text()


def _sha1(target: VCenterTarget) -> str:
    der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((target.address, target.port)))
    hexed = hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - the fingerprint vCenter shows
    return ":".join(hexed[i : i + 2] for i in range(0, 40, 2))


def _connect(target: VCenterTarget, slept: list[float] | None = None, **tls: Any) -> VCenterConnection:
    endpoint = Endpoint(target.address, target.port, target.username, target.password, **tls)
    return VCenterConnection(endpoint, RetryPolicy(attempts=3, base_delay=0.01, sleep=(slept or []).append))


def _refused(target: VCenterTarget, side: Callable[[VCenterConnection], Any], **tls: Any) -> str:
    slept: list[float] = []
    conn = _connect(target, slept, **tls)
    with pytest.raises(VCenterError) as caught:
        side(conn)
    assert slept == [], "a refused certificate was retried"
    message = str(caught.value)
    assert f"vCenter {target.address}:{target.port}: TLS certificate not trusted" in message
    assert target.password not in message
    return message


def test_vcsim_serves_the_certificate_of_its_source(sim: VCenterTarget) -> None:
    served = ssl.get_server_certificate((sim.address, sim.port))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(vcsim_certificate())


@SIDES
def test_the_stacks_ca_verifies_the_server(sim: VCenterTarget, side: Callable[[VCenterConnection], Any]) -> None:
    assert side(_connect(sim, ca_cert=vcsim_certificate())) is not None


@SIDES
def test_a_wrong_ca_is_refused_and_named(
    sim: VCenterTarget, side: Callable[[VCenterConnection], Any], other_ca: str
) -> None:
    message = _refused(sim, side, ca_cert=other_ca)
    assert "verified against the CA of tls.caCert/caCertFile" in message


@SIDES
def test_the_host_name_is_checked_against_the_certificate(
    sim: VCenterTarget, side: Callable[[VCenterConnection], Any]
) -> None:
    # vcsim's certificate names 127.0.0.1, ::1 and example.com, not "localhost".
    renamed = VCenterTarget("localhost", sim.port, sim.username, sim.password, insecure=False, simulated=True)
    message = _refused(renamed, side, ca_cert=vcsim_certificate())
    assert "localhost" in message


@SIDES
def test_a_pinned_thumbprint_alone_is_enough(sim: VCenterTarget, side: Callable[[VCenterConnection], Any]) -> None:
    assert side(_connect(sim, thumbprint=_sha1(sim))) is not None


@SIDES
def test_a_wrong_thumbprint_is_refused(sim: VCenterTarget, side: Callable[[VCenterConnection], Any]) -> None:
    message = _refused(sim, side, thumbprint="AB:" * 19 + "AB")
    assert "does not match the configured thumbprint" in message


@SIDES
def test_with_a_ca_and_a_thumbprint_both_are_checked(
    sim: VCenterTarget, side: Callable[[VCenterConnection], Any], other_ca: str
) -> None:
    assert side(_connect(sim, ca_cert=vcsim_certificate(), thumbprint=_sha1(sim))) is not None
    assert "does not match" in _refused(sim, side, ca_cert=vcsim_certificate(), thumbprint="AB:" * 19 + "AB")
    assert "tls.caCert" in _refused(sim, side, ca_cert=other_ca, thumbprint=_sha1(sim))


@SIDES
def test_without_a_trust_anchor_the_machine_store_decides_as_ssl_cert_file_says(
    sim: VCenterTarget,
    side: Callable[[VCenterConnection], Any],
    other_ca: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the stand-in vSphere plugin does, as the real (Go) plugin does: trust SSL_CERT_FILE."""
    good, bad = tmp_path / "good.pem", tmp_path / "bad.pem"
    good.write_text(other_ca + vcsim_certificate())  # a bundle: another CA first, then vcsim's
    bad.write_text(other_ca)
    monkeypatch.setenv("SSL_CERT_FILE", str(good))
    assert side(_connect(sim)) is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(bad))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(good))  # requests' own variable changes nothing
    message = _refused(sim, side)
    assert f"this machine's trust store (SSL_CERT_FILE={bad})" in message


@SIDES
def test_insecure_verifies_nothing(sim: VCenterTarget, side: Callable[[VCenterConnection], Any]) -> None:
    assert side(_connect(sim, insecure=True)) is not None
