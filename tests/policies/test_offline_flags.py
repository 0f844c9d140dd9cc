"""The offline preview runs the pack by default; `--no-policies` (or `--no-policy`) skips it."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline import __main__ as cli


@pytest.mark.parametrize("flag", ["--no-policies", "--no-policy"])
def test_no_policies_skips_the_pack(flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--stack", "sim", "--out", str(tmp_path), "--quiet", flag]) == 0
    assert "Policies:" not in capsys.readouterr().out


def test_the_pack_runs_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--stack", "sim", "--out", str(tmp_path), "--quiet"]) == 0
    assert "Policies: 0 mandatory" in capsys.readouterr().out
