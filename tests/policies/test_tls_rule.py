"""The TLS rule reads every switch that turns vCenter verification off, as the CPI and CSI read them."""

from __future__ import annotations

import base64

from policies import facts, rules
from policies.view import ResourceView

from .builders import view

STRICT = {"allowInsecureStacks": ["sim"]}


def csi_secret(global_flag: str | None, vc_flag: str | None) -> ResourceView:
    text = '[Global]\ncluster-id = "prod"\n'
    if global_flag is not None:
        text += f'insecure-flag = "{global_flag}"\n'
    text += '\n[VirtualCenter "vc.example"]\nuser = "u"\npassword = "p"\ndatacenters = "dc-1"\n'
    if vc_flag is not None:
        text += f'insecure-flag = "{vc_flag}"\n'
    data = {"csi-vsphere.conf": base64.b64encode(text.encode()).decode()}
    return view(facts.SECRET, "csi-config", props={"data": data}, secret_props=frozenset({"data"}))


def test_a_global_insecure_flag_of_the_csi_is_caught_and_a_sections_false_does_not_undo_it() -> None:
    # The CSI driver applies [Global] insecure-flag to every VirtualCenter whose own flag is not true.
    (problem,) = rules.tls_verified(csi_secret("true", "false"), STRICT)
    assert "[Global] sets insecure-flag" in problem and "'prod'" in problem
    assert len(rules.tls_verified(csi_secret("true", "true"), STRICT)) == 2
    assert rules.tls_verified(csi_secret("false", None), STRICT) == []
    assert rules.tls_verified(csi_secret(None, None), STRICT) == []
    assert rules.tls_verified(csi_secret("true", None), {"allowInsecureStacks": ["prod"]}) == []


def test_the_legacy_ini_vsphere_conf_is_read_too() -> None:
    def cpi(text: str) -> ResourceView:
        return view(facts.CONFIG_MAP, "cpi-config", props={"data": {"vsphere.conf": text}})

    legacy = '[Global]\nsecret-name = "s"\n\n[VirtualCenter "vc.example"]\ndatacenters = "dc-1"\n'
    assert rules.tls_verified(cpi(legacy), STRICT) == []
    (problem,) = rules.tls_verified(cpi(legacy.replace('secret-name = "s"', 'insecure-flag = "true"')), STRICT)
    assert "vsphere.conf (global) sets insecureFlag" in problem
    (problem,) = rules.tls_verified(cpi(legacy + 'insecure-flag = "true"\n'), STRICT)
    assert "vsphere.conf (vcenter vc.example)" in problem


def test_a_dynamic_resource_pinned_or_with_a_ca_is_verified() -> None:
    for props in ({"ca_cert": "-----BEGIN CERTIFICATE-----"}, {"thumbprint": "AB:" * 19 + "AB"}, {"insecure": False}):
        assert rules.tls_verified(view("pulumi-python:dynamic/vsphere:Permission", "p", props=props), STRICT) == []
