"""vCenter access for the STAND-IN vSphere plugin (a test double of pulumi-resource-vsphere).

The provider configuration the program sets (``vsphereServer``, ``user``,
``password``, ``allowUnverifiedSsl``) becomes the project's own
:class:`~providers.vcenter.connection.VCenterConnection`, so the stand-in logs in,
retries and re-logs in exactly as the program's dynamic providers do. The
helpers here find managed objects by id and wait for tasks, which every resource
family needs.

TLS as the real plugin (Go, terraform-provider-vsphere) verifies it: the real one has
no CA or thumbprint setting, so the endpoint carries no trust anchor and the
connection verifies with this machine's store (OpenSSL's default paths, which honour
SSL_CERT_FILE and SSL_CERT_DIR as Go's crypto/x509 does on Linux), or not at all with
``allowUnverifiedSsl``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pyVmomi import vim as _vim
from pyVmomi import vmodl as _vmodl

from providers.vcenter.connection import Endpoint, VCenterConnection, connection_for
from providers.vcenter.retry import VCenterError
from providers.vcenter.tagging import TaggingClient
from toolchain.standins.server import Config, Function, Provider, ProviderError, Resource

# pyVmomi's types are generated and partial: treat its namespaces as untyped.
vim: Any = _vim
vmodl: Any = _vmodl

VERSION = "4.18.2"
# The real provider's environment fallbacks for its settings (TF DefaultFunc / bridge EnvVars).
_ENV = {
    "user": "VSPHERE_USER",
    "password": "VSPHERE_PASSWORD",
    "vsphereServer": "VSPHERE_SERVER",
    "allowUnverifiedSsl": "VSPHERE_ALLOW_UNVERIFIED_SSL",
}


def _truthy(value: Any) -> bool:
    # Provider inputs may arrive JSON-encoded ("true") from the SDKs, or as booleans.
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1"))


class VSphereProvider(Provider):
    """The vsphere package: resources, functions and one vCenter session per configuration."""

    def __init__(self, resources: list[type[Resource]], functions: Mapping[str, Function]) -> None:
        super().__init__("vsphere", VERSION, resources, functions)
        self._lock = threading.Lock()
        self._conn: VCenterConnection | None = None
        self.expected_errors = (ProviderError, VCenterError, vmodl.MethodFault)

    def setting(self, key: str) -> Any:
        value = self.config.get(key)
        if value in (None, "") and key == "vsphereServer":
            value = self.config.get("vcenterServer")  # the deprecated alias
        if value in (None, ""):
            value = os.environ.get(_ENV.get(key, ""), None)
        return value

    def check_config(self, news: Mapping[str, Any]) -> list[Any]:
        return []  # the real provider reports missing settings when it first connects

    def endpoint(self) -> Endpoint:
        server, user, password = self.setting("vsphereServer"), self.setting("user"), self.setting("password")
        missing = [k for k, v in (("vsphereServer", server), ("user", user), ("password", password)) if not v]
        if missing:
            raise ProviderError(f"vsphere provider: missing required configuration {', '.join(missing)}")
        host, _, port = str(server).partition(":")
        return Endpoint(
            host=host,
            port=int(port or 443),
            username=str(user),
            password=str(password),
            insecure=_truthy(self.setting("allowUnverifiedSsl")),
        )

    def configure(self, config: Config) -> None:
        with self._lock:
            self.config = config
            self._conn = None

    @property
    def conn(self) -> VCenterConnection:
        with self._lock:
            if self._conn is None:
                self._conn = connection_for(self.endpoint())
            return self._conn

    @property
    def content(self) -> Any:
        return self.conn.service_content()

    @property
    def tagging(self) -> TaggingClient:
        return TaggingClient(self.conn)

    # --- managed objects ------------------------------------------------------------------
    def ref(self, kind: type[Any], moid: str) -> Any:
        """A managed object stub by type and moid (nothing is fetched until a property is read)."""
        return kind(moid, self.content.rootFolder._stub)

    def exists(self, obj: Any) -> bool:
        try:
            self.conn.call(lambda: obj.name)
        except vmodl.fault.ManagedObjectNotFound:
            return False
        return True

    def entity(self, kind: type[Any], moid: str, what: str) -> Any:
        obj = self.ref(kind, moid)
        if not moid or not self.exists(obj):
            raise ProviderError(f"cannot locate {what} with ID {moid!r}: ManagedObjectNotFound")
        return obj

    def find_vm_by_uuid(self, uuid: str) -> Any | None:
        """The VM whose BIOS UUID (``config.uuid``, the resource id) is ``uuid``; None when gone."""
        index = self.content.searchIndex
        return self.conn.call(lambda: index.FindByUuid(None, uuid, True, False))

    def datacenter_of(self, obj: Any) -> Any:
        current = obj
        while current is not None and not isinstance(current, vim.Datacenter):
            current = self.prop(current, "parent")
        if current is None:
            raise ProviderError(f"cannot find the datacenter of {obj._moId}")
        return current

    def view(self, root: Any, kinds: list[type[Any]]) -> list[Any]:
        view = self.conn.call(lambda: self.content.viewManager.CreateContainerView(root, kinds, True))
        try:
            return list(self.conn.call(lambda: view.view))
        finally:
            self.conn.call(view.DestroyView)

    def wait(self, task: Any, what: str, timeout: float = 1800.0) -> Any:
        """Wait for a task; its error (as vCenter words it) is the provider's."""
        deadline = time.monotonic() + (timeout if timeout > 0 else 1800.0)
        while True:
            info = self.conn.call(lambda: task.info)
            if info.state == vim.TaskInfo.State.success:
                return info.result
            if info.state == vim.TaskInfo.State.error:
                fault = info.error
                message = getattr(fault, "msg", None) or type(fault).__name__
                raise ProviderError(f"{what}: {message}")
            if time.monotonic() > deadline:
                raise ProviderError(f"{what}: timeout waiting for the task to complete")
            time.sleep(0.1)

    def call(self, fn: Callable[[], Any]) -> Any:
        return self.conn.call(fn)

    def fetch(self, obj: Any, paths: list[str]) -> dict[str, Any]:
        """Property paths of one object through the PropertyCollector, in one round trip.

        Needed for ``runtime.*``: newer vcsim builds answer ``runtime`` with fields this
        pyVmomi cannot map, so the whole object is unreadable while its leaves are fine.
        """
        pc = vmodl.query.PropertyCollector
        spec = pc.FilterSpec(
            objectSet=[pc.ObjectSpec(obj=obj, skip=False)],
            propSet=[pc.PropertySpec(type=type(obj), pathSet=paths)],
        )
        collector = self.content.propertyCollector
        found = self.conn.call(lambda: collector.RetrieveContents([spec]))
        return {p.name: p.val for o in found or [] for p in o.propSet}

    def power_state(self, vm: Any) -> str:
        return str(self.fetch(vm, ["runtime.powerState"]).get("runtime.powerState", ""))

    def prop(self, obj: Any, path: str) -> Any:
        """One property of a managed object (a dotted path reads nested data), in one round trip."""

        def read() -> Any:
            value = obj
            for part in path.split("."):
                value = getattr(value, part)
            return value

        return self.conn.call(read)


def vsphere(resource: Resource) -> VSphereProvider:
    provider = resource.provider
    assert isinstance(provider, VSphereProvider)
    return provider
