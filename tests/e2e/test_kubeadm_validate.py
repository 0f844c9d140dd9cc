"""Every kubeadm document the program renders, checked by kubeadm itself (`kubeadm config validate`).

kubeadm of the toolchain's minor (1.36) reads v1beta4 strictly: an unknown or misplaced
field, a bad token or a wrong type is an error here, as it would be on the node at boot.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.unit.test_cloud_init import JOIN, by_step, sim_config
from toolchain.manifest import locate
from vsphere_k8s.plan.nodes import plan_nodes
from vsphere_k8s.render.kubeadm import init_documents, join_documents, to_yaml

pytestmark = pytest.mark.e2e

MINOR_VERSION = "1.36.3"  # the kubeadm the toolchain builds


def _validate(tmp_path: Path, name: str, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return subprocess.run(
        [str(locate("kubeadm")), "config", "validate", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("step", ["init", "join-control-plane", "join-worker"])
def test_kubeadm_accepts_what_the_program_renders(tmp_path: Path, step: str) -> None:
    cfg = sim_config(version=MINOR_VERSION)
    nodes = plan_nodes(cfg)
    node = by_step(nodes)[step]
    docs = init_documents(cfg, nodes, node, JOIN) if step == "init" else join_documents(cfg, nodes, node, JOIN)
    result = _validate(tmp_path, step, to_yaml(docs))
    assert result.returncode == 0, f"kubeadm refused the {step} documents:\n{result.stderr}"


def test_kubeadm_refuses_a_misspelt_field(tmp_path: Path) -> None:
    """The check has teeth: the same documents with one key misspelt fail."""
    cfg = sim_config(version=MINOR_VERSION)
    nodes = plan_nodes(cfg)
    node = by_step(nodes)["join-worker"]
    text = to_yaml(join_documents(cfg, nodes, node, JOIN)).replace("nodeRegistration:", "nodeRegistrations:", 1)
    result = _validate(tmp_path, "misspelt", text)
    assert result.returncode != 0
    assert "nodeRegistrations" in result.stderr
