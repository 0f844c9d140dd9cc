"""The vCenter tagging REST API (/rest/com/vmware/cis/tagging), as the CPI and CSI see tags.

Reads are batched where the API allows it: the objects of many tags come back
from one ``list-attached-objects-on-tags`` call, so the cost of a reconcile does
not grow with the number of nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .connection import VCenterConnection

BASE = "/rest/com/vmware/cis/tagging"


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    cardinality: str
    associable_types: tuple[str, ...]


@dataclass(frozen=True)
class Tag:
    id: str
    name: str
    category_id: str


@dataclass(frozen=True)
class ObjectRef:
    """A managed object as the tagging API names it: its type and moref value."""

    type: str
    id: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id}


class TaggingClient:
    def __init__(self, conn: VCenterConnection) -> None:
        self.conn = conn

    def categories(self) -> list[Category]:
        ids = self.conn.rest("GET", f"{BASE}/category") or []
        return [self._category(str(i)) for i in ids]

    def _category(self, category_id: str) -> Category:
        raw = self.conn.rest("GET", f"{BASE}/category/id:{category_id}")
        return Category(
            id=str(raw["id"]),
            name=str(raw["name"]),
            cardinality=str(raw.get("cardinality", "")),
            associable_types=tuple(raw.get("associable_types") or ()),
        )

    def category_by_name(self, name: str) -> Category | None:
        matches = [c for c in self.categories() if c.name == name]
        return matches[0] if matches else None

    def tags_for_category(self, category_id: str) -> list[Tag]:
        ids = self.conn.rest(
            "POST", f"{BASE}/tag/id:{category_id}", params={"~action": "list-tags-for-category"}, write=False
        )
        return [self._tag(str(i)) for i in ids or []]

    def _tag(self, tag_id: str) -> Tag:
        raw = self.conn.rest("GET", f"{BASE}/tag/id:{tag_id}")
        return Tag(id=str(raw["id"]), name=str(raw["name"]), category_id=str(raw["category_id"]))

    def attached_objects(self, tag_ids: Sequence[str]) -> dict[str, list[ObjectRef]]:
        """Tag id -> the objects it is attached to, for all ``tag_ids`` in one call."""
        if not tag_ids:
            return {}
        answer = self._read_action("tag-association", "list-attached-objects-on-tags", {"tag_ids": list(tag_ids)})
        out: dict[str, list[ObjectRef]] = {t: [] for t in tag_ids}
        for item in answer or []:
            refs = [ObjectRef(str(o["type"]), str(o["id"])) for o in item.get("object_ids") or []]
            out[str(item["tag_id"])] = sorted(refs, key=lambda r: (r.type, r.id))
        return out

    def attached_tags(self, obj: ObjectRef) -> list[str]:
        answer = self._read_action("tag-association", "list-attached-tags", {"object_id": obj.as_json()})
        return sorted(str(t) for t in answer or [])

    def attach(self, tag_id: str, obj: ObjectRef) -> None:
        self.conn.rest(
            "POST",
            f"{BASE}/tag-association/id:{tag_id}",
            params={"~action": "attach"},
            json={"object_id": obj.as_json()},
        )

    def detach(self, tag_id: str, obj: ObjectRef) -> None:
        self.conn.rest(
            "POST",
            f"{BASE}/tag-association/id:{tag_id}",
            params={"~action": "detach"},
            json={"object_id": obj.as_json()},
        )

    def create_category(self, name: str, cardinality: str, associable_types: Sequence[str]) -> str:
        spec = {"name": name, "description": "", "cardinality": cardinality, "associable_types": list(associable_types)}
        return str(self.conn.rest("POST", f"{BASE}/category", json={"create_spec": spec}))

    def delete_category(self, category_id: str) -> None:
        """Delete a category with its tags and their attachments."""
        self.conn.rest("DELETE", f"{BASE}/category/id:{category_id}")

    def create_tag(self, name: str, category_id: str) -> str:
        spec = {"name": name, "description": "", "category_id": category_id}
        return str(self.conn.rest("POST", f"{BASE}/tag", json={"create_spec": spec}))

    def _read_action(self, resource: str, action: str, body: dict[str, Any]) -> Any:
        return self.conn.rest("POST", f"{BASE}/{resource}", params={"~action": action}, json=body, write=False)
