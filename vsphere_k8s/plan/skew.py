"""Pure: Kubernetes' version skew rules, within one configuration and from the running one to it.

The control plane moves first and one minor at a time; kubelets (worker pools) are never newer
than the API server and at most three minors older; a worker pool does not move in the same
`up` as the control plane (its new kubelets would meet old API servers behind the endpoint).
The CPI follows the control plane's minor (its pin is checked in
:func:`vsphere_k8s.manifests.images.version_issues`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import StackConfig
from ..errors import ConfigIssue
from ..versions import CONTROL_PLANE_MINORS_PER_UPGRADE, KUBELET_MAX_MINORS_BEHIND, minor_of

CP_PATH = "kubernetes.version"


def pool_path(pool: str) -> str:
    return f"nodePools.workers[{pool}].kubernetesVersion"


@dataclass(frozen=True)
class Versions:
    """The control plane's version and each worker pool's kubelet version."""

    control_plane: str
    pools: Mapping[str, str] = field(default_factory=dict)


def versions_of(cfg: StackConfig) -> Versions:
    cp = cfg.kubernetes.version
    return Versions(cp, {p.name: p.kubernetes_version or cp for p in cfg.node_pools.workers})


def running_versions(specs: Iterable[Any]) -> Versions | None:
    """What the last run's nodes run (``NodeSpec``-like: pool, role, version), or None without a record.

    Each group's oldest version: mid-roll, the newest step Kubernetes allows is one minor above the
    oldest API server or kubelet still running, and a "downgrade" to the oldest is the way back.
    """
    cp: list[str] = []
    pools: dict[str, list[str]] = {}
    for spec in specs:
        if not spec.version:
            continue  # recorded before versions were kept: nothing to compare
        (cp if spec.role == "control-plane" else pools.setdefault(spec.pool, [])).append(spec.version)
    if not cp:
        return None
    return Versions(min(cp, key=_triple), {p: min(v, key=_triple) for p, v in pools.items()})


def _triple(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(x) for x in version.removeprefix("v").split("."))
    return major, minor, patch


def config_issues(want: Versions) -> Iterator[ConfigIssue]:
    """Skew within one configuration: every kubelet against the API server."""
    cp_minor = minor_of(want.control_plane)
    for pool, version in sorted(want.pools.items()):
        minor = minor_of(version)
        if minor > cp_minor:
            yield ConfigIssue(
                pool_path(pool),
                f"{version} is newer than the control plane's {want.control_plane}; a kubelet may not be "
                "newer than the API server (upgrade the control plane first)",
            )
        elif cp_minor - minor > KUBELET_MAX_MINORS_BEHIND:
            yield ConfigIssue(
                pool_path(pool),
                f"{version} is {cp_minor - minor} minors behind the control plane's {want.control_plane}; "
                f"kubelets may be at most {KUBELET_MAX_MINORS_BEHIND} behind",
            )


def _step_issues(path: str, what: str, old: str, new: str) -> Iterator[ConfigIssue]:
    if _triple(new) < _triple(old):
        yield ConfigIssue(path, f"{what} runs {old}; {new} is a downgrade, which Kubernetes does not support")
    elif minor_of(new) - minor_of(old) > CONTROL_PLANE_MINORS_PER_UPGRADE:
        step = f"1.{minor_of(old) + 1}"
        yield ConfigIssue(
            path, f"{what} runs {old}; {new} skips a minor: upgrade one minor at a time (first to {step}.x)"
        )


def step_issues(path: str, what: str, old: str, new: str) -> Iterator[ConfigIssue]:
    """One version's move: no downgrade, at most one minor."""
    return _step_issues(path, what, old, new)


def upgrade_issues(have: Versions, want: Versions) -> Iterator[ConfigIssue]:
    """Skew from the running versions (the stack's state) to the configured ones."""
    yield from _step_issues(CP_PATH, "the control plane", have.control_plane, want.control_plane)
    cp_moves = have.control_plane != want.control_plane
    for pool, version in sorted(want.pools.items()):
        old = have.pools.get(pool)
        if old is None or old == version:
            continue  # a new pool starts at its version; an unchanged one is only held to config_issues
        yield from _step_issues(pool_path(pool), f"worker pool {pool}", old, version)
        if cp_moves:
            yield ConfigIssue(
                pool_path(pool),
                f"moves from {old} to {version} in the same update as the control plane "
                f"({have.control_plane} -> {want.control_plane}): the control plane goes first; keep "
                f"{pool_path(pool)}: {old} for this update and change it in the next",
            )


def issues(want: Versions, have: Versions | None = None) -> list[ConfigIssue]:
    found = list(config_issues(want))
    if have is not None:
        found += list(upgrade_issues(have, want))
    return found
