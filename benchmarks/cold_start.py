"""Cold start: the toolchain build, warm (timed here) and cold (only what the cache's build logs tell).

* **warm**: ``scripts/toolchain.sh`` with every tool cached (what every later run and CI pays).
* **cold**: the benchmark never rebuilds (half an hour of Go builds on 2 cores). ``toolchain.build``
  appends each finished build's wall time to ``<cache>/build-durations.jsonl``; a cold build into an
  empty cache and an empty Go build cache, e.g.
  ``VK8S_TOOLCHAIN_CACHE=/tmp/cold GOCACHE=/tmp/cold-go nice -n 19 scripts/toolchain.sh``, is then
  reported per tool by ``python -m benchmarks.cold_start /tmp/cold``. Caches built before the record
  existed only have one log per build, opened when it starts (``<cache>/logs/<build key>.log``): their
  times are reported for what they are, the span of every build since the cache was made.

Importing does no I/O.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ColdFigures:
    warm_seconds: float
    logs: int  # build logs in the cache
    logged_span_seconds: float | None  # first to last build log (every build since the cache was made)
    first_log: str | None
    last_log: str | None
    durations: list[dict[str, object]] = field(default_factory=list)  # toolchain.build's record, oldest first


def log_span(logs: list[tuple[str, float]]) -> tuple[float | None, str | None, str | None]:
    """(last - first modification time, first name, last name) of (name, mtime) pairs; Nones if empty."""
    if not logs:
        return None, None, None
    ordered = sorted(logs, key=lambda x: x[1])
    return ordered[-1][1] - ordered[0][1], ordered[0][0], ordered[-1][0]


def measure(progress: Callable[[str], None] | None = None) -> ColdFigures:
    from toolchain.build import read_durations
    from toolchain.manifest import REPO_ROOT, cache_root

    if progress:
        progress("cold start: scripts/toolchain.sh with everything cached")
    started = time.perf_counter()
    subprocess.run([str(REPO_ROOT / "scripts" / "toolchain.sh")], cwd=REPO_ROOT, check=True, capture_output=True)
    warm = time.perf_counter() - started
    logs = [(p.name, p.stat().st_mtime) for p in (cache_root() / "logs").glob("*.log")]
    span, first, last = log_span(logs)
    return ColdFigures(warm, len(logs), span, first, last, read_durations(cache_root()))


def durations_report(durations: list[dict[str, object]]) -> str:
    """One line per recorded build and their sum (the cold build, when the cache started empty)."""
    total = sum(float(str(d["seconds"])) for d in durations)
    cpu = [float(str(d["cpu_seconds"])) for d in durations if "cpu_seconds" in d]

    def line(d: dict[str, object]) -> str:
        used = f", {float(str(d['cpu_seconds'])):.0f} CPU s" if "cpu_seconds" in d else ""
        return f"  {d['tool']} {d['version']}: {float(str(d['seconds'])):.0f} s{used}"

    lines = [line(d) for d in durations]
    lines.append(f"  sum: {total:.0f} s ({total / 60:.1f} min) over {len(durations)} builds")
    if cpu:
        lines.append(f"  CPU: {sum(cpu):.0f} s ({sum(cpu) / 60:.1f} min) over the {len(cpu)} builds that record it")
    return "\n".join(lines)


def report(f: ColdFigures) -> str:
    lines = [f"Toolchain warm (scripts/toolchain.sh, all cached): {f.warm_seconds:.2f} s"]
    if f.durations:
        lines.append("Toolchain builds recorded in the cache (toolchain.build, build-durations.jsonl):")
        lines.append(durations_report(f.durations))
    elif f.logged_span_seconds is None:
        lines.append("Toolchain cold: not measured (no build logs in the cache)")
    else:
        lines.append(
            f"Toolchain cold: not measured (never rebuilt here; the build keeps no durations). The cache's {f.logs} "
            f"build logs span {f.logged_span_seconds / 60:.0f} min ({f.first_log} .. {f.last_log}), every build "
            "since the cache was made, rebuilds included: not a cold build's duration"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    from toolchain.build import read_durations

    if len(sys.argv) != 2:
        print("usage: python -m benchmarks.cold_start CACHE_DIR   (per-tool build times recorded there)")
        raise SystemExit(2)
    recorded = read_durations(Path(sys.argv[1]))
    print(durations_report(recorded) if recorded else f"no builds recorded in {sys.argv[1]}")
