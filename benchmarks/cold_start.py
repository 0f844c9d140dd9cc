"""Cold start: the toolchain build, warm (timed here) and cold (only what the cache's build logs tell).

* **warm**: ``scripts/toolchain.sh`` with every tool cached (what every later run and CI pays).
* **cold**: not measured: the benchmark never rebuilds (half an hour of Go builds on 2 cores), and
  ``toolchain.build`` keeps no durations, only one log per build opened when it starts
  (``<cache>/logs/<build key>.log``). The logs' times are reported for what they are: the span of
  every build since the cache was made, later rebuilds of single tools included.

Importing does no I/O.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ColdFigures:
    warm_seconds: float
    logs: int  # build logs in the cache
    logged_span_seconds: float | None  # first to last build log (every build since the cache was made)
    first_log: str | None
    last_log: str | None


def log_span(logs: list[tuple[str, float]]) -> tuple[float | None, str | None, str | None]:
    """(last - first modification time, first name, last name) of (name, mtime) pairs; Nones if empty."""
    if not logs:
        return None, None, None
    ordered = sorted(logs, key=lambda x: x[1])
    return ordered[-1][1] - ordered[0][1], ordered[0][0], ordered[-1][0]


def measure(progress: Callable[[str], None] | None = None) -> ColdFigures:
    from toolchain.manifest import REPO_ROOT, cache_root

    if progress:
        progress("cold start: scripts/toolchain.sh with everything cached")
    started = time.perf_counter()
    subprocess.run([str(REPO_ROOT / "scripts" / "toolchain.sh")], cwd=REPO_ROOT, check=True, capture_output=True)
    warm = time.perf_counter() - started
    logs = [(p.name, p.stat().st_mtime) for p in (cache_root() / "logs").glob("*.log")]
    span, first, last = log_span(logs)
    return ColdFigures(warm, len(logs), span, first, last)


def report(f: ColdFigures) -> str:
    lines = [f"Toolchain warm (scripts/toolchain.sh, all cached): {f.warm_seconds:.2f} s"]
    if f.logged_span_seconds is None:
        lines.append("Toolchain cold: not measured (no build logs in the cache)")
    else:
        lines.append(
            f"Toolchain cold: not measured (never rebuilt here; the build keeps no durations). The cache's {f.logs} "
            f"build logs span {f.logged_span_seconds / 60:.0f} min ({f.first_log} .. {f.last_log}), every build "
            "since the cache was made, rebuilds included: not a cold build's duration"
        )
    return "\n".join(lines)
