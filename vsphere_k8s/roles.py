"""Least-privilege vCenter roles for the CPI and CSI accounts, and where to grant them.

Pure: what to create is decided here from the stack; components/cloud_provider
registers it. Privilege ids are vSphere's (``Datastore.FileManagement``...);
vCenter adds ``System.Anonymous``, ``System.Read`` and ``System.View`` to every role,
so a role with no listed privilege is read-only.

- CPI: read-only, on the root folder (to find datacenters) and each datacenter with
  propagation (VMs, hosts, clusters and the tags on them).
- CSI (as the driver's documentation splits it): search and SPBM on the root
  folder, virtual disk attach on the node VMs (their folders, or the datacenter),
  low-level file operations on the zones' datastores, read-only elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vsphere_k8s.config import StackConfig, VCenter

ROOT_FOLDER_ID = "group-d1"  # every vCenter's root folder has this managed object id
Account = Literal["cpi", "csi"]
EntityKind = Literal["root", "datacenter", "datastore", "folder"]


@dataclass(frozen=True)
class RoleSpec:
    key: str  # stable, used in resource names
    name: str  # the role's name in vCenter
    privileges: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    kind: EntityKind
    datacenter: str | None = None
    name: str | None = None  # datastore name or VM folder path below the datacenter's vm folder

    @property
    def key(self) -> str:
        parts = [self.kind, self.datacenter or "", self.name or ""]
        return "-".join(p for p in parts if p).replace("/", "-").replace(" ", "-").lower()

    @property
    def entity_type(self) -> str:
        return {"root": "Folder", "datacenter": "Datacenter", "datastore": "Datastore", "folder": "Folder"}[self.kind]


@dataclass(frozen=True)
class Grant:
    entity: Entity
    account: Account
    role: str  # RoleSpec.key
    propagate: bool


def role_specs(cfg: StackConfig) -> dict[str, RoleSpec]:
    roles = cfg.vsphere_roles
    specs = [
        RoleSpec("cpi", roles.cpi_role_name, ()),
        RoleSpec("csi-read", f"{roles.csi_role_name}-read", ()),
        RoleSpec("csi-search-spbm", f"{roles.csi_role_name}-search-spbm", ("Cns.Searchable", "StorageProfile.View")),
        RoleSpec(
            "csi-vm",
            f"{roles.csi_role_name}-vm",
            ("VirtualMachine.Config.AddExistingDisk", "VirtualMachine.Config.AddRemoveDevice"),
        ),
        RoleSpec("csi-datastore", f"{roles.csi_role_name}-datastore", ("Datastore.FileManagement",)),
    ]
    return {s.key: s for s in specs}


def grants(cfg: StackConfig, vc: VCenter) -> list[Grant]:
    """Every (entity, account, role) of one vCenter; at most one role per account and entity."""
    zones = [z for z in cfg.topology.zones if cfg.zone_vcenter(z).name == vc.name]
    out = [
        Grant(Entity("root"), "cpi", "cpi", False),
        Grant(Entity("root"), "csi", "csi-search-spbm", False),
    ]
    for dc in vc.datacenters:
        dc_zones = [z for z in zones if z.datacenter == dc]
        folders = sorted({z.folder for z in dc_zones if z.folder})
        # Node VMs all in known folders: attach rights there only, read elsewhere.
        vms_in_folders = bool(dc_zones) and all(z.folder for z in dc_zones)
        out.append(Grant(Entity("datacenter", dc), "cpi", "cpi", True))
        out.append(Grant(Entity("datacenter", dc), "csi", "csi-read" if vms_in_folders else "csi-vm", True))
        if vms_in_folders:
            out += [Grant(Entity("folder", dc, f), "csi", "csi-vm", True) for f in folders]
        for ds in sorted({z.datastore for z in dc_zones}):
            out.append(Grant(Entity("datastore", dc, ds), "csi", "csi-datastore", False))
    return out


def principal(username: str) -> str:
    """vCenter's principal form: ``k8s-csi@vsphere.local`` -> ``VSPHERE.LOCAL\\k8s-csi``."""
    if "\\" in username or "@" not in username:
        return username
    user, domain = username.rsplit("@", 1)
    return f"{domain.upper()}\\{user}"


def accounts(cfg: StackConfig, vc: VCenter) -> dict[Account, str]:
    """The separate CPI/CSI accounts to grant to (never the program's own: a narrow role would demote it)."""
    creds = cfg.credentials[vc.name]
    found: dict[Account, str] = {}
    if creds.cpi is not None and creds.cpi.username != creds.username:
        found["cpi"] = creds.cpi.username
    if creds.csi is not None and creds.csi.username not in {creds.username, found.get("cpi")}:
        found["csi"] = creds.csi.username
    return found


def grants_by_entity(cfg: StackConfig, vc: VCenter) -> dict[Entity, list[Grant]]:
    """Grants for the accounts that exist, grouped: one EntityPermissions per entity."""
    have = accounts(cfg, vc)
    grouped: dict[Entity, list[Grant]] = {}
    for grant in grants(cfg, vc):
        if grant.account in have:
            grouped.setdefault(grant.entity, []).append(grant)
    return grouped
