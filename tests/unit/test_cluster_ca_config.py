"""kubernetes.clusterCa and joinTokenTtlMinutes: a CA of the site's own, checked before anything is made."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from offline.program import offline_config
from tests.support.world.pki import make_control_plane_pki
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load, secret_keys


def _issues(raw: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(raw, stack="test")
    return [str(i) for i in info.value.issues]


def test_a_given_ca_loads_and_makes_the_kubernetes_section_secret(tmp_path: Path) -> None:
    pki = make_control_plane_pki(tmp_path, "10.96.0.1")
    raw = copy.deepcopy(offline_config("sim"))
    raw["kubernetes"]["clusterCa"] = {"cert": pki.ca.cert.read_text(), "key": pki.ca.key.read_text()}
    cfg = load(raw, stack="sim")
    assert cfg.kubernetes.cluster_ca is not None and cfg.kubernetes.join_token_ttl_minutes == 60
    assert "kubernetes" in secret_keys(raw)


def test_a_leaf_certificate_or_a_foreign_key_is_refused_without_quoting_it(tmp_path: Path) -> None:
    pki = make_control_plane_pki(tmp_path, "10.96.0.1")
    raw = copy.deepcopy(offline_config("sim"))
    key = pki.admin.key.read_text()
    raw["kubernetes"]["clusterCa"] = {"cert": pki.serving.cert.read_text(), "key": key}
    issues = _issues(raw)
    assert any("kubernetes.clusterCa.cert" in i and "not a CA certificate" in i for i in issues)
    assert any("kubernetes.clusterCa.key" in i and "not the private key" in i for i in issues)
    assert all(key.strip() not in i for i in issues)
    raw["kubernetes"]["clusterCa"] = {"cert": "nonsense", "key": key}
    assert any("not a PEM certificate" in i for i in _issues(raw))


def test_the_token_lifetime_is_bounded() -> None:
    raw = copy.deepcopy(offline_config("sim"))
    raw["kubernetes"]["joinTokenTtlMinutes"] = 0
    assert any("kubernetes.joinTokenTtlMinutes" in i for i in _issues(raw))
    raw["kubernetes"]["joinTokenTtlMinutes"] = 24 * 60 + 1
    assert any("kubernetes.joinTokenTtlMinutes" in i for i in _issues(raw))
