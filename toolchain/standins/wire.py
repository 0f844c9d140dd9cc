"""Property values on the wire, for the stand-in provider plugins (test doubles of the real ones).

The engine sends and expects ``google.protobuf.Struct`` values in which a secret is
an object tagged with the secret signature and an unknown (a preview value not yet
computed) is a sentinel string. Resource code here works on plain Python values
with two markers, :data:`UNKNOWN` and :class:`Secret`, so that a provider can pass
unknowns through Check and keep secrets secret without knowing the encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from google.protobuf import struct_pb2  # type: ignore[import-untyped]  # no stubs in the venv

# The signatures the Pulumi SDKs and engine agree on (sdk/go/common/resource/sig).
SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a signature, not a password
RESOURCE_SIG: Final = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG: Final = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN_SENTINEL: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class _Unknown:
    """A value the engine does not know yet (preview). One instance, compared by identity."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


@dataclass(frozen=True)
class Secret:
    """A value the engine must keep encrypted in state and masked in output."""

    value: Any

    def __repr__(self) -> str:
        return "Secret(***)"  # never show the value, even in a traceback


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def contains_unknown(value: Any) -> bool:
    """True when the value, or anything inside it, is unknown."""
    if value is UNKNOWN:
        return True
    if isinstance(value, Secret):
        return contains_unknown(value.value)
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def reveal(value: Any) -> Any:
    """The value with every secret marker taken off (unknowns stay)."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, Mapping):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, Secret)


def rewrap(output: Any, given: Any) -> Any:
    """``output`` with the secret markers of ``given`` (the inputs it came from) put back.

    An output is secret where its input was: a secret top-level input makes the
    whole output secret; inside objects and lists of the same shape the markers
    are carried element by element (a secret user name inside a permission).
    """
    if isinstance(given, Secret):
        return output if isinstance(output, Secret) else Secret(reveal(output))
    if isinstance(given, Mapping) and isinstance(output, Mapping):
        return {k: rewrap(v, given.get(k)) for k, v in output.items()}
    if isinstance(given, list) and isinstance(output, list) and len(given) == len(output):
        return [rewrap(o, g) for o, g in zip(output, given, strict=True)]
    return output


# --- Struct <-> Python -----------------------------------------------------------------------


def _from_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        # Struct has only doubles; the schemas here use integers far below 2**53.
        return int(number) if number.is_integer() else number
    if kind == "string_value":
        return UNKNOWN if value.string_value == UNKNOWN_SENTINEL else value.string_value
    if kind == "list_value":
        return [_from_value(v) for v in value.list_value.values]
    return _from_fields(value.struct_value.fields)


def _from_fields(fields: Mapping[str, struct_pb2.Value]) -> Any:
    sig = fields.get(SIG_KEY)
    if sig is not None and sig.WhichOneof("kind") == "string_value":
        tag = sig.string_value
        if tag == SECRET_SIG:
            inner = fields.get("value")
            return Secret(_from_value(inner) if inner is not None else None)
        if tag == RESOURCE_SIG:
            # Only sent when a provider accepts resources (these do not): fall back to id, then URN.
            ref_id = fields.get("id")
            if ref_id is not None:
                found = _from_value(ref_id)
                return UNKNOWN if found in ("", None) else found
            urn = fields.get("urn")
            return _from_value(urn) if urn is not None else None
        if tag == OUTPUT_SIG:
            known = fields.get("value")
            inner_value = _from_value(known) if known is not None else UNKNOWN
            secret = fields.get("secret")
            return Secret(inner_value) if secret is not None and secret.bool_value else inner_value
    return {k: _from_value(v) for k, v in fields.items()}


def unmarshal(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    """A request's properties as plain values with UNKNOWN and Secret markers."""
    if struct is None:
        return {}
    result = _from_fields(struct.fields)
    return result if isinstance(result, dict) else {}


def _to_value(value: Any, out: struct_pb2.Value, keep_secrets: bool) -> None:
    if value is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif value is UNKNOWN:
        out.string_value = UNKNOWN_SENTINEL
    elif isinstance(value, Secret):
        if keep_secrets:
            fields = out.struct_value.fields
            fields[SIG_KEY].string_value = SECRET_SIG
            _to_value(value.value, fields["value"], keep_secrets)
        else:
            _to_value(value.value, out, keep_secrets)
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int | float):
        out.number_value = float(value)
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, Mapping):
        out.struct_value.SetInParent()
        for k, v in value.items():
            _to_value(v, out.struct_value.fields[str(k)], keep_secrets)
    elif isinstance(value, list | tuple):
        out.list_value.SetInParent()
        for v in value:
            _to_value(v, out.list_value.values.add(), keep_secrets)
    else:
        raise TypeError(f"cannot send a {type(value).__name__} to the engine")


def marshal(props: Mapping[str, Any], keep_secrets: bool = True) -> struct_pb2.Struct:
    """Plain values (with markers) as a Struct; secrets stay tagged unless the engine cannot take them."""
    struct = struct_pb2.Struct()
    for key, value in props.items():
        _to_value(value, struct.fields[key], keep_secrets)
    return struct
