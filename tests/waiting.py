"""Waiting in tests for something another thread or process does: one polling helper."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_for(condition: Callable[[], T], what: str, seconds: float = 60, poll: float = 0.05) -> T:
    """What `condition` returns once it is truthy; fails the test with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(poll)
