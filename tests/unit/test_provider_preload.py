"""Every dynamic provider's ``configure`` loads what its calls import (providers/preload.py).

The engine runs a stack's dynamic providers in one process with calls on several threads; a package
imported for the first time by two calls at once can come back partly initialised (seen: a JoinToken
and a NodeRetirement created together, "cannot import name ... from partially initialized module
'requests.utils'"). ``configure`` runs once per provider, under the SDK's lock, before its first
call, and imports under a lock of its own. So, in a fresh interpreter, after ``configure`` every
module any of the provider's calls imports inside a function (followed through the adapters those
imports reach) is already loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from providers import preload

ROOT = Path(__file__).resolve().parents[2]
# The walk follows the providers' own modules. vsphere_k8s (pure logic) defers imports only in what the
# program calls (config rules, node planning), not on a provider call's path.
OWN = ("providers",)

PROBE = """
import importlib, json, sys
from pulumi.dynamic import Config, ConfigureRequest
module, cls = sys.argv[1], sys.argv[2]
provider = getattr(importlib.import_module(module), cls)()
provider.configure(ConfigureRequest(Config({}, "probe")))
print(json.dumps(sorted(sys.modules)))
"""


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The modules an import statement of ``module`` loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        path = _module_file(module)
        package = module if path is not None and path.name == "__init__.py" else module.rsplit(".", 1)[0]
        parts = package.split(".")
        package = ".".join(parts[: len(parts) - node.level + 1])
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = str(node.module)
    # `from pkg import sub` loads the submodule when there is one, else it names something in pkg.
    return [base, *(f"{base}.{a.name}" for a in node.names if _module_file(f"{base}.{a.name}"))]


def _imports(module: str) -> tuple[list[str], list[str]]:
    """(imports at the module's top outside `if TYPE_CHECKING:`, imports inside its functions)."""
    path = _module_file(module)
    assert path is not None, module
    top: list[str] = []
    lazy: list[str] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                (lazy if in_function else top).extend(_resolve(module, child))
            walk(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    walk(ast.parse(path.read_text()), False)
    return top, lazy


def lazily_imported(module: str) -> set[str]:
    """Every module a call of ``module`` may import first: function-level imports, followed through
    the project's own modules they (and the modules at their top) reach."""
    seen: set[str] = set()
    todo = [module]
    needed: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or not name.startswith(OWN) or _module_file(name) is None:
            continue
        seen.add(name)
        top, lazy = _imports(name)
        needed.update(lazy)
        todo.extend([*top, *lazy])
    return needed


def provider_classes() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "providers").glob("*/provider.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b) == "ResourceProvider" for b in node.bases):
                found.append((module, node.name))
    return found


def test_the_walk_finds_the_lazy_imports_it_must() -> None:
    """The check below is only as good as this walk: it sees the adapters' own lazy imports."""
    needed = lazily_imported("providers.node_join.provider")
    assert {"providers.node_join.kube", "providers.node_join.vcenter", "providers.vcenter.connection"} <= needed
    assert "kubernetes.client.exceptions" in needed  # inside node_join/kube.py's functions
    assert "kubernetes" in needed and "pyVim.connect" in needed  # kube_raw's and connection's
    assert len(provider_classes()) >= 9


def test_after_configure_no_call_imports_anything_first() -> None:
    classes = provider_classes()
    procs = {
        (module, cls): subprocess.Popen(
            [sys.executable, "-c", PROBE, module, cls], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for module, cls in classes
    }
    missing = {}
    for (module, cls), proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, (module, cls)
        loaded = set(json.loads(out))
        gap = sorted(m for m in lazily_imported(module) if m not in loaded)
        if gap:
            missing[f"{module}.{cls}"] = gap
    assert missing == {}, f"imported only by a call, after configure: {missing}"


def test_preload_names_modules_that_exist() -> None:
    for name in preload.CLIENT_LIBRARIES:
        __import__(name)
