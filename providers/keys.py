"""The property key sets every dynamic provider declares, and the one way its diff reaches the engine.

Each provider's ``plan.py`` holds one ``KEYS``: which properties stay secret in state, which are
outputs the provider reports (never inputs), and which replace the resource when they change.
Its pure ``diff`` lists the changed keys through :meth:`Keys.diff`; the provider hands the
result to the engine with :meth:`Diff.result`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.dynamic import DiffResult


@dataclass(frozen=True)
class Diff:
    """What changed between state and the program's inputs, and which of the changes replace."""

    changes: tuple[str, ...]
    replaces: tuple[str, ...]
    delete_before_replace: bool = True

    def result(self) -> DiffResult:
        return DiffResult(
            changes=bool(self.changes),
            replaces=list(self.replaces),
            stables=[],
            delete_before_replace=self.delete_before_replace,
        )


@dataclass(frozen=True)
class Keys:
    secret: tuple[str, ...] = ()  # kept secret in state (additional_secret_outputs)
    outputs: tuple[str, ...] = ()  # reported by the provider; never compared as inputs
    replace: tuple[str, ...] = ()  # a change here makes another resource: replace, never update
    # False where the old and the new resource may coexist (nothing in vCenter or the cluster to release).
    delete_before_replace: bool = True

    def inputs_of(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """``props`` without the outputs: what the program passed."""
        return {k: v for k, v in props.items() if k not in self.outputs}

    def diff(self, changes: Iterable[str]) -> Diff:
        changed = tuple(changes)
        return Diff(changed, tuple(k for k in changed if k in self.replace), self.delete_before_replace)
