"""Permission on the simulator: one principal's grant, with another principal's beside it untouched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyVmomi import vim

from providers.permission.provider import PermissionProvider
from providers.vcenter.connection import VCenterConnection, connection_for
from tests.support.vcsim import VCenterTarget

pytestmark = pytest.mark.live

FOREIGN = "VSPHERE.LOCAL\\administrators-of-the-site"


@pytest.fixture
def conn(vcenter: VCenterTarget) -> VCenterConnection:
    return connection_for(vcenter.endpoint())


def _datacenter(conn: VCenterConnection) -> Any:
    content = conn.service_content()
    return next(e for e in content.rootFolder.childEntity if isinstance(e, vim.Datacenter))


def _role(conn: VCenterConnection, name: str) -> int:
    auth = conn.service_content().authorizationManager
    if name not in {r.name for r in auth.roleList}:
        auth.AddAuthorizationRole(name, ["System.View"])
    # Read the id back from the role list: the simulator answers AddAuthorizationRole with 0.
    return next(int(r.roleId) for r in auth.roleList if r.name == name)


def _principals(conn: VCenterConnection, entity: Any) -> dict[str, int]:
    auth = conn.service_content().authorizationManager
    return {p.principal: int(p.roleId) for p in auth.RetrieveEntityPermissions(entity, False)}


@pytest.fixture
def foreign(conn: VCenterConnection) -> Iterator[Any]:
    """A permission someone else granted on the same datacenter, before the stack ran."""
    dc = _datacenter(conn)
    auth = conn.service_content().authorizationManager
    perm = vim.AuthorizationManager.Permission(principal=FOREIGN, group=True, roleId=-1, propagate=True)
    auth.SetEntityPermissions(dc, [perm])
    yield dc
    auth.RemoveEntityPermission(dc, FOREIGN, True)


def _props(vcenter: VCenterTarget, dc: Any, role_id: int, **over: Any) -> dict[str, Any]:
    return {
        "server": vcenter.address,
        "port": vcenter.port,
        "username": vcenter.username,
        "password": vcenter.password,
        "insecure": vcenter.insecure,
        "entity_type": "Datacenter",
        "entity_id": dc._moId,
        "principal": "VSPHERE.LOCAL\\k8s-cpi",
        "role_id": role_id,
        "propagate": False,
        **over,
    }


def test_grant_refresh_update_revoke_leave_the_foreign_permission(
    vcenter: VCenterTarget, conn: VCenterConnection, foreign: Any
) -> None:
    provider = PermissionProvider()
    reader, viewer = _role(conn, "k8s-test-reader"), _role(conn, "k8s-test-viewer")
    props = _props(vcenter, foreign, reader)
    created = provider.create(props)
    assert _principals(conn, foreign) == {FOREIGN: -1, "VSPHERE.LOCAL\\k8s-cpi": reader}
    outs = dict(created.outs or {})
    assert outs["observed_role_id"] == reader

    read = provider.read(created.id, outs)
    assert read.id == created.id and dict(read.outs or {})["observed_role_id"] == reader

    # Someone changes our principal's role by hand: refresh shows it, diff plans an update.
    auth = conn.service_content().authorizationManager
    auth.SetEntityPermissions(
        foreign, [vim.AuthorizationManager.Permission(principal=props["principal"], roleId=viewer, propagate=False)]
    )
    drifted = dict(provider.read(created.id, outs).outs or {})
    assert drifted["observed_role_id"] == viewer
    assert provider.diff(created.id, drifted, props).changes is True

    updated = provider.update(created.id, drifted, props)
    assert dict(updated.outs or {})["observed_role_id"] == reader
    assert _principals(conn, foreign)[FOREIGN] == -1

    provider.delete(created.id, dict(updated.outs or {}))
    assert _principals(conn, foreign) == {FOREIGN: -1}
    # Revoked out of band: refresh says gone, delete is a no-op.
    assert provider.read(created.id, outs).id == ""
    provider.delete(created.id, outs)
