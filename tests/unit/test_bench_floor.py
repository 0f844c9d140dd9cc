"""The pure parts of the up-floor and cold-start benchmarks: the creates' log and the build-duration record."""

from __future__ import annotations

from pathlib import Path

from benchmarks.cold_start import durations_report
from benchmarks.up_floor import UpFloor, create_times, report
from toolchain.build import read_durations, record_duration
from toolchain.manifest import load


def test_create_times_are_sorted_and_empty_without_log(tmp_path: Path) -> None:
    assert create_times(tmp_path / "none.log") == []
    log = tmp_path / "creates.log"
    log.write_text("3.5\n1.25\n2.0\n")
    assert create_times(log) == [1.25, 2.0, 3.5]


def test_creates_per_second_counts_intervals_between_creates() -> None:
    f = UpFloor(501, True, None, 20.0, 10.0, 5.0, 5.0)
    assert f.creates_per_second == 100.0
    empty = UpFloor(0, False, None, 9.0, None, None, None)
    assert empty.creates_per_second is None
    text = report([empty, f])
    assert "100" in text.splitlines()[-1] and text.splitlines()[-2].split()[0] == "0"


def test_build_durations_are_appended_and_read_back(tmp_path: Path) -> None:
    assert read_durations(tmp_path) == []
    pulumi, kwok = load()[0], load()[-1]
    record_duration(tmp_path, pulumi, 61.04)
    record_duration(tmp_path, kwok, 30.0, cpu_seconds=44.44)
    rows = read_durations(tmp_path)
    assert [r["tool"] for r in rows] == [pulumi.name, kwok.name]
    assert rows[0]["seconds"] == 61.0 and rows[0]["version"] == pulumi.version
    assert "cpu_seconds" not in rows[0] and rows[1]["cpu_seconds"] == 44.4
    text = durations_report(rows)
    assert "sum: 91 s (1.5 min) over 2 builds" in text
    assert f"{kwok.name} {kwok.version}: 30 s, 44 CPU s" in text and "CPU: 44 s (0.7 min) over the 1 builds" in text
