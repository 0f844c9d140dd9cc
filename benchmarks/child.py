"""Run one benchmark side in a fresh interpreter and read the JSON line it prints last."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_child(module: str, args: list[str], timeout: float) -> dict[str, Any]:
    """``python -m module args...`` from the project root; its last stdout line, parsed (errors carry stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {module} {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer
