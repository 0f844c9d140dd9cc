"""What every dynamic provider's ``check`` does: parse the props, report each problem by its path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi.dynamic import CheckFailure, CheckResult
from pydantic import ValidationError


def check_props(news: dict[str, Any], parse: Callable[[dict[str, Any]], object]) -> CheckResult:
    """Pulumi shows check failures per property before anything is created."""
    try:
        parse(news)
    except ValidationError as error:
        failures = [CheckFailure(".".join(str(p) for p in e["loc"]) or "props", e["msg"]) for e in error.errors()]
        return CheckResult(news, failures)
    return CheckResult(news, [])
