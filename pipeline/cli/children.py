"""`clinicmail run`'s child processes: the local SendGrid-compatible server and the worker run
as commands of their own, so that a crash of one (or of the web app) takes nothing of the
others' state with it, and each stops when `run` does, however `run` ended."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

# Set in a child's environment to `run`'s process id: the child stops once that process is gone.
PARENT_VARIABLE = "CLINICMAIL_RUN_PARENT"
STOP_WAIT_SECONDS = 30.0


def spawn(
    workspace: Path, *arguments: str, environment: dict[str, str] | None = None
) -> subprocess.Popen:
    """`clinicmail --workspace WORKSPACE ARGUMENTS...` as a child of this process, with
    `environment` added to this process's."""
    command = [
        sys.executable,
        "-c",
        "from pipeline.entry import run; run()",
        "--workspace",
        str(workspace),
        *arguments,
    ]
    child_environment = {**os.environ, **(environment or {}), PARENT_VARIABLE: str(os.getpid())}
    return subprocess.Popen(command, env=child_environment)


def stop_children(children: list[subprocess.Popen]) -> None:
    """Ask each child to stop (SIGTERM: the worker finishes its batch, the server posts what
    it can), then wait; a child that does not stop in time is killed."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def stop_with_parent(stop: threading.Event) -> None:
    """In a child of `run`: set `stop` once `run` is gone (killed, say), so an orphan does not
    keep the port or the outbox."""
    parent = os.environ.get(PARENT_VARIABLE)
    if not parent:
        return

    def watch() -> None:
        while not stop.wait(0.5):
            if os.getppid() != int(parent):
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
