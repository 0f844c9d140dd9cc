"""Versions: the CPI and CSI images are releases that support the cluster's Kubernetes minor."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from vsphere_k8s.manifests import images

from .. import facts
from ..facts import WORKLOADS
from ..view import ResourceView, of_type
from .base import Violation


def _image_tags(resources: Sequence[ResourceView], pattern: re.Pattern[str]) -> list[tuple[ResourceView, str]]:
    found = []
    for workload in of_type(resources, *WORKLOADS):
        for container in facts.containers(workload):
            match = pattern.search(str(container.get("image") or ""))
            if match:
                found.append((workload, match.group(1)))
    return found


def versions_supported(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """The CPI is built per Kubernetes minor; each CSI release supports a window of minors."""
    version = facts.kubernetes_version(resources) or config.get("kubernetesVersion")
    if not version:
        return []
    minor = facts.minor(str(version))
    if minor is None:
        return [Violation(f"cannot read the Kubernetes version {version!r}")]
    out = []
    for workload, tag in _image_tags(resources, facts.CPI_IMAGE):
        if not images.cpi_supports(tag, minor):
            out.append(
                Violation(
                    f"CPI {tag} is built for Kubernetes 1.{images.cpi_minor(tag)}, the cluster runs {version}; "
                    f"use {images.CPI_RELEASES.get(minor, f'a v1.{minor}.x release')}",
                    workload.urn,
                )
            )
    drivers = _image_tags(resources, facts.CSI_DRIVER_IMAGE)
    for workload, tag in drivers:
        release = images.csi_release(tag)
        if release is None:
            known = ", ".join(r.version for r in images.CSI_RELEASES)
            out.append(Violation(f"CSI driver {tag} is not a known release (known: {known})", workload.urn))
        elif not release.supports(minor):
            out.append(
                Violation(
                    f"CSI {tag} supports Kubernetes 1.{release.min_minor}-1.{release.max_minor}, not {version}",
                    workload.urn,
                )
            )
    driver_tags = {tag for _, tag in drivers}
    for workload, tag in _image_tags(resources, facts.CSI_SYNCER_IMAGE):
        if driver_tags and tag not in driver_tags:
            out.append(Violation(f"CSI syncer {tag} differs from the driver {sorted(driver_tags)}", workload.urn))
    return out
