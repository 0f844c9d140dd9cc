"""The floor of ``pulumi up`` on this machine: what any program pays, through the same CLI and plugins.

``python -m benchmarks.up_floor 0 1 500 [--skip-checkpoints] [--parallel P]``: for each N, a fresh
project of :mod:`benchmarks.trivial_program` (N dynamic resources whose ``create`` only notes the time)
and a fresh file-backend stack; ``pulumi up --yes --skip-preview`` timed from the outside. N = 0 is the
CLI, the language host and an empty program; N = 1 adds the dynamic-provider host; a large N gives the
engine's rate of create steps when the provider costs nothing. From the creates' times: start-up (the
command's start to the first ``create``), the creates' span (first to last) and steps per second; from
``proctree``, the CPU seconds of each process role (less sensitive to a loaded machine than wall time).
No world (vcsim, API server) is needed. Importing does no I/O.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .report import table
from .trivial_program import MAIN

CPU_ROLES = ("engine", "program", "language host", "dynamic provider host")


@dataclass(frozen=True)
class UpFloor:
    resources: int
    skip_checkpoints: bool
    parallel: int | None
    seconds: float  # the whole `pulumi up` command
    to_first_create: float | None  # command start to the first create (None without resources)
    creates_span: float | None  # first to last create
    after_last_create: float | None  # last create to the command's exit
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # process role -> user + system CPU

    @property
    def creates_per_second(self) -> float | None:
        if not self.creates_span or self.resources < 2:
            return None
        return (self.resources - 1) / self.creates_span


def create_times(log: Path) -> list[float]:
    """The times the provider's creates noted, in order; [] if none ran."""
    if not log.is_file():
        return []
    return sorted(float(x) for x in log.read_text().split())


def measure(workdir: Path, count: int, *, skip_checkpoints: bool = False, parallel: int | None = None) -> UpFloor:
    from tests.support.world.pulumi_cli import PulumiCli
    from toolchain.manifest import REPO_ROOT

    from .proctree import run_watched

    shutil.rmtree(workdir, ignore_errors=True)
    project = workdir / "project"
    project.mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(
        "name: up-floor\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: .venv\n"
    )
    (project / ".venv").symlink_to(REPO_ROOT / ".venv")
    (project / "benchmarks").symlink_to(REPO_ROOT / "benchmarks")
    (project / "__main__.py").write_text(MAIN)
    log = workdir / "creates.log"
    (project / "trivial.json").write_text(json.dumps({"count": count, "log": str(log)}))
    cli = PulumiCli(project, workdir, timeout=3600.0)
    cli.run("stack", "init", "floor")
    env = dict(cli.env)
    env.pop("PULUMI_SKIP_CHECKPOINTS", None)
    if skip_checkpoints:
        env["PULUMI_SKIP_CHECKPOINTS"] = "true"
    args = ["pulumi", "up", "--yes", "--skip-preview", "--non-interactive"]
    if parallel:
        args += ["--parallel", str(parallel)]
    started_wall = time.time()
    proc = run_watched(args, cwd=project, env=env, timeout=3600.0)
    seconds = proc.seconds
    ended_wall = started_wall + seconds
    (workdir / "up.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"pulumi up of {count} trivial resources exited {proc.returncode}:\n{proc.stdout[-3000:]}")
    times = create_times(log)
    if len(times) != count:
        raise RuntimeError(f"{count} trivial resources but {len(times)} creates noted in {log}")
    return UpFloor(
        resources=count,
        skip_checkpoints=skip_checkpoints,
        parallel=parallel,
        seconds=seconds,
        to_first_create=times[0] - started_wall if times else None,
        creates_span=times[-1] - times[0] if times else None,
        after_last_create=ended_wall - times[-1] if times else None,
        cpu_seconds=proc.cpu_seconds,
    )


def report(figures: Sequence[UpFloor]) -> str:
    def fmt(x: float | None) -> str | float:
        return "-" if x is None else x

    rows = [
        [
            f.resources,
            "skip" if f.skip_checkpoints else "default",
            f.parallel or "default",
            f.seconds,
            fmt(f.to_first_create),
            fmt(f.creates_span),
            fmt(f.after_last_create),
            fmt(f.creates_per_second),
            sum(f.cpu_seconds.values()),
            " / ".join(f"{f.cpu_seconds.get(r, 0.0):.1f}" for r in CPU_ROLES),
        ]
        for f in figures
    ]
    headers = [
        "resources",
        "checkpoints",
        "--parallel",
        "up s",
        "to 1st create s",
        "creates span s",
        "after last s",
        "creates/s",
        "CPU s",
        "engine / program / lang host / dyn host CPU s",
    ]
    return "pulumi up of N dynamic resources whose create does nothing (the engine's floor)\n\n" + table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.up_floor", description=__doc__.split("\n")[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[0, 1, 500])
    parser.add_argument("--skip-checkpoints", action="store_true", help="PULUMI_SKIP_CHECKPOINTS=true")
    parser.add_argument("--parallel", type=int, help="pulumi up --parallel (default: the CLI's)")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-up-floor-"))
    figures = []
    for n in args.sizes:
        print(f"[bench] up floor: {n} trivial resources", file=sys.stderr, flush=True)
        figures.append(measure(workdir / f"up-{n}", n, skip_checkpoints=args.skip_checkpoints, parallel=args.parallel))
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
