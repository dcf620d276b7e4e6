"""The active scheduler's death hands over to a standby: two real `clinicmail worker`
processes on one database (SQLite file lock, PostgreSQL advisory lock); kill -9 the active one."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.waiting import wait_for

CLINICMAIL = str(Path(sys.executable).with_name("clinicmail"))
WAIT_LIMIT_SECONDS = 60


def _start(workspace: Path, name: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CLINICMAIL_DELIVERY_BACKEND": "file"}
    with log.open("wb") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [CLINICMAIL, "--workspace", str(workspace), "worker", "--id", name,
             "--tick", "0.2", "--takeover", "0.5"],
            stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip


def _roles(log: Path, name: str) -> list[str]:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return re.findall(rf"worker {name} is (active|standby)", text)


@pytest.mark.slow
def test_a_standby_takes_over_when_the_active_worker_is_killed(workspace_db, tmp_path):
    logs = {name: tmp_path / f"{name}.log" for name in ("one", "two")}
    workers = {"one": _start(workspace_db, "one", logs["one"])}
    try:
        wait_for(
            lambda: "active" in _roles(logs["one"], "one"),
            "worker one to become active",
            seconds=WAIT_LIMIT_SECONDS,
        )
        workers["two"] = _start(workspace_db, "two", logs["two"])
        wait_for(
            lambda: _roles(logs["two"], "two"), "worker two to start", seconds=WAIT_LIMIT_SECONDS
        )
        # Worker two retries the lock every half second; it must stay standby while one lives.
        time.sleep(2)
        assert _roles(logs["two"], "two") == ["standby"]
        workers["one"].send_signal(signal.SIGKILL)
        workers["one"].wait()
        wait_for(
            lambda: "active" in _roles(logs["two"], "two"),
            "worker two to take over",
            seconds=WAIT_LIMIT_SECONDS,
        )
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in workers.values():
            process.wait(timeout=30)
    assert workers["two"].returncode == 0, logs["two"].read_text()
