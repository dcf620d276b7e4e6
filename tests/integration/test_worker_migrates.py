"""`clinicmail worker` on a database without tables: it applies the migrations and runs, as
`clinicmail run` does, instead of refusing the database it was meant to bring up to date."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from pipeline.store import open_engine
from tests.waiting import wait_for

CLINICMAIL = str(Path(sys.executable).with_name("clinicmail"))


def test_a_worker_migrates_a_new_database_and_runs(workspace, tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    log = tmp_path / "worker.log"
    env = {**os.environ, "CLINICMAIL_DATABASE_URL": url, "CLINICMAIL_DELIVERY_BACKEND": "file"}
    with log.open("wb") as stderr:
        worker = subprocess.Popen(
            [CLINICMAIL, "--workspace", str(workspace), "worker", "--id", "w", "--tick", "0.2"],
            stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip
    try:
        wait_for(
            lambda: (
                worker.poll() is not None
                or re.search(r"worker w is (active|standby)", log.read_text(errors="replace"))
            ),
            "the worker to run or stop",
            seconds=60,
        )
        assert worker.poll() is None, log.read_text(errors="replace")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    assert worker.returncode == 0, log.read_text(errors="replace")
    engine = open_engine(url)
    try:
        assert {"campaigns", "sends", "events"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
