"""The Kubernetes side of vSphere: cloud-config Secrets, the CPI, the CSI driver, StorageClasses, vCenter roles.

Thin wiring: every object comes from the pure builders in ``vsphere_k8s.manifests``
and is registered as a typed pulumi-kubernetes resource on the cluster's provider,
after the cluster's readiness resources. Secret data is wrapped as Pulumi secrets
before it leaves the builders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vsphere as vsphere

from providers.permission.resource import Permission, PermissionArgs
from vsphere_k8s import roles
from vsphere_k8s.config import StackConfig, VCenter
from vsphere_k8s.manifests import cpi, csi, storage
from vsphere_k8s.manifests.images import images_for
from vsphere_k8s.manifests.meta import Manifest

# apiVersion/kind -> the typed resource class that registers it.
_CLASSES: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("storage.k8s.io/v1", "CSIDriver"): k8s.storage.v1.CSIDriver,
    ("storage.k8s.io/v1", "StorageClass"): k8s.storage.v1.StorageClass,
}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def resource_role(group: str, manifest: Manifest) -> str:
    """The stable role part of a child's name: group, kind and the object's own name."""
    return f"{group}-{manifest['kind'].lower()}-{_slug(manifest['metadata']['name'])}"


@dataclass
class CloudProviderArgs:
    config: StackConfig
    k8s_provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)
    vsphere_providers: Mapping[str, vsphere.Provider] = field(default_factory=dict)


class CloudProvider(pulumi.ComponentResource):
    """Registers the CPI, the CSI driver and the StorageClasses; optionally the vCenter roles."""

    def __init__(self, name: str, args: CloudProviderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vsphere-k8s:kubernetes:CloudProvider", name, None, opts)
        cfg = args.config
        self._name = name
        self._provider = args.k8s_provider
        self._ready = list(args.depends_on)
        self.objects: dict[str, pulumi.CustomResource] = {}

        # The CSI's namespace first: the CPI's Secrets may be told to live there too.
        csi_objects = csi.manifests(cfg)
        namespace = self._apply("csi", csi_objects[0])

        # CPI: its Secrets (in their own namespace, made first when the stack owns it) and
        # ConfigMap exist before the pods that read them.
        secret_ns = cpi.secret_namespace(cfg, owned_elsewhere=frozenset({csi.NAMESPACE}))
        secrets_after = [self._apply("cpi", secret_ns)] if secret_ns is not None else []
        if cfg.cpi.secret_namespace == csi.NAMESPACE:
            secrets_after.append(namespace)
        cpi_secrets = [self._apply("cpi", m, secrets_after) for m in cpi.secrets(cfg)]
        cpi_objects = cpi.manifests(cfg)
        cpi_config = [self._apply("cpi", m, cpi_secrets) for m in cpi_objects if m["kind"] != "DaemonSet"]
        self.cpi = self._apply("cpi", cpi.daemon_set(cfg), cpi_secrets + cpi_config)

        # CSI: then its Secret, RBAC and config, then the workloads.
        config_secret = self._apply("csi", csi.config_secret(cfg), [namespace])
        workloads = {"Deployment", "DaemonSet"}
        applied = [
            (m["kind"], self._apply("csi", m, [namespace])) for m in csi_objects[1:] if m["kind"] not in workloads
        ]
        csi_config = [r for _, r in applied]
        before_pods = [namespace, config_secret, *csi_config]
        self.csi_controller = self._apply("csi", csi.controller_deployment(cfg), before_pods)
        self.csi_node = self._apply("csi", csi.node_daemon_set(cfg), before_pods)

        planned = storage.plan_classes(cfg)
        driver = [r for kind, r in applied if kind == "CSIDriver"]
        self.storage_classes = [self._apply("storage", m, driver) for m in storage.manifests(cfg)]

        self.roles: dict[str, vsphere.Role] = {}
        self.permissions: dict[str, Permission] = {}
        if cfg.vsphere_roles.create:
            for vc in cfg.vcenters:
                self._vcenter_roles(cfg, vc, args.vsphere_providers[vc.name])

        images = images_for(cfg)
        self.outputs: dict[str, Any] = {
            "cpiImage": images.cpi,
            "csiVersion": images.csi.version,
            "csiNamespace": csi.NAMESPACE,
            "topologyKey": storage.zone_topology_key(cfg),
            "storageClasses": {p.name: {"zones": list(p.zones), "default": p.default} for p in planned},
            "defaultStorageClass": next((p.name for p in planned if p.default), None),
            "vsphereRoles": sorted(self.roles),
        }
        self.register_outputs(self.outputs)

    def _apply(self, group: str, manifest: Manifest, after: Sequence[pulumi.Resource] = ()) -> pulumi.CustomResource:
        cls = _CLASSES[(manifest["apiVersion"], manifest["kind"])]
        name = f"{self._name}-{resource_role(group, manifest)}"
        kwargs = {_snake(k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
        if "string_data" in kwargs:
            kwargs["string_data"] = pulumi.Output.secret(kwargs["string_data"])
        resource: pulumi.CustomResource = cls(
            name,
            opts=pulumi.ResourceOptions(parent=self, provider=self._provider, depends_on=[*self._ready, *after]),
            **kwargs,
        )
        self.objects[name] = resource
        return resource

    def _vcenter_roles(self, cfg: StackConfig, vc: VCenter, provider: vsphere.Provider) -> None:
        specs = roles.role_specs(cfg)
        opts = pulumi.ResourceOptions(parent=self, provider=provider)
        created = {
            key: vsphere.Role(
                f"{self._name}-role-{vc.name}-{key}", name=spec.name, role_privileges=list(spec.privileges), opts=opts
            )
            for key, spec in specs.items()
        }
        self.roles.update({f"{vc.name}/{spec.name}": created[key] for key, spec in specs.items()})
        users = roles.accounts(cfg, vc)
        if not users:
            pulumi.log.warn(
                f"vsphereRoles.create: vCenter {vc.name} has no separate cpi/csi accounts in credentials; "
                "roles are created but granted to nobody",
                resource=self,
            )
            return
        invoke = pulumi.InvokeOptions(parent=self, provider=provider)
        dc_ids = {
            dc: vsphere.get_datacenter_output(name=dc, opts=invoke).apply(lambda r: str(r.id)) for dc in vc.datacenters
        }
        account = cfg.credentials[vc.name].program
        for entity, grants in roles.grants_by_entity(cfg, vc).items():
            entity_id = self._entity_id(entity, dc_ids, invoke)
            for g in grants:
                # One resource per principal and entity: never vsphere.EntityPermissions, which owns
                # every permission on its entity and would strip the administrators' on refresh/destroy.
                name = f"{self._name}-permission-{vc.name}-{entity.key}-{g.account}"
                self.permissions[name] = Permission(
                    name,
                    PermissionArgs(
                        server=vc.server,
                        port=vc.port,
                        username=account.username,
                        password=account.password.get_secret_value(),
                        entity_type=entity.entity_type,
                        entity_id=entity_id,
                        principal=pulumi.Output.secret(roles.principal(users[g.account])),
                        role_id=created[g.role].id.apply(int),
                        propagate=g.propagate,
                        insecure=vc.tls.insecure,
                        thumbprint=vc.tls.thumbprint,
                        ca_cert=vc.tls.ca_cert,
                    ),
                    pulumi.ResourceOptions(parent=self, depends_on=list(created.values())),
                )

    @staticmethod
    def _entity_id(
        entity: roles.Entity, dc_ids: Mapping[str, pulumi.Output[str]], invoke: pulumi.InvokeOptions
    ) -> pulumi.Input[str]:
        if entity.kind == "root":
            return roles.ROOT_FOLDER_ID
        assert entity.datacenter is not None
        dc_id = dc_ids[entity.datacenter]
        if entity.kind == "datacenter":
            return dc_id
        if entity.kind == "datastore":
            return vsphere.get_datastore_output(name=entity.name, datacenter_id=dc_id, opts=invoke).apply(
                lambda r: str(r.id)
            )
        return vsphere.get_folder_output(path=f"/{entity.datacenter}/vm/{entity.name}", opts=invoke).apply(
            lambda r: str(r.id)
        )
