"""Every container image the cloud provider layer runs, pinned here and nowhere else.

Also the support matrix: which CPI and CSI releases serve which Kubernetes minor
versions. The config rules and the policy pack both read it, so a version the
program would deploy is exactly a version the policies accept.

Facts from upstream (kubernetes/cloud-provider-vsphere release tags and its
README's version matrix; kubernetes-sigs/vsphere-csi-driver release manifests
under ``manifests/vanilla`` and release notes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vsphere_k8s.config import StackConfig
from vsphere_k8s.errors import ConfigIssue

CPI_REPOSITORY = "registry.k8s.io/cloud-pv-vsphere/cloud-provider-vsphere"
CSI_REPOSITORY = "registry.k8s.io/csi-vsphere"
SIDECAR_REPOSITORY = "registry.k8s.io/sig-storage"

# The CPI is released per Kubernetes minor and only guaranteed to work with that
# minor: the newest patch tag of each release branch.
CPI_RELEASES: dict[int, str] = {
    29: "v1.29.2",
    30: "v1.30.2",
    31: "v1.31.1",
    32: "v1.32.3",
    33: "v1.33.1",
    34: "v1.34.0",
    35: "v1.35.1",
    36: "v1.36.0",
}


@dataclass(frozen=True)
class CsiRelease:
    version: str
    min_minor: int  # oldest Kubernetes minor the release supports
    max_minor: int  # newest
    attacher: str
    provisioner: str
    resizer: str
    snapshotter: str  # also the snapshot-controller and VolumeSnapshot CRD release upstream qualifies
    livenessprobe: str
    node_driver_registrar: str

    def supports(self, minor: int) -> bool:
        return self.min_minor <= minor <= self.max_minor

    @property
    def _tuple(self) -> tuple[int, ...]:
        return _release_tuple(self.version)

    # What the release's vanilla manifest changes from one release to the next, by the first
    # release that ships it (read off every tag's manifests/vanilla/vsphere-csi-driver.yaml).

    @property
    def max_volumes_env(self) -> str | None:
        """``MAX_VOLUMES_PER_NODE`` for the node driver, where the release's manifest sets it.

        v3.4.0 to v3.7.0 read the attach limit from this variable (59) and report none without it,
        so the scheduler over-commits volumes; later releases default to 59 in code.
        """
        return "59" if self._tuple <= (3, 7, 0) else None

    @property
    def feature_states(self) -> dict[str, str]:
        """The ``internal-feature-states`` ConfigMap's keys as the release ships them (all off)."""
        keys = ["trigger-csi-fullsync", "pv-to-backingdiskobjectid-mapping"]
        if (3, 6, 0) <= self._tuple < (3, 7, 0):
            keys.append("csi-transaction-support")
        if self._tuple >= (3, 7, 1):
            keys.append("high-pv-node-density")  # guest clusters only; off keeps 59 volumes a node
        return dict.fromkeys(keys, "false")

    @property
    def profile_server_flag(self) -> bool:
        """v3.6.0+ run a profiling server unless told not to (``--enable-profile-server=false``)."""
        return self._tuple >= (3, 6, 0)

    @property
    def snapshotter_extra_metadata(self) -> bool:
        return self._tuple >= (3, 6, 0)

    @property
    def attacher_worker_threads(self) -> bool:
        return self._tuple >= (3, 4, 0)

    @property
    def resizer_feature_gates(self) -> str | None:
        # csi-resizer v2 turns recovery from failed expansion on by default; the driver is not qualified for it.
        return "RecoverVolumeExpansionFailure=false" if self._tuple >= (3, 8, 0) else None

    @property
    def syncer_port_name(self) -> str:
        # v3.8.0 renamed the syncer's port: two containers of one pod named "prometheus" is ambiguous.
        return "prometheus-sync" if self._tuple >= (3, 8, 0) else "prometheus"

    @property
    def controller_node_roles(self) -> tuple[str, ...]:
        """The node-role labels the controller's node affinity accepts (any one of them)."""
        roles = ("control-plane", "controlplane")
        return roles if self._tuple >= (3, 8, 0) else (*roles, "master")

    @property
    def driver_image(self) -> str:
        return f"{CSI_REPOSITORY}/driver:{self.version}"

    @property
    def syncer_image(self) -> str:
        return f"{CSI_REPOSITORY}/syncer:{self.version}"

    def sidecar(self, name: str) -> str:
        tag = {
            "csi-attacher": self.attacher,
            "csi-provisioner": self.provisioner,
            "csi-resizer": self.resizer,
            "csi-snapshotter": self.snapshotter,
            "livenessprobe": self.livenessprobe,
            "csi-node-driver-registrar": self.node_driver_registrar,
        }[name]
        return f"{SIDECAR_REPOSITORY}/{name}:{tag}"


def _release_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.removeprefix("v").split("."))


# Each release supports three Kubernetes minors, ending with the one its notes add (v3.3.0:
# 1.30, v3.4.0: 1.32, v3.8.0: "minimum 1.34, maximum 1.36"). Sidecars as shipped in that
# release's vanilla manifest. v3.3.1 is what keeps 1.29 covered (its manifest still names
# gcr.io; the same images are on registry.k8s.io/csi-vsphere).
CSI_RELEASES: tuple[CsiRelease, ...] = (
    CsiRelease("v3.3.1", 28, 30, "v4.5.1", "v4.0.1", "v1.10.1", "v7.0.2", "v2.12.0", "v2.10.1"),
    CsiRelease("v3.4.0", 30, 32, "v4.7.0", "v4.0.1", "v1.12.0", "v8.2.0", "v2.14.0", "v2.12.0"),
    CsiRelease("v3.5.1", 31, 33, "v4.8.1", "v4.0.1", "v1.12.0", "v8.2.0", "v2.15.0", "v2.13.0"),
    CsiRelease("v3.6.3", 32, 34, "v4.9.0", "v4.0.1", "v1.12.0", "v8.2.0", "v2.15.0", "v2.13.0"),
    CsiRelease("v3.7.3", 33, 35, "v4.9.0", "v4.0.1", "v1.12.0", "v8.2.0", "v2.15.0", "v2.13.0"),
    CsiRelease("v3.8.0", 34, 36, "v4.10.0", "v4.0.1", "v2.0.0", "v8.4.0", "v2.17.0", "v2.14.0"),
)

SUPPORTED_MINORS: tuple[int, ...] = tuple(sorted(m for m in CPI_RELEASES if any(r.supports(m) for r in CSI_RELEASES)))


def cpi_minor(tag: str) -> int:
    """The Kubernetes minor a CPI tag (``v1.31.1``) is built for."""
    return int(tag.removeprefix("v").split(".")[1])


def cpi_supports(tag: str, k8s_minor: int) -> bool:
    return cpi_minor(tag) == k8s_minor


def csi_release(version: str) -> CsiRelease | None:
    return next((r for r in CSI_RELEASES if r.version == version), None)


def csi_supports(version: str, k8s_minor: int) -> bool:
    release = csi_release(version)
    return release is not None and release.supports(k8s_minor)


def default_csi_release(k8s_minor: int) -> CsiRelease | None:
    """The newest pinned CSI release that supports ``k8s_minor``."""
    candidates = [r for r in CSI_RELEASES if r.supports(k8s_minor)]
    return candidates[-1] if candidates else None


@dataclass(frozen=True)
class ImageSet:
    cpi: str
    csi: CsiRelease


def _minors(minors: Iterable[int]) -> str:
    return ", ".join(f"1.{m}" for m in sorted(minors))


def version_issues(cfg: StackConfig) -> list[ConfigIssue]:
    """Every reason the stack's Kubernetes, CPI and CSI versions cannot run together."""
    minor = cfg.kubernetes.minor
    issues: list[ConfigIssue] = []
    if cfg.cpi.version is None:
        if minor not in CPI_RELEASES:
            issues.append(
                ConfigIssue(
                    "kubernetes.version",
                    f"Kubernetes 1.{minor} has no pinned vSphere CPI release (pinned: {_minors(CPI_RELEASES)}); "
                    "choose a supported version or set cpi.version",
                )
            )
    elif not cpi_supports(cfg.cpi.version, minor):
        issues.append(
            ConfigIssue(
                "cpi.version",
                f"{cfg.cpi.version} is the CPI for Kubernetes 1.{cpi_minor(cfg.cpi.version)}; "
                f"the cluster runs 1.{minor} and the CPI only supports its own minor",
            )
        )
    if cfg.csi.version is None:
        if default_csi_release(minor) is None:
            issues.append(
                ConfigIssue(
                    "kubernetes.version",
                    f"no pinned vSphere CSI release supports Kubernetes 1.{minor} "
                    f"(pinned releases cover {_minors(SUPPORTED_MINORS)})",
                )
            )
    else:
        release = csi_release(cfg.csi.version)
        if release is None:
            known = ", ".join(r.version for r in CSI_RELEASES)
            issues.append(
                ConfigIssue(
                    "csi.version",
                    f"{cfg.csi.version} is not a CSI release this program pins sidecars for (known: {known})",
                )
            )
        elif not release.supports(minor):
            issues.append(
                ConfigIssue(
                    "csi.version",
                    f"{release.version} supports Kubernetes 1.{release.min_minor} to 1.{release.max_minor}, "
                    f"not 1.{minor}",
                )
            )
    return issues


def images_for(cfg: StackConfig) -> ImageSet:
    """The images of a stack whose versions passed :func:`version_issues`."""
    minor = cfg.kubernetes.minor
    cpi_tag = cfg.cpi.version or CPI_RELEASES.get(minor)
    csi = csi_release(cfg.csi.version) if cfg.csi.version else default_csi_release(minor)
    if cpi_tag is None or csi is None:
        raise ValueError(f"no supported CPI/CSI images for Kubernetes 1.{minor}; run version_issues() first")
    return ImageSet(cpi=f"{CPI_REPOSITORY}:{cpi_tag}", csi=csi)
