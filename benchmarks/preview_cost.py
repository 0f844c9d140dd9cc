"""Preview cost through the real engine: ``pulumi preview`` of a new N-node stack against the engine floor.

On one vcsim of the benchmarks' layout (3 regions, 9 zones; ``engine_world``), for each N:

1. a project copy with the :func:`~benchmarks.engine_world.bench_config` stack (a bootstrap-mode
   cluster of N nodes, the mocks benchmark's configuration on this vcsim), initialised with the real CLI;
2. ``pulumi preview`` of the real program under the recording wrapper (``registrations.recording_main``):
   every registration as the engine received it. This run is the program's first timed sample (the
   recorder's own cost, a write per registration, counts against the program);
3. a second project copy whose ``__main__.py`` is ``floor_program.py`` with the replay of that recording,
   previewed right after, under the same recording wrapper (so both first samples pay for it): the
   floor's recording must match the program's registration for registration (type, name, parent,
   provider, inputs, dependencies; :func:`~benchmarks.registrations.differences`), or the run fails;
4. with ``repeats`` > 1, more program/floor pairs, without the recorder; the best of each side is
   kept. Every preview is watched for wall time, peak RSS and CPU time per process role
   (``proctree``).

With ``skip_checkpoints``, both previews run with ``PULUMI_SKIP_CHECKPOINTS=true``: this engine
(the toolchain's pulumi v3.274.1, file backend) keeps a snapshot manager even in a preview, whose
writes it discards, and serializes and checks the whole snapshot after every step (O(N) a step,
O(N^2) a preview; most of the engine's CPU at 100 nodes). The variable makes it save only at the
end, which for a preview, which saves nothing, changes nothing else.

Both previews run the same CLI, language host, plugins (the stand-in vSphere/TLS/random plugins, the
real Kubernetes plugin) and dynamic-provider host on the same simulator; both must plan the same
number of creates. Importing does no I/O.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .proctree import TreeRun, run_watched

CREATES = re.compile(r"\+ (\d+) to create")
ROLES = ("engine", "program", "dynamic provider host", "language host")


@dataclass(frozen=True)
class PreviewFigures:
    nodes: int
    resources: int  # registrations the program made (the stack itself not counted)
    program_seconds: float
    floor_seconds: float
    creates: int  # creates both previews planned
    program_rss_mib: dict[str, float] = field(default_factory=dict)  # role -> peak RSS, the program's preview
    floor_rss_mib: dict[str, float] = field(default_factory=dict)
    program_cpu_s: dict[str, float] = field(default_factory=dict)  # role -> CPU seconds, the program's preview
    floor_cpu_s: dict[str, float] = field(default_factory=dict)
    skip_checkpoints: bool = False  # both previews ran with PULUMI_SKIP_CHECKPOINTS=true

    @property
    def ratio(self) -> float:
        return self.program_seconds / self.floor_seconds if self.floor_seconds else float("inf")


def creates_of(output: str) -> int:
    """The number of creates a non-JSON preview summary reports."""
    found = CREATES.findall(output)
    if not found:
        raise ValueError(f"no '+ N to create' in the preview's output:\n{output[-2000:]}")
    return int(found[-1])


def _preview(cli: Any, timeout: float) -> TreeRun:
    run = run_watched(["pulumi", "preview", "--non-interactive"], cwd=cli.project, env=cli.env, timeout=timeout)
    cli.log_path.parent.mkdir(parents=True, exist_ok=True)
    with cli.log_path.open("a") as log:
        log.write(f"$ pulumi preview  (exit {run.returncode}, {run.seconds:.1f} s)\n{run.stdout}\n{run.stderr}\n")
    if run.returncode != 0:
        raise RuntimeError(
            f"pulumi preview in {cli.project} exited {run.returncode}:\n{run.stdout[-4000:]}\n{run.stderr[-3000:]}"
        )
    return run


def _swap_main(project: Path, text: str) -> None:
    main = project / "__main__.py"
    if main.is_symlink() or main.exists():
        main.unlink()
    main.write_text(text)


SKIP_CHECKPOINTS = {"PULUMI_SKIP_CHECKPOINTS": "true"}


def measure(
    sim_target: Any,
    workdir: Path,
    nodes: int,
    *,
    repeats: int = 1,
    timeout: float = 3600.0,
    skip_checkpoints: bool = False,
) -> PreviewFigures:
    """Program and floor previews of an N-node stack on ``sim_target`` (see the module docstring)."""
    from toolchain.manifest import REPO_ROOT

    from .engine_world import bench_config, open_project
    from .registrations import differences, read_records, recording_main, replay_items

    shutil.rmtree(workdir, ignore_errors=True)
    raw = bench_config(nodes, sim_target.port)
    program = open_project(workdir / "program", raw, sim_target)
    floor = open_project(workdir / "floor", raw, sim_target)
    for cli in (program, floor):
        for key in SKIP_CHECKPOINTS:
            cli.env.pop(key, None)  # neither side inherits it from the caller's environment
        if skip_checkpoints:
            cli.env.update(SKIP_CHECKPOINTS)

    record = workdir / "registrations.bin"
    _swap_main(program.project, recording_main(REPO_ROOT, record))
    first = _preview(program, timeout)  # recorded; timed too (the recorder's cost counts against the program)
    (program.project / "__main__.py").unlink()
    (program.project / "__main__.py").symlink_to(REPO_ROOT / "__main__.py")
    replay = replay_items(read_records(record.read_bytes()))
    (floor.project / "replay.json").write_text(json.dumps(replay))
    floor_main = (Path(__file__).with_name("floor_program.py")).read_text()
    (floor.project / "floor_program.py").write_text(floor_main)
    floor_record = workdir / "floor-registrations.bin"
    _swap_main(floor.project, recording_main(REPO_ROOT, floor_record, floor.project / "floor_program.py"))
    first_floor = _preview(floor, timeout)
    unlike = differences(replay, replay_items(read_records(floor_record.read_bytes())))
    if unlike:
        raise RuntimeError(f"{nodes} nodes: the floor's registrations differ from the program's:\n" + "\n".join(unlike))
    _swap_main(floor.project, floor_main)

    best_program: TreeRun | None = first
    best_floor: TreeRun | None = first_floor
    for _ in range(max(1, repeats) - 1):
        p = _preview(program, timeout)
        f = _preview(floor, timeout)
        if best_program is None or p.seconds < best_program.seconds:
            best_program = p
        if best_floor is None or f.seconds < best_floor.seconds:
            best_floor = f
    assert best_program is not None and best_floor is not None
    program_creates, floor_creates = creates_of(best_program.stdout), creates_of(best_floor.stdout)
    if program_creates != floor_creates:
        raise RuntimeError(f"{nodes} nodes: the program plans {program_creates} creates, the floor {floor_creates}")
    return PreviewFigures(
        nodes=nodes,
        resources=len(replay["resources"]),
        program_seconds=best_program.seconds,
        floor_seconds=best_floor.seconds,
        creates=program_creates,
        program_rss_mib=best_program.peak_rss_mib,
        floor_rss_mib=best_floor.peak_rss_mib,
        program_cpu_s=best_program.cpu_seconds,
        floor_cpu_s=best_floor.cpu_seconds,
        skip_checkpoints=skip_checkpoints,
    )


def run(
    sizes: Sequence[int],
    workdir: Path,
    *,
    repeats: int = 1,
    skip_checkpoints: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[PreviewFigures]:
    """One vcsim for every size; each size measured as :func:`measure` says."""
    from .engine_world import bench_vcsim, prepare_templates

    sim = bench_vcsim(workdir / "vcsim")
    (workdir / "vcsim").mkdir(parents=True, exist_ok=True)
    target = sim.start(timeout=120)
    try:
        prepare_templates(target)
        figures = []
        for n in sizes:
            if progress:
                progress(f"preview: {n} nodes (record, then program and floor side by side)")
            figures.append(
                measure(target, workdir / f"preview-{n}", n, repeats=repeats, skip_checkpoints=skip_checkpoints)
            )
        return figures
    finally:
        sim.stop()
