"""`clinicmail dev sendgrid-server`: run as a real process, it serves until interrupted; a port
in use is a one-line error."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from pipeline.cli import main


def test_the_server_runs_until_interrupted(workspace: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "from pipeline.cli import main; main()",
        "--workspace",
        str(workspace),
        "dev",
        "sendgrid-server",
        "--port",
        "0",
        "--no-webhook",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("local SendGrid server on http://127.0.0.1:")
        url = first.split(" on ", 1)[1].strip().removesuffix("/v3/mail/send")
        response = httpx.get(f"{url}/_local/health")
        assert response.json() == {"ok": True}
        server_file = workspace / "var" / "local-sendgrid" / "server.json"
        assert json.loads(server_file.read_text())["url"] == url
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.rstrip().endswith("stopped")
    assert not server_file.exists()


def test_a_port_in_use_is_a_one_line_error(workspace: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["--workspace", str(workspace), "dev", "sendgrid-server", "--port", str(port)]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "--port" in result.output and "Traceback" not in result.output
