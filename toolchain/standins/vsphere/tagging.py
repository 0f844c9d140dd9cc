"""TagCategory and Tag of the STAND-IN vSphere plugin (a test double of pulumi-resource-vsphere).

Both go through vCenter's tagging REST API, as the real provider does. The rules
are the real provider's (terraform-provider-vsphere 2.16): a category's
cardinality updates in place (no longer ForceNew), its associable types can only
grow (a removal is refused at update, as vCenter refuses it), a tag's category
forces a new tag, and the ids are vCenter's own URNs. Associable types go to
vCenter with the ``urn:vim25:`` prefix the real provider adds and are read back
without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from providers.vcenter.retry import VCenterError
from providers.vcenter.tagging import BASE
from toolchain.standins.schema import Failure, Field, Schema
from toolchain.standins.server import ProviderError, Resource

from .connection import vsphere

PREFIX = "urn:vim25:"
# What the real provider accepts as associable types (vSphereTagTypes).
TAG_TYPES = (
    "Folder",
    "ClusterComputeResource",
    "Datacenter",
    "Datastore",
    "StoragePod",
    "DistributedVirtualPortgroup",
    "DistributedVirtualSwitch",
    "VmwareDistributedVirtualSwitch",
    "HostSystem",
    "com.vmware.content.Library",
    "com.vmware.content.library.Item",
    "HostNetwork",
    "Network",
    "OpaqueNetwork",
    "ResourcePool",
    "VirtualApp",
    "VirtualMachine",
)


def _not_found(error: VCenterError) -> bool:
    text = str(error)
    return "HTTP 404" in text or "not_found" in text


def rest_get(resource: Resource, path: str) -> dict[str, Any] | None:
    """One tagging object, or None when vCenter answers not found."""
    try:
        found = vsphere(resource).conn.rest("GET", f"{BASE}/{path}")
    except VCenterError as error:
        if _not_found(error):
            return None
        raise ProviderError(str(error)) from None
    return found if isinstance(found, dict) else None


def _rest(resource: Resource, method: str, path: str, body: Any = None) -> Any:
    try:
        return vsphere(resource).conn.rest(method, f"{BASE}/{path}", json=body)
    except VCenterError as error:
        raise ProviderError(str(error)) from None


def category_state(raw: Mapping[str, Any]) -> dict[str, Any]:
    types = sorted(str(t).removeprefix(PREFIX) for t in raw.get("associable_types") or [])
    return {
        "name": str(raw.get("name", "")),
        "description": str(raw.get("description") or ""),
        "cardinality": str(raw.get("cardinality", "")),
        "associableTypes": types,
    }


class TagCategory(Resource):
    pulumi_type = "vsphere:index/tagCategory:TagCategory"
    autoname = True
    schema: ClassVar[Schema] = {
        "name": Field("str", required=False),
        "description": Field("str"),
        "cardinality": Field("str", required=True, choices=("SINGLE", "MULTIPLE")),
        "associableTypes": Field("set", required=True),
    }

    def validate(self, inputs: Mapping[str, Any]) -> list[Failure]:
        types = inputs.get("associableTypes")
        bad = [t for t in types if isinstance(t, str) and t not in TAG_TYPES] if isinstance(types, list) else []
        return [
            Failure("associableTypes", f"{t} is not a valid associable_type, valid types include: {list(TAG_TYPES)}")
            for t in bad
        ]

    def _spec(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": inputs.get("name", ""),
            "description": inputs.get("description") or "",
            "cardinality": inputs["cardinality"],
            "associable_types": [PREFIX + str(t) for t in inputs.get("associableTypes") or []],
        }

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        try:
            category_id = str(_rest(self, "POST", "category", {"create_spec": self._spec(inputs)}))
        except ProviderError as error:
            raise ProviderError(f"could not create category: {error}") from None
        state = self.read(category_id, {}, inputs)
        if state is None:
            raise ProviderError(f"category {category_id} vanished right after its creation")
        return category_id, state

    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        raw = rest_get(self, f"category/id:{resource_id}")
        return None if raw is None else category_state(raw)

    def update(
        self, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        removed = sorted(set(olds.get("associableTypes") or []) - set(news.get("associableTypes") or []))
        if removed:
            raise ProviderError(f"cannot remove type {removed[0]!r} (removal of associable types is not supported)")
        current = rest_get(self, f"category/id:{resource_id}") or {}
        spec = self._spec(news)
        # vCenter takes the new types as the old list with additions at its end.
        existing = list(current.get("associable_types") or [])
        spec["associable_types"] = existing + [t for t in spec["associable_types"] if t not in existing]
        try:
            _rest(self, "PATCH", f"category/id:{resource_id}", {"update_spec": spec})
        except ProviderError as error:
            raise ProviderError(f"could not update category with id {resource_id!r}: {error}") from None
        return self.read(resource_id, olds, news) or dict(news)

    def delete(self, resource_id: str, state: Mapping[str, Any], timeout: float) -> None:
        if rest_get(self, f"category/id:{resource_id}") is None:
            return  # already gone: nothing to do
        try:
            _rest(self, "DELETE", f"category/id:{resource_id}")
        except ProviderError as error:
            raise ProviderError(f"could not delete category with id {resource_id!r}: {error}") from None


class Tag(Resource):
    pulumi_type = "vsphere:index/tag:Tag"
    autoname = True
    schema: ClassVar[Schema] = {
        "name": Field("str"),
        "description": Field("str"),
        "categoryId": Field("str", required=True, force_new=True),
    }

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        spec = {
            "name": inputs["name"],
            "description": inputs.get("description") or "",
            "category_id": inputs["categoryId"],
        }
        try:
            tag_id = str(_rest(self, "POST", "tag", {"create_spec": spec}))
        except ProviderError as error:
            raise ProviderError(f"could not create tag: {error}") from None
        state = self.read(tag_id, {}, inputs)
        if state is None:
            raise ProviderError(f"tag {tag_id} vanished right after its creation")
        return tag_id, state

    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        raw = rest_get(self, f"tag/id:{resource_id}")
        if raw is None:
            return None
        return {
            "name": str(raw.get("name", "")),
            "description": str(raw.get("description") or ""),
            "categoryId": str(raw.get("category_id", "")),
        }

    def update(
        self, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        spec = {"name": news["name"], "description": news.get("description") or ""}
        try:
            _rest(self, "PATCH", f"tag/id:{resource_id}", {"update_spec": spec})
        except ProviderError as error:
            raise ProviderError(f"could not update tag with id {resource_id!r}: {error}") from None
        return self.read(resource_id, olds, news) or dict(news)

    def delete(self, resource_id: str, state: Mapping[str, Any], timeout: float) -> None:
        if rest_get(self, f"tag/id:{resource_id}") is None:
            return
        try:
            _rest(self, "DELETE", f"tag/id:{resource_id}")
        except ProviderError as error:
            raise ProviderError(f"could not delete tag with id {resource_id!r}: {error}") from None
