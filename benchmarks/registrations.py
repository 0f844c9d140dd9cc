"""The engine floor's input: what a program registered, recorded at the gRPC boundary and turned into replay items.

Recording (``install_recorder``, run inside the program's process by the recording wrapper that
:func:`recording_main` writes): every ``RegisterResource`` request, with the URN the engine
answered, and every ``RegisterResourceOutputs`` request are appended to a file as they are sent
(length-prefixed protobuf bytes), so the file holds exactly what the engine received, secrets and
unknowns in their wire form.

Replay items (:func:`replay_items`, pure): one plain-JSON dict per registration, in registration
order: type token, name, URN, custom or component, parent URN, explicit provider URN, plugin
version, additional secret outputs, and the inputs as the wire's JSON (the floor program,
``benchmarks/floor_program.py``, turns secret markers into ``Output.secret`` again). The SDK's own
stack registration is left out (the floor's SDK makes its own), its outputs kept as exports.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"
_KIND_RESOURCE, _KIND_OUTPUTS = 1, 2


# --------------------------------------------------------------------------- recording (in the program's process)


class _RecordingMonitor:
    """The SDK's monitor stub, with registrations appended to a file before they are answered."""

    def __init__(self, inner: Any, path: Path) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._out = path.open("ab")

    def _write(self, kind: int, *blobs: bytes) -> None:
        with self._lock:
            for blob in blobs:
                self._out.write(struct.pack(">BI", kind, len(blob)) + blob)
            self._out.flush()

    def RegisterResource(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - gRPC name
        response = self._inner.RegisterResource(request, *args, **kwargs)
        self._write(_KIND_RESOURCE, request.SerializeToString(), response.urn.encode())
        return response

    def RegisterResourceOutputs(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - gRPC name
        self._write(_KIND_OUTPUTS, request.SerializeToString())
        return self._inner.RegisterResourceOutputs(request, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install_recorder(path: Path) -> None:
    """Wrap the configured SDK's resource monitor so that registrations are recorded to ``path``."""
    from pulumi.runtime import settings

    if settings.SETTINGS.monitor is None:
        raise RuntimeError("the SDK has no resource monitor configured: not run by the Pulumi engine?")
    settings.SETTINGS.monitor = _RecordingMonitor(settings.SETTINGS.monitor, path)


def recording_main(repo_root: Path, record_file: Path) -> str:
    """The text of a project ``__main__.py`` that records the real program's registrations, then runs it."""
    return (
        '"""Benchmark recording wrapper: records registrations, then runs the real program."""\n'
        "import runpy\nimport sys\nfrom pathlib import Path\n\n"
        f"sys.path.insert(0, {str(repo_root)!r})\n"
        "from benchmarks.registrations import install_recorder  # noqa: E402\n\n"
        f"install_recorder(Path({str(record_file)!r}))\n"
        f"runpy.run_path({str(repo_root / '__main__.py')!r}, run_name='__main__')\n"
    )


# --------------------------------------------------------------------------- reading and replay items (pure)


def read_records(data: bytes) -> Iterator[tuple[str, bytes, str]]:
    """("resource", request bytes, urn) and ("outputs", request bytes, "") from a recording's bytes."""
    pos = 0
    while pos < len(data):
        kind, size = struct.unpack_from(">BI", data, pos)
        pos += 5
        blob = data[pos : pos + size]
        pos += size
        if kind == _KIND_RESOURCE:
            _, size2 = struct.unpack_from(">BI", data, pos)
            pos += 5
            urn = data[pos : pos + size2].decode()
            pos += size2
            yield "resource", blob, urn
        elif kind == _KIND_OUTPUTS:
            yield "outputs", blob, ""
        else:
            raise ValueError(f"recording: unknown record kind {kind} at byte {pos - size - 5}")


def _struct_json(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format  # type: ignore[import-untyped]  # no stubs in the venv

    value: dict[str, Any] = json_format.MessageToDict(message)
    return value


def replay_items(records: Iterable[tuple[str, bytes, str]]) -> dict[str, Any]:
    """``{"resources": [...], "stack_outputs": {...}}`` from recorded requests (see the module docstring)."""
    from pulumi.runtime.proto import resource_pb2

    items: list[dict[str, Any]] = []
    by_urn: dict[str, dict[str, Any]] = {}
    stack_outputs: dict[str, Any] = {}
    for kind, blob, urn in records:
        if kind == "resource":
            req = resource_pb2.RegisterResourceRequest.FromString(blob)
            if req.type == STACK_TYPE:
                continue
            item = {
                "urn": urn,
                "type": req.type,
                "name": req.name,
                "custom": bool(req.custom),
                "parent": "" if is_stack_urn(req.parent) else req.parent,
                "provider": provider_urn(req.provider),
                "version": req.version,
                "additional_secret_outputs": list(req.additionalSecretOutputs),
                "inputs": _struct_json(req.object),
                "outputs": None,
            }
            items.append(item)
            by_urn[urn] = item
        else:
            out = resource_pb2.RegisterResourceOutputsRequest.FromString(blob)
            outputs = _struct_json(out.outputs)
            if is_stack_urn(out.urn):
                stack_outputs = outputs
            elif out.urn in by_urn:
                by_urn[out.urn]["outputs"] = outputs
    for item in items:
        if item["parent"] and item["parent"] not in by_urn:
            raise ValueError(f"registration {item['urn']}: parent {item['parent']} was not registered before it")
    return {"resources": items, "stack_outputs": stack_outputs}


def is_stack_urn(urn: str) -> bool:
    """Whether ``urn`` names the stack resource (the SDK registers it before the program, and the recorder, run)."""
    return urn.rsplit("::", 2)[-2:-1] == [STACK_TYPE]


def provider_urn(reference: str) -> str:
    """The URN part of a provider reference ``<urn>::<id>`` ("" for none)."""
    if not reference:
        return ""
    urn, sep, _ = reference.rpartition("::")
    if not sep or not urn.startswith("urn:"):
        raise ValueError(f"provider reference {reference!r} is not of the form <urn>::<id>")
    return urn


def explicit_providers(replay: dict[str, Any]) -> set[str]:
    """URNs of the providers the program registered itself (the others are the engine's defaults)."""
    return {i["urn"] for i in replay["resources"] if i["type"].startswith("pulumi:providers:")}
