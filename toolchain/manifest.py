"""The pinned toolchain: rows of ``toolchain/manifest.toml`` and where their binaries live.

Binaries are cached outside the repo (never in git), one folder per build key:
``<cache>/bin/<name>-<version>-<digest>/<name>``. The digest covers the wrapper module's
files and the build flags, so an edited wrapper or a new pin rebuilds and an unchanged
one is reused by every later run and by CI on the same machine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

TOOLCHAIN_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLCHAIN_DIR.parent
MANIFEST = TOOLCHAIN_DIR / "manifest.toml"
WRAPPERS = TOOLCHAIN_DIR / "wrappers"
# Scripts the engine finds on PATH beside the binaries (language-host exec script,
# dynamic-provider launcher) and the stand-in provider plugins: they stay in the repo.
SCRIPT_DIRS = (TOOLCHAIN_DIR / "scripts", TOOLCHAIN_DIR / "standins" / "bin")

CACHE_ENV = "VK8S_TOOLCHAIN_CACHE"
BIN_DIR_ENV = "VK8S_TOOLCHAIN_BIN"


@dataclass(frozen=True)
class Tool:
    name: str
    version: str
    wrapper: str
    package: str
    module: str  # "<path>@<version>", as the wrapper's go.mod must require it
    ldflags: tuple[str, ...]
    prepare: str | None = None

    @property
    def wrapper_dir(self) -> Path:
        return WRAPPERS / self.wrapper

    @property
    def module_path(self) -> str:
        return self.module.partition("@")[0]

    @property
    def module_version(self) -> str:
        return self.module.partition("@")[2]

    @property
    def env_override(self) -> str:
        """The variable that points at a binary of the user's own (as envtest's finder does)."""
        return "VK8S_" + self.name.upper().replace("-", "_")


def load(path: Path = MANIFEST) -> list[Tool]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    tools = []
    for i, row in enumerate(data.get("tool", [])):
        missing = {"name", "version", "wrapper", "package", "module"} - row.keys()
        if missing:
            raise ValueError(f"{path}: tool #{i + 1} lacks {', '.join(sorted(missing))}")
        tools.append(
            Tool(
                name=row["name"],
                version=row["version"],
                wrapper=row["wrapper"],
                package=row["package"],
                module=row["module"],
                ldflags=tuple(row.get("ldflags", ())),
                prepare=row.get("prepare"),
            )
        )
    names = [t.name for t in tools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{path}: tools listed twice: {', '.join(dupes)}")
    return tools


def cache_root() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vsphere-k8s-toolchain"
    return Path(os.environ.get(CACHE_ENV, default))


def _wrapper_files(tool: Tool) -> list[Path]:
    # Generated embeds are outputs of `prepare`, not inputs of the key.
    return sorted(p for p in tool.wrapper_dir.rglob("*") if p.is_file() and not p.name.endswith("-embed.json"))


def build_key(tool: Tool) -> str:
    h = hashlib.sha256()
    for part in (tool.name, tool.version, tool.package, tool.module, *tool.ldflags, tool.prepare or ""):
        h.update(part.encode() + b"\0")
    for p in _wrapper_files(tool):
        h.update(p.relative_to(tool.wrapper_dir).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return f"{tool.name}-{tool.version}-{h.hexdigest()[:12]}"


def cached_binary(tool: Tool) -> Path:
    return cache_root() / "bin" / build_key(tool) / tool.name


def locate(name: str, tools: list[Tool] | None = None) -> Path:
    """Where a tool's binary is: its override variable, then the bin-dir variable, then the cache."""
    tools = load() if tools is None else tools
    tool = next((t for t in tools if t.name == name), None)
    if tool is None:
        raise KeyError(f"{name} is not in {MANIFEST.name}")
    override = os.environ.get(tool.env_override)
    if override:
        return Path(override)
    bin_dir = os.environ.get(BIN_DIR_ENV)
    if bin_dir:
        return Path(bin_dir) / name
    return cached_binary(tool)


def link_bin_dir(dest: Path, tools: list[Tool] | None = None) -> Path:
    """One directory holding every tool and script by its plain name, for PATH.

    The CLI looks for its language host and the dynamic-provider launcher next to its own
    resolved binary (else it warns that it took them from PATH), so the CLI is hard-linked
    here (copied across file systems) and the rest are symlinks to this checkout's files.
    """
    tools = load() if tools is None else tools
    dest.mkdir(parents=True, exist_ok=True)
    entries = {t.name: locate(t.name, tools) for t in tools}
    for d in SCRIPT_DIRS:
        entries.update({p.name: p for p in d.iterdir() if p.is_file() and os.access(p, os.X_OK)})
    for name, target in entries.items():
        link = dest / name
        if link.is_symlink() or link.exists():
            link.unlink()
        if name == "pulumi":
            try:
                os.link(target, link)
            except OSError:
                shutil.copy2(target, link)
        else:
            link.symlink_to(target)
    return dest


def path_entries(tools: list[Tool] | None = None) -> list[Path]:
    """Directories to put on PATH so the CLI finds every plugin, script and binary without a download."""
    tools = load() if tools is None else tools
    dirs: list[Path] = list(SCRIPT_DIRS)
    for t in tools:
        d = locate(t.name, tools).parent
        if d not in dirs:
            dirs.append(d)
    return dirs
