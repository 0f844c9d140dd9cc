"""The engine floor's input: what a program registered, recorded at the gRPC boundary and turned into replay items.

Recording (``install_recorder``, run inside the program's process by the recording wrapper that
:func:`recording_main` writes): every ``RegisterResource`` request, with its place in the order
the program sent them and the URN the engine answered, and every ``RegisterResourceOutputs``
request are appended to a file (length-prefixed protobuf bytes), so the file holds exactly what
the engine received, secrets and unknowns in their wire form. A registration is written when its
answer arrives, so the file's order is the engine's completion order; the send order is kept
beside it because that is the order the floor must replay.

Replay items (:func:`replay_items`, pure): one plain-JSON dict per registration, in the order the
program sent them: type token, name, URN, custom or component, parent URN, explicit provider URN,
plugin version, additional secret outputs, the inputs as the wire's JSON, and the dependencies
the request carried (all of them, and per input property). The floor program
(``benchmarks/floor_program.py``) turns secret markers into ``Output.secret`` again and makes each
registration wait for the same dependencies. The SDK's own stack registration is left out (the
floor's SDK makes its own), its outputs kept as exports.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"
# 1: a registration without its send order (recordings made before it was kept); 3: with it.
_KIND_RESOURCE, _KIND_OUTPUTS, _KIND_SENT = 1, 2, 3


# --------------------------------------------------------------------------- recording (in the program's process)


class _RecordingMonitor:
    """The SDK's monitor stub, with registrations appended to a file before they are answered."""

    def __init__(self, inner: Any, path: Path) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._out = path.open("ab")
        self._sent = 0

    def _write(self, data: bytes) -> None:
        with self._lock:
            self._out.write(data)
            self._out.flush()

    def RegisterResource(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - gRPC name
        with self._lock:  # the SDK sends from many executor threads at once
            seq = self._sent
            self._sent += 1
        response = self._inner.RegisterResource(request, *args, **kwargs)
        self._write(sent_record(seq, request.SerializeToString(), response.urn))
        return response

    def RegisterResourceOutputs(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - gRPC name
        blob = request.SerializeToString()
        self._write(struct.pack(">BI", _KIND_OUTPUTS, len(blob)) + blob)
        return self._inner.RegisterResourceOutputs(request, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install_recorder(path: Path) -> None:
    """Wrap the configured SDK's resource monitor so that registrations are recorded to ``path``."""
    from pulumi.runtime import settings

    if settings.SETTINGS.monitor is None:
        raise RuntimeError("the SDK has no resource monitor configured: not run by the Pulumi engine?")
    settings.SETTINGS.monitor = _RecordingMonitor(settings.SETTINGS.monitor, path)


def recording_main(repo_root: Path, record_file: Path, program: Path | None = None) -> str:
    """The text of a project ``__main__.py`` that records a program's registrations, then runs it
    (``program``, by default the real one: ``repo_root/__main__.py``)."""
    script = program or repo_root / "__main__.py"
    return (
        '"""Benchmark recording wrapper: records registrations, then runs the program."""\n'
        "import runpy\nimport sys\nfrom pathlib import Path\n\n"
        f"sys.path.insert(0, {str(repo_root)!r})\n"
        "from benchmarks.registrations import install_recorder  # noqa: E402\n\n"
        f"install_recorder(Path({str(record_file)!r}))\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
    )


# --------------------------------------------------------------------------- reading and replay items (pure)


def sent_record(seq: int, request: bytes, urn: str) -> bytes:
    """A registration's record: its send order, the request's bytes, the URN the engine answered."""
    raw = urn.encode()
    return struct.pack(">BII", _KIND_SENT, seq, len(request)) + request + struct.pack(">I", len(raw)) + raw


def read_records(data: bytes) -> Iterator[tuple[str, bytes, str, int]]:
    """("resource", request bytes, urn, send order) and ("outputs", request bytes, "", -1) from a recording's
    bytes. A registration recorded without its send order gets its place among the registrations."""
    pos = 0
    registrations = 0
    while pos < len(data):
        start = pos
        kind = data[pos]
        if kind == _KIND_SENT:
            _, seq, size = struct.unpack_from(">BII", data, pos)
            pos += 9
            blob = data[pos : pos + size]
            (size2,) = struct.unpack_from(">I", data, pos + size)
            pos += size + 4
            urn = data[pos : pos + size2].decode()
            pos += size2
            registrations += 1
            yield "resource", blob, urn, seq
            continue
        _, size = struct.unpack_from(">BI", data, pos)
        pos += 5
        blob = data[pos : pos + size]
        pos += size
        if kind == _KIND_RESOURCE:
            _, size2 = struct.unpack_from(">BI", data, pos)
            pos += 5
            urn = data[pos : pos + size2].decode()
            pos += size2
            yield "resource", blob, urn, registrations
            registrations += 1
        elif kind == _KIND_OUTPUTS:
            yield "outputs", blob, "", -1
        else:
            raise ValueError(f"recording: unknown record kind {kind} at byte {start}")


def _struct_json(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format  # type: ignore[import-untyped]  # no stubs in the venv

    value: dict[str, Any] = json_format.MessageToDict(message)
    return value


def replay_items(records: Iterable[tuple[str, bytes, str, int]]) -> dict[str, Any]:
    """``{"resources": [...], "stack_outputs": {...}}`` from recorded requests (see the module docstring)."""
    from pulumi.runtime.proto import resource_pb2

    items: list[dict[str, Any]] = []
    by_urn: dict[str, dict[str, Any]] = {}
    stack_outputs: dict[str, Any] = {}
    for kind, blob, urn, seq in records:
        if kind == "resource":
            req = resource_pb2.RegisterResourceRequest.FromString(blob)
            if req.type == STACK_TYPE:
                continue
            item = {
                "seq": seq,
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
                "dependencies": sorted(req.dependencies),
                "property_dependencies": {k: sorted(v.urns) for k, v in sorted(req.propertyDependencies.items())},
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
    # The program sent a registration only once its parent and dependencies were answered, so in send
    # order each of them comes before it; the floor relies on that to find them already made.
    items.sort(key=lambda i: i["seq"])
    sent: set[str] = set()
    for item in items:
        if item["parent"] and item["parent"] not in sent:
            raise ValueError(f"registration {item['urn']}: parent {item['parent']} was not registered before it")
        for dep in item["dependencies"]:
            if dep not in sent:
                raise ValueError(f"registration {item['urn']}: dependency {dep} was not registered before it")
        sent.add(item["urn"])
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


COMPARED = (
    "type",
    "name",
    "custom",
    "parent",
    "provider",
    "version",
    "additional_secret_outputs",
    "inputs",
    "dependencies",
    "property_dependencies",
)


def differences(program: dict[str, Any], floor: dict[str, Any], limit: int = 10) -> list[str]:
    """How the floor's replay items differ from the program's (per URN, the fields of :data:`COMPARED`; the
    order aside): empty when the engine received the same registrations from both."""
    ours = {i["urn"]: i for i in program["resources"]}
    theirs = {i["urn"]: i for i in floor["resources"]}
    found = [f"{urn}: only the program registered it" for urn in sorted(ours.keys() - theirs.keys())]
    found += [f"{urn}: only the floor registered it" for urn in sorted(theirs.keys() - ours.keys())]
    for urn in sorted(ours.keys() & theirs.keys()):
        found += [f"{urn}: {key} differs" for key in COMPARED if ours[urn].get(key) != theirs[urn].get(key)]
    return found[:limit]


def explicit_providers(replay: dict[str, Any]) -> set[str]:
    """URNs of the providers the program registered itself (the others are the engine's defaults)."""
    return {i["urn"] for i in replay["resources"] if i["type"].startswith("pulumi:providers:")}
