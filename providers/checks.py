"""What every dynamic provider's ``check`` does: parse the props, report each problem by its path.

In a preview the engine sends inputs that are not known yet (a VM's UUID before it exists,
a kubeconfig before the cluster): the dynamic-provider host hands them over as
``pulumi.output.Unknown``. ``check`` validates everything that is known, passes the unknowns
through unchanged, and reports only problems that no unknown can explain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi.dynamic import CheckFailure, CheckResult
from pulumi.output import Unknown
from pydantic import ValidationError

Path = tuple[str | int, ...]


def unknown_paths(value: Any, path: Path = ()) -> list[Path]:
    """Where ``value`` holds values the engine does not know yet."""
    if isinstance(value, Unknown):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in unknown_paths(v, (*path, k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in unknown_paths(v, (*path, i))]
    return []


def has_unknowns(value: Any) -> bool:
    return bool(unknown_paths(value))


def _explained(loc: Path, unknown: list[Path]) -> bool:
    """A failure at ``loc`` may be an unknown's doing: it is at, under or above an unknown value.

    A failure of the model as a whole (empty ``loc``) is explained by any unknown: cross-field
    rules can only be judged once every field is known.
    """
    return any(loc[: len(u)] == u or u[: len(loc)] == loc for u in unknown)


def check_props(news: dict[str, Any], parse: Callable[[dict[str, Any]], object]) -> CheckResult:
    """Pulumi shows check failures per property before anything is created."""
    unknown = unknown_paths(news)
    try:
        parse(news)
    except ValidationError as error:
        failures = [
            CheckFailure(".".join(str(p) for p in e["loc"]) or "props", e["msg"])
            for e in error.errors()
            if not _explained(tuple(e["loc"]), unknown)
        ]
        return CheckResult(news, failures)
    return CheckResult(news, [])
