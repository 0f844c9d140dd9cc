"""STAND-IN for pulumi-resource-random 4.21.4 (a test double, not the real plugin).

The real plugin cannot be built here, so this one serves the two resources the
program uses, RandomString and RandomPassword, with the real schema's names,
defaults and rules: every argument forces a new value (the Terraform provider
marks them all RequiresReplace), the result is a secret for a password (and its
bcrypt hash, which this stand-in leaves empty: bcrypt is not a dependency), a
string's id is its result and a password's id is ``none``. Values come from
:mod:`secrets`, with the minimum counts honoured as the real generator does.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Any, ClassVar

from . import schema as sch
from .schema import Field, Schema
from .server import Provider, StateOnlyResource, serve

VERSION = "4.21.4"
DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"  # the real provider's special characters

_ARGS: dict[str, Field] = {
    "length": Field("int", required=True, force_new=True),
    "keepers": Field("map", force_new=True),
    "upper": Field("bool", default=True, force_new=True),
    "lower": Field("bool", default=True, force_new=True),
    "numeric": Field("bool", default=True, force_new=True),
    "number": Field("bool", default=True, force_new=True),  # deprecated alias of numeric
    "special": Field("bool", default=True, force_new=True),
    "minUpper": Field("int", default=0, force_new=True),
    "minLower": Field("int", default=0, force_new=True),
    "minNumeric": Field("int", default=0, force_new=True),
    "minSpecial": Field("int", default=0, force_new=True),
    "overrideSpecial": Field("str", force_new=True),
    "result": Field("str", output=True),
}


def _validate(inputs: Mapping[str, Any]) -> list[sch.Failure]:
    length = inputs.get("length")
    if not isinstance(length, int):
        return []
    values = [inputs.get(k) for k in ("minUpper", "minLower", "minNumeric", "minSpecial")]
    if not all(v is None or isinstance(v, int) for v in values):
        return []  # a minimum is still unknown: the real check waits for it too
    mins = sum(v or 0 for v in values)
    if length < 1:
        return [sch.Failure("length", "Attribute length value must be at least 1")]
    if length < mins:
        return [sch.Failure("length", f"Attribute length value must be at least sum of min_* ({mins}), got: {length}")]
    return []


def generate(inputs: Mapping[str, Any]) -> str:
    """A random string over the enabled classes, with at least min_* of each, shuffled."""
    numeric = inputs.get("numeric", True) and inputs.get("number", True)
    specials = inputs.get("overrideSpecial") or DEFAULT_SPECIAL
    classes = [
        (bool(inputs.get("upper", True)), string.ascii_uppercase, int(inputs.get("minUpper") or 0)),
        (bool(inputs.get("lower", True)), string.ascii_lowercase, int(inputs.get("minLower") or 0)),
        (bool(numeric), string.digits, int(inputs.get("minNumeric") or 0)),
        (bool(inputs.get("special", True)), specials, int(inputs.get("minSpecial") or 0)),
    ]
    chars: list[str] = []
    alphabet = ""
    for enabled, letters, minimum in classes:
        chars += [secrets.choice(letters) for _ in range(minimum)]
        if enabled:
            alphabet += letters
    length = int(inputs["length"])
    if not alphabet and len(chars) < length:
        raise ValueError("no character class is enabled")
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    rng = secrets.SystemRandom()
    rng.shuffle(chars)
    return "".join(chars)


class RandomString(StateOnlyResource):  # every argument replaces: update never runs
    pulumi_type = "random:index/randomString:RandomString"
    schema: ClassVar[Schema] = _ARGS

    def validate(self, inputs: Mapping[str, Any]) -> list[sch.Failure]:
        return _validate(inputs)

    def _id(self, result: str) -> str:
        return result

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        result = generate(inputs)
        return self._id(result), {**inputs, "result": result}


class RandomPassword(RandomString):
    pulumi_type = "random:index/randomPassword:RandomPassword"
    schema: ClassVar[Schema] = {
        **_ARGS,
        "result": Field("str", output=True, secret=True),
        "bcryptHash": Field("str", output=True, secret=True),
    }

    def _id(self, result: str) -> str:
        return "none"

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        resource_id, outs = super().create(inputs, timeout)
        return resource_id, {**outs, "bcryptHash": ""}


def provider() -> Provider:
    return Provider("random", VERSION, [RandomString, RandomPassword])


if __name__ == "__main__":
    serve(provider())
