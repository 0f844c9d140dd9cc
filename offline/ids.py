"""Ids and UUIDs the fakes answer with: derived from names, so the same on every run."""

from __future__ import annotations

import hashlib
import uuid


def stable_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:10]


def stable_uuid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]))
