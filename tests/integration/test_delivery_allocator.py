"""keep_freed_memory: a process that tuned its allocator reuses a freed large buffer instead of
faulting fresh pages in for the next one (checked in a fresh interpreter each time)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

# Allocates and frees a 16 MB buffer six times and prints the page faults of each round.
ROUNDS = """
import json, resource, sys
from pipeline.delivery.allocator import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tune" else None
faults = []
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = bytearray(16 << 20)
    del buffer
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"tuned": tuned, "faults": faults}))
"""
PAGES_IN_16_MB = (16 << 20) // 4096
REPO = Path(__file__).resolve().parents[2]


def _rounds(mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True, cwd=REPO
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's allocator")
def test_a_tuned_process_reuses_freed_buffers_and_an_untuned_one_faults_them_in_again() -> None:
    tuned = _rounds("tune")
    assert tuned["tuned"] is True
    # The first buffer is new memory either way; after it, nothing is faulted in again.
    assert tuned["faults"][0] >= PAGES_IN_16_MB * 0.9
    assert sum(tuned["faults"][1:]) < PAGES_IN_16_MB * 0.1
    untuned = _rounds("leave")
    assert sum(untuned["faults"][1:]) >= PAGES_IN_16_MB * 0.9
