"""Build every binary of the manifest that the cache lacks, showing what, how far and how long.

    python -m toolchain.build            build what is missing (a no-op when all are cached)
    python -m toolchain.build --check    only check that the manifest and the wrappers agree
    python -m toolchain.build --print-path   print the PATH entries, one per line

A failed build stops with the tool's name and the tail of its log; nothing half-built
lands in the cache (each binary is written beside its final place and renamed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from toolchain import manifest
from toolchain.manifest import Tool

HEARTBEAT_S = 30.0


def _say(msg: str) -> None:
    print(f"[toolchain] {msg}", file=sys.stderr, flush=True)


def _fmt(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # The machine's own Go, never a downloaded toolchain; the wrappers' go.sum is authoritative.
    env.setdefault("GOTOOLCHAIN", "local")
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=readonly -buildvcs=false").strip()
    env.setdefault("CGO_ENABLED", "0")
    return env


def _module_dir(tool: Tool) -> Path:
    out = subprocess.run(
        ["go", "list", "-m", "-json", tool.module_path],
        cwd=tool.wrapper_dir,
        env=_go_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{tool.name}: go list -m {tool.module_path} failed: {out.stderr.strip()}")
    info = json.loads(out.stdout)
    if not info.get("Dir"):
        subprocess.run(["go", "mod", "download", tool.module], cwd=tool.wrapper_dir, env=_go_env(), check=True)
        return _module_dir(tool)
    return Path(info["Dir"])


def _prepare_kubernetes_provider_schema(tool: Tool) -> None:
    """The upstream release writes its version into the schema it embeds; do the same."""
    src = _module_dir(tool) / "cmd" / "pulumi-resource-kubernetes"
    schema = json.loads((src / "schema.json").read_text())
    schema["version"] = tool.version
    (tool.wrapper_dir / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
    mapping = json.loads((src / "terraform-mapping.json").read_text())
    (tool.wrapper_dir / "terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))


PREPARES: dict[str, Callable[[Tool], None]] = {
    "kubernetes-provider-schema": _prepare_kubernetes_provider_schema,
}


def _required(gomod: str) -> dict[str, str]:
    """Module -> version of a go.mod's require lines (single and block forms)."""
    reqs: dict[str, str] = {}
    in_block = False
    for raw in gomod.splitlines():
        line = raw.split("//", 1)[0].strip()
        if line.startswith("require ("):
            in_block = True
            continue
        if in_block and line == ")":
            in_block = False
            continue
        m = re.fullmatch(r"(?:require\s+)?(\S+)\s+(v\S+)", line)
        if m and (in_block or line.startswith("require ")):
            reqs[m.group(1)] = m.group(2)
    return reqs


def check(tools: list[Tool]) -> list[str]:
    """Every disagreement between the manifest and the wrapper modules, as sentences."""
    problems: list[str] = []
    for t in tools:
        gomod = t.wrapper_dir / "go.mod"
        if not gomod.is_file():
            problems.append(f"{t.name}: wrapper {t.wrapper_dir} has no go.mod")
            continue
        if not (t.wrapper_dir / "go.sum").is_file():
            problems.append(f"{t.name}: wrapper {t.wrapper} has no go.sum (run go mod tidy there)")
        have = _required(gomod.read_text()).get(t.module_path)
        if have != t.module_version:
            problems.append(
                f"{t.name}: manifest pins {t.module} but {t.wrapper}/go.mod requires {t.module_path} {have}"
            )
        if (
            t.package != "."
            and f"\t{t.package}\n" not in gomod.read_text()
            and f"tool {t.package}\n" not in (gomod.read_text())
        ):
            problems.append(f"{t.name}: {t.wrapper}/go.mod has no tool line for {t.package}")
        if t.prepare and t.prepare not in PREPARES:
            problems.append(f"{t.name}: unknown prepare step {t.prepare!r}")
    return problems


def _build(tool: Tool, dest: Path, log: Path, label: str) -> None:
    if tool.prepare:
        PREPARES[tool.prepare](tool)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    cmd = ["go", "build", "-trimpath", "-o", str(tmp), "-ldflags", " ".join(("-s", "-w", *tool.ldflags))]
    cmd.append(tool.package)
    start = time.monotonic()
    cpu_start = _children_cpu()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_S):
            _say(f"{label} still building ({_fmt(time.monotonic() - start)}; log {log})")

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    try:
        with log.open("w") as out:
            rc = subprocess.run(
                cmd, cwd=tool.wrapper_dir, env=_go_env(), stdout=out, stderr=subprocess.STDOUT, check=False
            ).returncode
    finally:
        done.set()
    if rc != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"building {tool.name} {tool.version} failed (exit {rc}); log {log}:\n{tail}")
    tmp.rename(dest)
    seconds = time.monotonic() - start
    record_duration(manifest.cache_root(), tool, seconds, _children_cpu() - cpu_start)
    _say(f"{label} built in {_fmt(seconds)}")


DURATIONS = "build-durations.jsonl"


def _children_cpu() -> float:
    """User + system CPU seconds of every finished child (the go command and its compilers)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def record_duration(cache: Path, tool: Tool, seconds: float, cpu_seconds: float | None = None) -> None:
    """Append one finished build's wall time (and the CPU its processes used, which a loaded machine does
    not inflate) to ``<cache>/build-durations.jsonl`` (what a cold build costs)."""
    row = {
        "tool": tool.name,
        "version": tool.version,
        "key": manifest.build_key(tool),
        "seconds": round(seconds, 1),
        **({"cpu_seconds": round(cpu_seconds, 1)} if cpu_seconds is not None else {}),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with (cache / DURATIONS).open("a") as f:
        f.write(json.dumps(row) + "\n")


def read_durations(cache: Path) -> list[dict[str, object]]:
    """The recorded builds, oldest first; [] when none were recorded."""
    path = cache / DURATIONS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def build_all(tools: list[Tool]) -> int:
    if shutil.which("go") is None:
        _say("the go command is not on PATH: install Go 1.26 (see README)")
        return 1
    problems = check(tools)
    if problems:
        for p in problems:
            _say(p)
        return 1
    logs = manifest.cache_root() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    total_start = time.monotonic()
    missing = [t for t in tools if not manifest.locate(t.name, tools).is_file()]
    if not missing:
        return 0
    _say(f"{len(missing)} of {len(tools)} binaries to build into {manifest.cache_root()}")
    _say("a cold build of the whole set takes 40-50 minutes on 2 cores")
    for i, t in enumerate(missing, 1):
        label = f"[{i}/{len(missing)}] {t.name} {t.version}"
        if manifest.cached_binary(t).is_file():  # another run built it meanwhile
            _say(f"{label} cached")
            continue
        _say(f"{label} building")
        try:
            _build(t, manifest.cached_binary(t), logs / f"{manifest.build_key(t)}.log", label)
        except Exception as e:
            _say(str(e))
            return 1
    _say(f"all built in {_fmt(time.monotonic() - total_start)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m toolchain.build")
    ap.add_argument("--check", action="store_true", help="only check the manifest against the wrappers")
    ap.add_argument("--print-path", action="store_true", help="print the PATH entries for the toolchain")
    ap.add_argument("--only", action="append", default=[], help="build only these tools (repeatable)")
    args = ap.parse_args(argv)
    tools = manifest.load()
    if args.check:
        problems = check(tools)
        for p in problems:
            _say(p)
        return 1 if problems else 0
    if args.print_path:
        for d in manifest.path_entries(tools):
            print(d)
        return 0
    selected = [t for t in tools if not args.only or t.name in args.only]
    return build_all(selected)


if __name__ == "__main__":
    sys.exit(main())
