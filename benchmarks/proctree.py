"""Run a Pulumi CLI command and watch its process tree: wall time, peak RSS and CPU time per role.

Peak RSS is each process's ``VmHWM`` (the kernel's high-water mark of its resident set), read
from ``/proc/<pid>/status`` every :data:`INTERVAL` seconds while the command runs; a process is
counted at its last reading, so growth in its final interval is missed (the figures are lower
bounds). Roles come from command lines (:func:`role_of`, pure): the engine (the ``pulumi`` CLI),
the language host, the program (the SDK's exec script under Python), the dynamic-provider host
(``python -m pulumi.dynamic``) and each resource plugin. CPU time is each process's user + system
time (``/proc/<pid>/stat``) at its last reading, summed per role (also a lower bound).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

INTERVAL = 0.1


def role_of(argv: Sequence[str]) -> str:
    """What a process of a Pulumi run is, from its argv."""
    if not argv:
        return "other"
    exe = os.path.basename(argv[0])
    args = list(argv[1:])
    if exe == "pulumi":
        return "engine"
    if exe == "pulumi-language-python":
        return "language host"
    if exe.startswith("pulumi-resource-"):
        return "plugin " + exe.removeprefix("pulumi-resource-")
    if exe.startswith("python") or exe.endswith("/python"):
        if any(os.path.basename(a) == "pulumi-language-python-exec" for a in args):
            return "program"
        if "-m" in args:
            module = args[args.index("-m") + 1] if args.index("-m") + 1 < len(args) else ""
            if module == "pulumi.dynamic":
                return "dynamic provider host"
            if module.startswith("toolchain.standins."):
                return "plugin " + module.rsplit(".", 1)[1] + " (stand-in)"
    if exe in ("sh", "bash", "dash"):
        return "shell"
    return "other"


@dataclass
class TreeRun:
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    peak_rss_mib: dict[str, float] = field(default_factory=dict)  # role -> largest VmHWM among its processes
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # role -> user + system CPU of its processes


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(root: int) -> list[int]:
    tree = _children()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(tree.get(pid, []))
    return out


def _hwm_kib(pid: int) -> tuple[list[str], int] | None:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return [a.decode(errors="replace") for a in argv if a], int(line.split()[1])
    return None


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_of_stat(stat: str) -> float:
    """User + system CPU seconds from a ``/proc/<pid>/stat`` line (fields 14 and 15, after the command)."""
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _cpu_s(pid: int) -> float | None:
    try:
        return cpu_of_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, IndexError, ValueError):
        return None


def run_watched(args: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float) -> TreeRun:
    """Run ``args``; its wall time, output and each role's peak RSS (see the module docstring)."""
    peaks: dict[int, tuple[str, int]] = {}
    cpu: dict[int, float] = {}  # pid -> CPU seconds at its last sample
    done = threading.Event()
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )

    def watch() -> None:
        while not done.is_set():
            for pid in _descendants(proc.pid):
                seen = _hwm_kib(pid)
                if seen is None:
                    continue
                argv, hwm = seen
                old = peaks.get(pid)
                if old is None or hwm > old[1]:
                    peaks[pid] = (role_of(argv), hwm)
                used = _cpu_s(pid)
                if used is not None:
                    cpu[pid] = used
            done.wait(INTERVAL)

    watcher = threading.Thread(target=watch, name="rss-watch", daemon=True)
    watcher.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise
    finally:
        seconds = time.perf_counter() - started
        done.set()
        watcher.join()
    by_role: dict[str, float] = {}
    cpu_by_role: dict[str, float] = {}
    for pid, (role, hwm) in peaks.items():
        by_role[role] = max(by_role.get(role, 0.0), hwm / 1024.0)
        cpu_by_role[role] = cpu_by_role.get(role, 0.0) + cpu.get(pid, 0.0)
    return TreeRun(
        proc.returncode,
        seconds,
        stdout.decode(errors="replace"),
        stderr.decode(errors="replace"),
        by_role,
        cpu_by_role,
    )
