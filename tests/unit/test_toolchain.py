"""The toolchain manifest: every row agrees with its wrapper module, and cache keys follow content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from toolchain import build, manifest
from toolchain.manifest import Tool


def test_manifest_and_wrappers_agree() -> None:
    assert build.check(manifest.load()) == []


def test_python_sdks_are_pinned_to_the_plugins_built() -> None:
    reqs = dict(
        line.split("#", 1)[0].strip().split("==")
        for line in (manifest.REPO_ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line
    )
    versions = {t.name: t.version for t in manifest.load()}
    assert reqs["pulumi-kubernetes"] == versions["pulumi-resource-kubernetes"]


def _copy_wrapper(tmp_path: Path, tool: Tool) -> None:
    shutil.copytree(manifest.TOOLCHAIN_DIR / "wrappers" / tool.wrapper, tmp_path / "wrappers" / tool.wrapper)


def test_a_wrapper_edit_or_a_new_pin_changes_the_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = next(t for t in manifest.load() if t.name == "etcd")
    monkeypatch.setattr(manifest, "WRAPPERS", tmp_path / "wrappers")
    _copy_wrapper(tmp_path, tool)
    key = manifest.build_key(tool)
    assert manifest.build_key(tool) == key  # stable
    (tmp_path / "wrappers" / tool.wrapper / "main.go").write_text("package main\n\nfunc main() {}\n")
    edited = manifest.build_key(tool)
    assert edited != key
    bumped = Tool(**{**tool.__dict__, "version": "v9.9.9"})
    assert manifest.build_key(bumped) not in {key, edited}
    assert manifest.build_key(bumped).startswith("etcd-v9.9.9-")


def test_disagreeing_pins_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = next(t for t in manifest.load() if t.name == "kwok")
    monkeypatch.setattr(manifest, "WRAPPERS", tmp_path / "wrappers")
    _copy_wrapper(tmp_path, tool)
    wrong = Tool(**{**tool.__dict__, "module": "sigs.k8s.io/kwok@v0.7.0"})
    problems = build.check([wrong])
    assert problems == ["kwok: manifest pins sigs.k8s.io/kwok@v0.7.0 but kwok/go.mod requires sigs.k8s.io/kwok v0.8.0"]


def test_locate_prefers_the_override_then_the_bin_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tools = manifest.load()
    monkeypatch.delenv("VK8S_ETCD", raising=False)
    monkeypatch.delenv(manifest.BIN_DIR_ENV, raising=False)
    monkeypatch.setenv(manifest.CACHE_ENV, str(tmp_path / "cache"))
    assert manifest.locate("etcd", tools).is_relative_to(tmp_path / "cache" / "bin")
    monkeypatch.setenv(manifest.BIN_DIR_ENV, str(tmp_path / "bin"))
    assert manifest.locate("etcd", tools) == tmp_path / "bin" / "etcd"
    monkeypatch.setenv("VK8S_ETCD", "/opt/etcd/bin/etcd")
    assert manifest.locate("etcd", tools) == Path("/opt/etcd/bin/etcd")
    with pytest.raises(KeyError, match=r"nope is not in manifest\.toml"):
        manifest.locate("nope", tools)


def test_a_manifest_row_without_its_fields_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "m.toml"
    bad.write_text('[[tool]]\nname = "x"\nversion = "v1"\n')
    with pytest.raises(ValueError, match="tool #1 lacks module, package, wrapper"):
        manifest.load(bad)
