"""Point the Pulumi runtime at the mocks and run a program to completion, with fewer GC passes."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from .recording import Recording, RecordingMonitor
from .vsphere_fakes import VSphereMocks


def configure(
    config: Mapping[str, Any],
    *,
    project: str,
    stack: str,
    secret_keys: set[str] = frozenset(),  # type: ignore[assignment]
    mocks: VSphereMocks | None = None,
) -> tuple[VSphereMocks, RecordingMonitor]:
    """Point the Pulumi runtime at fresh mocks with ``config`` (top-level keys, no namespace)."""
    import json

    mocks = mocks or VSphereMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    flat = {f"{project}:{k}": (v if isinstance(v, str) else json.dumps(v)) for k, v in config.items()}
    pulumi.runtime.set_all_config(flat, [f"{project}:{k}" for k in secret_keys])
    return mocks, monitor


def run(program: Callable[[], None], monitor: RecordingMonitor, mocks: VSphereMocks) -> Recording:
    """Run ``program`` to completion under the configured mocks."""
    from pulumi.runtime.settings import SETTINGS
    from pulumi.runtime.stack import run_pulumi_func

    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    with fewer_collections():
        _sync_await(run_pulumi_func(program))
    return Recording(dict(monitor.registrations), dict(monitor.stack_outputs), list(mocks.invoke_log))


# The SDK allocates a few thousand futures, tasks and outputs per resource, most of them
# long-lived until the run ends: with the default thresholds (700, 10, 10) the collector
# walks that growing heap again and again, and a 1000-node plan spent more time in the
# cyclic GC than in anything else (benchmarks/README.md). Collect far less often during a run.
RUN_GC_THRESHOLDS = (50_000, 50, 100)


@contextlib.contextmanager
def fewer_collections(thresholds: tuple[int, int, int] = RUN_GC_THRESHOLDS) -> Iterator[None]:
    """Raise the GC thresholds (never lower them) for the duration of a run; restore them after."""
    before = gc.get_threshold()
    gc.set_threshold(*(max(new, old) for new, old in zip(thresholds, before, strict=False)))
    try:
        yield
    finally:
        gc.set_threshold(*before)
