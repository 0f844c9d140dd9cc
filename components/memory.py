"""What the stack's last run recorded: the program reads its own stack's outputs.

A program has no access to its state, but a StackReference to its own stack returns the
outputs of the last run, known in preview as in up. The node slots' names and generations
(``nodeSlots``) come back this way, so names stay stable and a roll is planned against what runs.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

SELF_REFERENCE = "self"


def previous_output(key: str) -> Any:
    """The value of output ``key`` of this stack's last run (None on a new stack or without it).

    Read synchronously: node names are plain strings the whole program uses."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    ref = pulumi.StackReference(SELF_REFERENCE, stack)
    outputs = _sync_await(ref.outputs.future())  # None under the SDK's mocks (offline, unit tests)
    return (outputs or {}).get(key)
