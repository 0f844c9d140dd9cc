"""Wiring: the CPI reaches its credentials and cloud config and can schedule; resources use explicit providers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import facts
from ..facts import CONFIG_MAP, SECRET, WORKLOADS
from ..view import ResourceView, contains_unknown, of_type
from .base import CPI_IMAGE_NAME, Violation


def cpi_credentials_wired(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """vsphere.conf points at a Secret of this stack holding each vCenter's credentials.

    Keys ``<server>.username``/``.password``, or ``server_<id>`` (= the server) with
    ``username_<id>``/``password_<id>``, the two forms the CPI's credential manager reads.
    """
    secrets: dict[tuple[str, str], ResourceView] = {}
    for s in of_type(resources, SECRET):
        name, ns = s.prop("metadata", "name"), s.prop("metadata", "namespace") or "default"
        if isinstance(name, str) and isinstance(ns, str):
            secrets[(ns, name)] = s
    out = []
    for cpi in facts.cpi_configs(resources):
        glob = cpi.parsed.get("global") or {}
        for label, vc in (cpi.parsed.get("vcenter") or {}).items():
            if not isinstance(vc, Mapping):
                continue
            if vc.get("user") or glob.get("user"):
                continue  # inline credentials: the credentials policy judges those
            name = vc.get("secretName") or glob.get("secretName")
            namespace = vc.get("secretNamespace") or glob.get("secretNamespace") or "kube-system"
            if not name:
                out.append(Violation(f"vsphere.conf vcenter {label}: no secretName and no credentials", cpi.source.urn))
                continue
            secret = secrets.get((str(namespace), str(name)))
            if secret is None:
                out.append(
                    Violation(
                        f"vsphere.conf vcenter {label} reads Secret {namespace}/{name}, "
                        "which this stack does not create",
                        cpi.source.urn,
                    )
                )
                continue
            entries = facts.config_entries(secret)
            server = str(vc.get("server") or label)
            missing = [k for k in (f"{server}.username", f"{server}.password") if k not in entries]
            # Or the CPI's other form, for servers no key can hold: server_<id> = <server>, username_<id>, ...
            ids = [k.removeprefix("server_") for k, v in entries.items() if k.startswith("server_") and v == server]
            if any(f"username_{i}" in entries and f"password_{i}" in entries for i in ids):
                missing = []
            elif ids:
                missing = [k for k in (f"username_{ids[0]}", f"password_{ids[0]}") if k not in entries]
            if missing and not contains_unknown(secret.prop("stringData")):
                out.append(
                    Violation(f"Secret {namespace}/{name} lacks {', '.join(missing)} for vCenter {server}", secret.urn)
                )
    return out


_UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized"
_CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"


def _tolerates(tolerations: Any, key: str, effect: str = "NoSchedule") -> bool:
    for t in tolerations if isinstance(tolerations, list) else []:
        if not isinstance(t, Mapping):
            continue
        exists = t.get("operator") == "Exists"
        key_ok = t.get("key") == key or (not t.get("key") and exists)
        if key_ok and t.get("effect") in (None, "", effect) and (exists or t.get("value") in ("true", None, "")):
            return True
    return False


def cpi_daemonset_wiring(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """The CPI can schedule on uninitialized control-plane nodes and finds its --cloud-config file.

    With kubelets on cloud-provider=external every node starts tainted until the CPI
    initializes it: a CPI that does not tolerate that taint never starts, and no node
    ever becomes schedulable.
    """
    out = []
    config_maps = {
        (str(r.prop("metadata", "namespace") or "default"), str(r.prop("metadata", "name"))): r
        for r in of_type(resources, CONFIG_MAP, SECRET)
    }
    for workload in of_type(resources, *WORKLOADS):
        spec = workload.prop("spec", "template", "spec")
        cpis = [c for c in facts.containers(workload) if CPI_IMAGE_NAME.search(str(c.get("image") or ""))]
        if not cpis or not isinstance(spec, Mapping) or contains_unknown(spec):
            continue
        name = workload.prop("metadata", "name") or workload.name
        tolerations = spec.get("tolerations")
        if not _tolerates(tolerations, _UNINITIALIZED_TAINT):
            out.append(
                Violation(
                    f"CPI {name} does not tolerate {_UNINITIALIZED_TAINT}: no node would initialize", workload.urn
                )
            )
        if _CONTROL_PLANE_TAINT in repr(spec.get("affinity") or spec.get("nodeSelector") or "") and not _tolerates(
            tolerations, _CONTROL_PLANE_TAINT
        ):
            out.append(
                Violation(f"CPI {name} targets control-plane nodes but does not tolerate their taint", workload.urn)
            )
        namespace = str(workload.prop("metadata", "namespace") or "default")
        volumes = {str(v.get("name")): v for v in spec.get("volumes") or [] if isinstance(v, Mapping)}
        for container in cpis:
            args = [str(a) for key in ("command", "args") for a in container.get(key) or []]
            path = next((a.split("=", 1)[1] for a in args if a.startswith("--cloud-config=")), None)
            if path is None:
                continue
            directory, _, filename = path.rpartition("/")
            mounts = [
                m for m in container.get("volumeMounts") or [] if str(m.get("mountPath", "")).rstrip("/") == directory
            ]
            source = volumes.get(str(mounts[0].get("name"))) if mounts else None
            ref = (source or {}).get("configMap") or (source or {}).get("secret") or {}
            ref_name = ref.get("name") or ref.get("secretName")
            if not ref_name:
                out.append(
                    Violation(f"CPI {name}: --cloud-config={path} is not on a ConfigMap or Secret volume", workload.urn)
                )
                continue
            holder = config_maps.get((namespace, str(ref_name)))
            if holder is None:
                out.append(
                    Violation(
                        f"CPI {name} mounts {namespace}/{ref_name}, which this stack does not create", workload.urn
                    )
                )
            elif not ref.get("items") and filename not in facts.config_entries(holder):
                out.append(
                    Violation(
                        f"CPI {name} reads {path} but {namespace}/{ref_name} has no key {filename!r}", workload.urn
                    )
                )
    return out


def explicit_providers(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """vSphere and Kubernetes resources use the program's providers, never a default one.

    A default provider takes its target from the machine it runs on (VSPHERE_SERVER,
    ~/.kube/config): the same change could then land on another vCenter or cluster.
    """
    if not resource.custom or not resource.type.startswith(("vsphere:", "kubernetes:")):
        return []
    ref = resource.provider or ""
    parts = ref.split("::")
    provider_name = parts[3] if len(parts) > 3 else ""
    if provider_name and not provider_name.startswith("default"):
        return []
    package = resource.type.split(":", 1)[0]
    return [
        f"uses the default {package} provider, which targets whatever the environment points at; "
        "pass an explicit provider"
    ]
