"""What the stack's last run recorded: the program reads its own stack's outputs.

A program has no access to its state, but the engine's built-in ``pulumi:pulumi:readStackOutputs``
function (what a StackReference reads through) returns a stack's outputs of its last run, in
preview as in up. It is a function call, not a resource: a StackReference to the stack itself would
lag one run behind its own outputs, so every `pulumi refresh --expect-no-changes` after an `up`
that changed them would report a change. The node slots' names and generations (``nodeSlots``)
come back this way, so names stay stable and a roll is planned against what runs.
"""

from __future__ import annotations

import time
from typing import Any

import pulumi

READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
# The file backend answers "failed to load checkpoint" while the engine is writing the checkpoint
# (it does at the run's first steps): a read in that moment is tried again, bounded.
_TRANSIENT = "failed to load checkpoint"
ATTEMPTS, PAUSE = 10, 0.5


def previous_output(key: str) -> Any:
    """The value of output ``key`` of this stack's last run (None on a new stack or without it).

    Read synchronously (``invoke`` waits for its answer): node names are plain strings the whole
    program uses."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            answer = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": stack})
            break
        except Exception as e:  # the SDK raises a bare Exception for a failed invoke
            if _TRANSIENT not in str(e) or attempt == ATTEMPTS:
                raise
            time.sleep(PAUSE)
    outputs = (answer.value or {}).get("outputs") if answer is not None else None  # {} under the SDK's mocks
    return (outputs or {}).get(key)
