"""Benchmark: the SendGrid backend's hand-off. Batches of 1,000 recipients go through
SendGridBackend.send_batch (the official sendgrid library builds each request, urllib posts it)
to the local SendGrid-compatible server in benchmark mode, from several threads.

Baseline in the same run: a plain keep-alive HTTP client posting the very same request bodies,
built and serialised beforehand, to the same server (local_baseline.measure_accept_rate). The
ratio says what building requests with the library costs on top of moving the bytes. A second
figure: the server's accept rate with schema validation on (as in development), against the same
baseline.

    .venv/bin/python bench/bench_delivery_backend.py                  # 20,000 recipients
    .venv/bin/python bench/bench_delivery_backend.py --recipients 100000 --threads 8
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("CLINICMAIL_SECRET_KEY", "benchmark-secret-not-for-production")

from local_baseline import measure_accept_rate, prebuilt_body  # noqa: E402

from pipeline.config import load_settings  # noqa: E402
from pipeline.delivery.sendgrid import MAX_PERSONALIZATIONS, SendGridBackend  # noqa: E402
from pipeline.devserver.server import LocalSendGridServer  # noqa: E402
from pipeline.models import Recipient, RenderedVariant  # noqa: E402
from pipeline.render.message import recipient_values  # noqa: E402
from pipeline.render.tokens import new_placeholders  # noqa: E402

PARAGRAPH = (
    '<tr><td style="padding:0 24px;font-family:Helvetica,Arial,sans-serif;font-size:16px;'
    'line-height:1.5;color:#1f2933">Tight hamstrings pull on the pelvis and load the lower back; '
    "working the legs often eases back pain faster than working the back itself.</td></tr>"
)


def sample_variant() -> RenderedVariant:
    """A variant the size of a real newsletter (about 25 KB of HTML) with all four tokens."""
    tokens = new_placeholders()
    links = "".join(
        f'<a href="{tokens[name]}">{name}</a> ' for name in tokens if name != "first_name"
    )
    html = (
        f"<html><body><table><tr><td>Hello {tokens['first_name']},</td></tr>"
        + PARAGRAPH * 60
        + '<tr><td><a href="https://harbourside-clinic.example/book?utm_source=clinicmail">'
        f"Book</a></td></tr><tr><td>{links}</td></tr></table></body></html>"
    )
    text = f"Hello {tokens['first_name']},\n\n" + "Tight hamstrings pull on the pelvis.\n" * 60
    text += "".join(f"{name}: {tokens[name]}\n" for name in tokens if name != "first_name")
    return RenderedVariant(
        campaign="legs-for-back-pain",
        segment="desk_workers",
        segment_code="d3sk",
        subject="Why we massage your legs for back pain",
        preheader="",
        html=html,
        text=text,
        html_tokens=tokens,
        text_tokens=tokens,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=4)
    options = parser.parse_args()
    settings = load_settings(REPO)
    variant = sample_variant()
    people = [
        Recipient(
            n,
            f"client{n}@example.com",
            recipient_values(settings, n, f"client{n}@example.com", "Sam", n),
        )
        for n in range(options.recipients)
    ]
    batches = [
        people[i : i + MAX_PERSONALIZATIONS] for i in range(0, len(people), MAX_PERSONALIZATIONS)
    ]
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"{len(people)} recipients in {len(batches)} batches, {options.threads} threads")

    with LocalSendGridServer(benchmark=True, keep_in_memory=False) as server:
        backend = SendGridBackend(
            settings.model_copy(
                update={
                    "delivery": settings.delivery.model_copy(
                        update={"concurrency": options.threads}
                    )
                }
            ),
            api_host=server.url,
            api_key="SG.bench",
        )
        queue = list(batches)
        lock = threading.Lock()
        outcomes: list[str] = []

        def drain() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    batch = queue.pop()
                outcomes.extend(result.outcome for result in backend.send_batch(variant, batch))

        threads = [threading.Thread(target=drain) for _ in range(options.threads)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        backend_seconds = time.perf_counter() - started
        assert outcomes.count("sent") == len(people), "the backend did not send everything"
        assert server.stats()["accepted_recipients"] == len(people)

        body = prebuilt_body(settings, variant, batches[0])
        baseline = measure_accept_rate(
            server.url, body, len(batches[0]), requests=len(batches), concurrency=options.threads
        )
    with LocalSendGridServer(keep_in_memory=False) as validating:
        checked = measure_accept_rate(
            validating.url,
            body,
            len(batches[0]),
            requests=len(batches),
            concurrency=options.threads,
        )

    backend_rate = len(people) / backend_seconds
    base_rate = baseline.recipients_per_second
    checked_rate = checked.recipients_per_second
    print(f"request body: {len(body) / 1e6:.2f} MB per 1,000 recipients")
    print(f"baseline (plain client, pre-built bodies): {base_rate:,.0f} recipients/s")
    print(f"SendGrid backend (library builds each request): {backend_rate:,.0f} recipients/s")
    print(f"ratio backend / baseline: {backend_rate / base_rate:.2f}")
    print(f"server with schema validation: {checked_rate:,.0f} recipients/s")
    print(f"ratio validating / baseline: {checked_rate / base_rate:.2f}")


if __name__ == "__main__":
    main()
