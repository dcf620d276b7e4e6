"""Instructions benchmark: what one recipient costs a sending process, and what one
1,000-recipient request costs the local SendGrid server, in CPU instructions counted by
valgrind's callgrind. On a shared virtual machine the same work takes up to half as long again
from one hour to the next; an instruction count stays the same, so it compares two builds where
timings cannot.

Each figure is the difference between two runs under callgrind that differ only in how much
work they do, so start-up and imports cancel out. Baseline, in the same run: orjson parsing the
same request body, which any server reading it must pay.

Needs valgrind (Debian's package). Run: .venv/bin/python bench/bench_instructions.py
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("CLINICMAIL_SECRET_KEY", "benchmark-secret-not-for-production")

BATCH = 1000
API_KEY = "SG.benchmark"


def batch_rows(batch: int) -> list[tuple[int, int, str, str]]:
    """(send id, contact id, address, first name) of one claimed batch, as the outbox hands it."""
    start = batch * BATCH
    return [
        (n, n, f"client{n}@example.com", f"Client{n % 997}") for n in range(start, start + BATCH)
    ]


def sending_work(batches: int) -> None:
    """What a sending process does for each batch before the HTTP call: token values, the
    request body, its JSON."""
    import orjson
    from bench_delivery_backend import sample_variant

    from pipeline.config import load_settings
    from pipeline.delivery.backend import claimed_recipients
    from pipeline.delivery.sendgrid import request_body
    from pipeline.render.message import RecipientValues

    settings = load_settings(REPO)
    rendered = sample_variant()
    values = RecipientValues(settings)
    for batch in range(batches):
        recipients = claimed_recipients(values, batch_rows(batch))
        orjson.dumps(request_body(settings, rendered, recipients))


def request_body_bytes() -> bytes:
    from bench_delivery_backend import sample_variant
    from local_baseline import prebuilt_body

    from pipeline.config import load_settings
    from pipeline.delivery.backend import claimed_recipients
    from pipeline.render.message import RecipientValues

    settings = load_settings(REPO)
    recipients = claimed_recipients(RecipientValues(settings), batch_rows(0))
    return prebuilt_body(settings, sample_variant(), recipients)


def parse_work(requests: int) -> None:
    import orjson

    body = request_body_bytes()
    for _ in range(requests):
        orjson.loads(body)


def callgrind(command: list[str], **popen: object) -> subprocess.Popen:
    return subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **popen,  # type: ignore[arg-type]
    )


def instructions(process: subprocess.Popen) -> int:
    _, stderr = process.communicate()
    found = re.search(rb"Collected : (\d+)", stderr)
    if process.returncode != 0 or found is None:
        raise SystemExit(f"the run under callgrind failed:\n{stderr.decode(errors='replace')}")
    return int(found.group(1))


def counted(part: str, amount: int) -> int:
    """Instructions of this script doing `amount` units of `part`, start-up included."""
    script = [sys.executable, __file__, "--part", part, "--amount", str(amount)]
    return instructions(callgrind(script))


def server_instructions(requests: int) -> int:
    """Instructions of a `clinicmail dev sendgrid-server --benchmark` process that starts,
    accepts `requests` 1,000-recipient requests and stops."""
    import httpx
    from bench_send import free_port, make_workspace

    body = request_body_bytes()
    root = Path(tempfile.mkdtemp(prefix="clinicmail-bench-instructions-"))
    server: subprocess.Popen | None = None
    try:
        workspace = make_workspace(root, concurrency=1)
        port = free_port()
        command = [sys.executable, str(Path(sys.executable).with_name("clinicmail")),
                   "--workspace", str(workspace), "dev", "sendgrid-server", "--port", str(port),
                   "--benchmark", "--no-webhook"]  # fmt: skip
        # The server runs this checkout's code, whichever checkout the clinicmail command was
        # installed from.
        environment = {**os.environ, "SENDGRID_API_KEY": API_KEY, "PYTHONPATH": str(REPO)}
        server = callgrind(command, env=environment)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}/_local/health", timeout=60).status_code == 200:
                    break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the local SendGrid server did not start") from None
                time.sleep(0.5)
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        for _ in range(requests):
            answer = httpx.post(f"{url}/v3/mail/send", content=body, headers=headers, timeout=300)
            if answer.status_code != 202:
                raise SystemExit(f"the server answered {answer.status_code}: {answer.text}")
        server.send_signal(signal.SIGTERM)
        return instructions(server)
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["sending", "parse"], help=argparse.SUPPRESS)
    parser.add_argument("--amount", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, default=5, help="Batches of 1,000 to count over.")
    parser.add_argument("--requests", type=int, default=10, help="Server requests to count over.")
    options = parser.parse_args()
    if options.part == "sending":
        sending_work(options.amount)
        return
    if options.part == "parse":
        parse_work(options.amount)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind")

    from bench_send import machine

    print(f"machine: {machine()}")
    sending = (counted("sending", 1 + options.batches) - counted("sending", 1)) / (
        options.batches * BATCH
    )
    print(
        f"sending process, per recipient (link tokens, personalization, JSON): {sending:,.0f} "
        "instructions"
    )
    server = (server_instructions(3 + options.requests) - server_instructions(3)) / options.requests
    print(
        f"local server, per 1,000-recipient request: {server:,.0f} instructions "
        f"({server / BATCH:,.0f} per recipient)"
    )
    parse = (counted("parse", 1 + options.requests) - counted("parse", 1)) / options.requests
    print(f"baseline: orjson parsing the same body: {parse:,.0f} instructions")
    print(f"ratio server request / parse: {server / parse:.2f}")


if __name__ == "__main__":
    main()
