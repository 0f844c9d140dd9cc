"""The world's process helper: fails fast with the log's tail, times out naming the process, stops groups."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.world.process import Process, ProcessError


def _sh(tmp_path: Path, name: str, script: str, ready: object = None, timeout: float = 5.0) -> Process:
    return Process(
        name,
        ["/bin/sh", "-c", script],
        tmp_path,
        ready=ready if callable(ready) else (lambda: False),
        start_timeout=timeout,
        stop_timeout=2.0,
    )


def test_a_process_that_dies_before_it_is_ready_fails_with_its_log(tmp_path: Path) -> None:
    proc = _sh(tmp_path, "dies", "echo 'etcd: bad flag --nope' >&2; exit 3")
    with pytest.raises(ProcessError, match=r"dies exited with 3 before it was ready:\n.*bad flag --nope"):
        proc.start()
    assert (tmp_path / "logs" / "dies.log").read_text().strip() == "etcd: bad flag --nope"


def test_a_process_never_ready_times_out_and_is_stopped(tmp_path: Path) -> None:
    proc = _sh(tmp_path, "slow", "echo waiting; exec sleep 60", timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ProcessError, match=r"slow not ready after 1s:\nwaiting"):
        proc.start()
    assert time.monotonic() - started < 10
    assert proc.proc is None  # stopped, not left running


def test_stop_reaches_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    proc = _sh(tmp_path, "parent", f"sleep 60 & echo $! > {marker}; wait", ready=marker.exists)
    proc.start()
    child = int(marker.read_text())
    proc.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the child of a stopped process is still running")


def test_a_missing_binary_names_the_build_command(tmp_path: Path) -> None:
    proc = Process("etcd", [str(tmp_path / "no-such-etcd")], tmp_path, ready=lambda: True)
    with pytest.raises(ProcessError, match=r"etcd: .*no-such-etcd is missing; run scripts/toolchain.sh"):
        proc.start()
