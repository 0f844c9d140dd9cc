"""guestinfo extraConfig, read back by Debian's cloud-init VMware datasource and network parser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vsphere_k8s.config import ZoneNetwork
from vsphere_k8s.render import guestinfo

SYSTEM_PYTHON = "/usr/bin/python3"  # the interpreter Debian's cloud-init is installed for

# Runs inside Debian's python: the datasource's own decode + metadata processing
# (fed through its VMX_GUESTINFO_* environment transport), then cloud-init's
# network-config parser on the result.
_READER = """
import json
from cloudinit.sources import DataSourceVMware as ds
from cloudinit.net import network_state
md = ds.process_metadata(ds.load_json_or_yaml(ds.guestinfo_envvar("metadata")))
ud = ds.guestinfo_envvar("userdata")
state = network_state.parse_net_config_data(md["network"]["config"], skip_broken=False)
print(json.dumps({"metadata": md, "userdata": ud, "interfaces": list(state.iter_interfaces()),
                  "dns": state.dns_nameservers, "search": state.dns_searchdomains}, default=str))
"""


def _cloud_init_reads(extra_config: dict[str, str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    for key, value in extra_config.items():
        env["VMX_" + key.upper().replace(".", "_")] = value
    done = subprocess.run([SYSTEM_PYTHON, "-c", _READER], env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


STATIC = ZoneNetwork.model_validate(
    {
        "name": "VM Network",
        "mode": "static",
        "static": {
            "cidr": "10.10.0.0/24",
            "gateway": "10.10.0.1",
            "rangeStart": "10.10.0.20",
            "rangeEnd": "10.10.0.59",
            "dnsServers": ["10.10.0.2", "10.10.0.3"],
            "searchDomains": ["k8s.example.com"],
        },
    }
)
DHCP = ZoneNetwork.model_validate({"name": "VM Network"})


def test_static_node_as_cloud_init_sees_it() -> None:
    meta = guestinfo.metadata("sim-cp-sim-a-0", "sim-cp-sim-a-0", guestinfo.network_config(STATIC, "10.10.0.21"))
    extra = guestinfo.extra_config(meta, "#cloud-config\nhostname: sim-cp-sim-a-0\n")
    seen = _cloud_init_reads(extra)
    assert seen["metadata"]["instance-id"] == "sim-cp-sim-a-0"
    assert seen["metadata"]["local-hostname"] == "sim-cp-sim-a-0"
    assert seen["userdata"] == "#cloud-config\nhostname: sim-cp-sim-a-0\n"
    (nic,) = seen["interfaces"]
    (subnet,) = nic["subnets"]
    assert (subnet["type"], subnet["address"], subnet["prefix"]) == ("static", "10.10.0.21", 24)
    (route,) = subnet["routes"]
    assert (route["gateway"], route["prefix"]) == ("10.10.0.1", 0)  # the default route
    assert seen["dns"] == ["10.10.0.2", "10.10.0.3"]
    assert seen["search"] == ["k8s.example.com"]


def test_dhcp_node_as_cloud_init_sees_it() -> None:
    net = guestinfo.network_config(DHCP, None)
    assert net["ethernets"]["nic0"]["dhcp-identifier"] == "mac"  # clones must not share a DUID lease
    seen = _cloud_init_reads(guestinfo.extra_config(guestinfo.metadata("n", "n", net), "#cloud-config\n{}\n"))
    (nic,) = seen["interfaces"]
    assert [s["type"] for s in nic["subnets"]] == ["dhcp4"]


def test_ipv6_static_and_dhcp() -> None:
    v6 = ZoneNetwork.model_validate(
        {
            "name": "v6",
            "mode": "static",
            "static": {
                "cidr": "fd00:10::/64",
                "gateway": "fd00:10::1",
                "rangeStart": "fd00:10::100",
                "rangeEnd": "fd00:10::1ff",
                "dnsServers": ["fd00:10::53"],
            },
        }
    )
    nic = guestinfo.network_config(v6, "fd00:10::100")["ethernets"]["nic0"]
    assert nic["addresses"] == ["fd00:10::100/64"]
    assert nic["routes"] == [{"to": "::/0", "via": "fd00:10::1"}]
    assert nic["dhcp6"] is False
    assert "search" not in nic["nameservers"]
    dhcp6 = ZoneNetwork.model_validate({"name": "v6", "cidr": "fd00:20::/64"})
    assert guestinfo.network_config(dhcp6, None)["ethernets"]["nic0"]["dhcp6"] is True


def test_big_user_data_is_gzipped_and_decodes_the_same() -> None:
    big = "#cloud-config\nwrite_files:\n" + "".join(
        f"  - path: /etc/f{i}\n    content: {'x' * 200}\n" for i in range(200)
    )
    extra = guestinfo.extra_config(guestinfo.metadata("n", "n", guestinfo.network_config(DHCP, None)), big)
    assert extra["guestinfo.userdata.encoding"] == "gzip+base64"
    assert len(extra["guestinfo.userdata"]) < len(big) // 4
    assert _cloud_init_reads(extra)["userdata"] == big
    assert guestinfo.decode(extra["guestinfo.userdata"], "gzip+base64") == big


def test_rendering_is_byte_stable() -> None:
    """No timestamp or dict-order noise: an unchanged node must show no diff."""
    big = "#cloud-config\n" + "# pad\n" * 5000
    one = guestinfo.extra_config(guestinfo.metadata("a", "a", guestinfo.network_config(STATIC, "10.10.0.20")), big)
    two = guestinfo.extra_config(guestinfo.metadata("a", "a", guestinfo.network_config(STATIC, "10.10.0.20")), big)
    assert one == two
    assert set(one) == {
        "guestinfo.metadata",
        "guestinfo.metadata.encoding",
        "guestinfo.userdata",
        "guestinfo.userdata.encoding",
    }


@pytest.mark.parametrize(
    ("network", "ip", "message"),
    [
        (DHCP, "10.0.0.5", "uses DHCP"),
        (STATIC, None, "needs an address"),
        (STATIC, "10.99.0.5", "outside network"),
    ],
)
def test_bad_addressing_is_refused(network: ZoneNetwork, ip: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        guestinfo.network_config(network, ip)


def test_empty_user_data_is_refused() -> None:
    with pytest.raises(ValueError, match="user-data is empty"):
        guestinfo.extra_config({"instance-id": "x"}, "  \n")


def test_placeholder_user_data_passes_cloud_init_schema(tmp_path: Path) -> None:
    cloud_init = shutil.which("cloud-init")
    assert cloud_init, "Debian's cloud-init is part of the test toolchain (scripts/setup.sh)"
    path = tmp_path / "user-data"
    path.write_text(guestinfo.hostname_user_data("sim-general-sim-a-0"))
    done = subprocess.run([cloud_init, "schema", "-c", str(path)], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Valid cloud-config" in done.stdout
