"""``python -m benchmarks.counting_host``: Pulumi's dynamic-provider host with counters, for the benchmarks only.

It is ``python -m pulumi.dynamic`` (run unchanged, by ``runpy``) after two things are wrapped from
outside, neither of which changes what a provider does:

* every ``providers.vcenter.connection.VCenterConnection`` made in the process is remembered, so the
  sum of their ``ConnectionStats`` (SOAP and REST round trips, logins) can be reported;
* each dynamic provider's ``create``/``update``/``diff``/``read``/``delete`` is timed, with the
  number of calls in flight at once (the host serves :data:`HOST_WORKERS` gRPC calls at a time).

The figures are written as JSON to ``$VK8S_BENCH_STATS/host-<pid>.json`` every
:data:`DUMP_INTERVAL` seconds while they change (the engine kills the host at the end of a run,
so there is no exit hook to rely on). :func:`launcher` is the ``pulumi-resource-pulumi-python``
script that the benchmark puts on the CLI's PATH in place of the project's own launcher.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import runpy
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STATS_ENV = "VK8S_BENCH_STATS"
DUMP_INTERVAL = 0.05
HOST_WORKERS = 4  # pulumi.dynamic's gRPC server: futures.ThreadPoolExecutor(max_workers=4)
PROVIDER_MODULES = (
    "providers.node_binding.provider",
    "providers.tag_attachment.provider",
    "providers.permission.provider",
    "providers.readiness.provider",
    "providers.node_join.provider",
)
TIMELINE = 3000  # calls kept in the timeline
METHODS = ("create", "update", "diff", "read", "delete", "check")


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections: list[Any] = []
        self.calls: dict[str, int] = {}
        self.call_seconds: dict[str, float] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_call: float | None = None
        self.last_return: float | None = None
        self.version = 0
        self.timeline: list[tuple[str, float, float]] = []  # (call, start since the first call, seconds)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            stats = [c.stats for c in self.connections]
            return {
                "pid": os.getpid(),
                "sessions": len(self.connections),
                "soap_calls": sum(s.soap_calls for s in stats),
                "rest_calls": sum(s.rest_calls for s in stats),
                "soap_logins": sum(s.soap_logins for s in stats),
                "rest_logins": sum(s.rest_logins for s in stats),
                "calls": dict(self.calls),
                "call_seconds": dict(self.call_seconds),
                "max_in_flight": self.max_in_flight,
                "busy_span_seconds": (self.last_return or 0.0) - (self.first_call or 0.0),
                "timeline": self.timeline[:TIMELINE],
            }


COUNTERS = Counters()


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        c = COUNTERS
        started = time.perf_counter()
        with c.lock:
            c.in_flight += 1
            c.max_in_flight = max(c.max_in_flight, c.in_flight)
            c.first_call = started if c.first_call is None else c.first_call
        try:
            return fn(*args, **kwargs)
        finally:
            ended = time.perf_counter()
            with c.lock:
                c.in_flight -= 1
                c.calls[name] = c.calls.get(name, 0) + 1
                c.call_seconds[name] = c.call_seconds.get(name, 0.0) + ended - started
                c.last_return = ended
                c.timeline.append((name, started - (c.first_call or started), ended - started))
                c.version += 1

    return wrapper


def install() -> None:
    """Wrap the connection class and the providers' methods (see the module docstring)."""
    from pulumi.dynamic import ResourceProvider

    from providers.vcenter import connection

    original_init = connection.VCenterConnection.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        with COUNTERS.lock:
            COUNTERS.connections.append(self)

    connection.VCenterConnection.__init__ = init  # type: ignore[method-assign]
    for module_name in PROVIDER_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, ResourceProvider) and value is not ResourceProvider:
                for method in METHODS:
                    if method in vars(value):
                        setattr(value, method, _timed(f"{value.__name__}.{method}", vars(value)[method]))


def _dump_forever(path: Path) -> None:
    written = -1
    while True:
        time.sleep(DUMP_INTERVAL)
        version = COUNTERS.version + sum(s.stats.round_trips for s in list(COUNTERS.connections))
        if version == written:
            continue
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(COUNTERS.snapshot()))
        tmp.replace(path)
        written = version


def launcher(python: Path, repo_root: Path) -> str:
    """The ``pulumi-resource-pulumi-python`` script that starts this host (the engine runs it in the program dir)."""
    return (
        "#!/bin/sh\n"
        "# Benchmarks only: the dynamic-provider host with counters (benchmarks/counting_host.py).\n"
        f'PYTHONPATH="{repo_root}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{python}" -u -m benchmarks.counting_host "$@"\n'
    )


def read_stats(directory: Path) -> list[dict[str, Any]]:
    """Every host's last figures in ``directory``."""
    return [json.loads(p.read_text()) for p in sorted(directory.glob("host-*.json"))]


def main() -> None:
    directory = Path(os.environ[STATS_ENV])
    directory.mkdir(parents=True, exist_ok=True)
    install()
    threading.Thread(target=_dump_forever, args=(directory / f"host-{os.getpid()}.json",), daemon=True).start()
    runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
