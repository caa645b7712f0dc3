"""Every benchmark script compiles and answers --help (their real runs are long)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted(p for p in (Path(__file__).resolve().parent.parent / "benchmarks").glob("*.py")
                    if not p.name.startswith("_"))  # fmt: skip


def test_all_benchmarks_are_found():
    names = {p.stem for p in BENCHMARKS}
    assert {"core_speed", "ppo_speed", "env_speed", "assoc_table", "glimpse_table", "catch_curves"} <= names


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_answers_help(script):
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout
