"""Rendering benchmark: one variant rendered (Jinja2 + mrml), then complete MIME messages for
100,000 recipients (signed links, tokens filled, wire bytes), against the bare cost of
`email.message` building the same message in the same run.

Run: .venv/bin/python bench/bench_render.py [--recipients 100000] [--baseline 5000]

Rates are per core: messages per second of this process's CPU time (one thread), so other work
on the machine does not count against them; wall-clock time is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("CLINICMAIL_SECRET_KEY", "benchmark-secret-key-not-for-production")

from pipeline.campaigns import choose_excerpt  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.content import ClinicLinks, parse_path  # noqa: E402
from pipeline.models import Recipient, Relevance, Variant  # noqa: E402
from pipeline.render.compile import render_variant  # noqa: E402
from pipeline.render.message import mime_bytes, personalise, recipient_values  # noqa: E402

FIRST_NAMES = (
    "Amelia",
    "Oliver",
    "Zoë",
    "Siobhán",
    "Mohammed",
    "",
    "Chloé",
    "Jack",
    "Ana",
    "Łucja",
)


def machine() -> str:
    return (
        f"{platform.platform()}; {os.cpu_count()} CPUs ({platform.processor() or 'unknown'}); "
        f"Python {platform.python_version()}"
    )


def sample_variant(settings):
    article = parse_path(
        REPO / "content" / "full-treatment-for-back-pain.md", ClinicLinks.from_settings(settings)
    )[0]
    fit = Relevance("athletes", 0.87, {"hamstring": 5}, (2, 4, 7))
    variant = Variant(
        campaign="full-treatment-for-back-pain",
        segment="athletes",
        segment_code="s1a7",
        subject="Tight hamstrings and a sore back? Here is the link",
        preheader="The hamstrings run down the back of the thigh.",
        intro=article.summary,
        excerpt=choose_excerpt(article, fit, None, None, "athletes"),
        score=fit.score,
        matches=fit.matches,
        articles=(article.slug,),
    )
    return variant, [article]


def recipients(count: int):
    for number in range(count):
        yield number + 1, f"client{number}@example.org", FIRST_NAMES[number % len(FIRST_NAMES)]


class Clock:
    """CPU seconds of this process (what one core spent) and wall seconds."""

    def __enter__(self) -> Clock:
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_) -> None:
        self.cpu = time.process_time() - self.cpu
        self.wall = time.perf_counter() - self.wall


def ours(settings, rendered, count: int) -> tuple[Clock, Clock, int]:
    """(complete messages, filling tokens alone, bytes of the last message)."""
    size = 0
    with Clock() as total:
        for send_id, email, first_name in recipients(count):
            values = recipient_values(settings, send_id, email, first_name, send_id)
            message = personalise(rendered, Recipient(send_id, email, values), settings)
            size = len(mime_bytes(message, settings))
    values = recipient_values(settings, 1, "client@example.org", "Zoë", 1)
    recipient = Recipient(1, "client@example.org", values)
    with Clock() as filling:
        for _ in range(count):
            personalise(rendered, recipient, settings)
    return total, filling, size


def bare_email_message(settings, rendered, count: int) -> Clock:
    """The same message (same bodies, same headers) built with email.message and serialised."""
    sender = settings.sender
    domain = sender.email.rpartition("@")[2]
    with Clock() as clock:
        for send_id, email, first_name in recipients(count):
            values = recipient_values(settings, send_id, email, first_name, send_id)
            message = personalise(rendered, Recipient(send_id, email, values), settings)
            built = EmailMessage()
            built["From"] = formataddr((sender.name, sender.email))
            built["Reply-To"] = sender.reply_to
            built["To"] = message.to
            built["Subject"] = message.subject
            built["Date"] = formatdate(usegmt=True)
            built["Message-ID"] = make_msgid(idstring=str(send_id), domain=domain)
            for name, value in message.headers.items():
                built[name] = value
            built.set_content(message.text)
            built.add_alternative(message.html, subtype="html")
            built.as_bytes()
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=5_000, help="messages for the baseline")
    args = parser.parse_args()
    settings = load_settings(REPO)
    variant, articles = sample_variant(settings)

    render_variant(settings, variant, articles, "single")  # templates loaded and compiled once
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        rendered = render_variant(settings, variant, articles, "single")
        timings.append(time.perf_counter() - started)
    print(f"machine: {machine()}")
    print(
        f"render one variant (Jinja2 + mrml): median {statistics.median(timings) * 1000:.2f} ms "
        f"over 50 ({len(rendered.html):,} bytes of HTML)"
    )

    total, filling, size = ours(settings, rendered, args.recipients)
    rate = args.recipients / total.cpu
    print(
        f"fill tokens for one recipient (personalise): {filling.cpu / args.recipients * 1e6:.1f} µs"
    )
    print(
        f"clinicmail: {args.recipients:,} complete MIME messages (signed links, tokens, wire "
        f"bytes; {size:,} bytes each): {total.cpu:.2f} s CPU ({total.wall:.2f} s wall) = "
        f"{rate:,.0f} messages/s per core"
    )
    baseline = bare_email_message(settings, rendered, args.baseline)
    baseline_rate = args.baseline / baseline.cpu
    print(
        f"baseline: email.message building and serialising the same message, {args.baseline:,}: "
        f"{baseline.cpu:.2f} s CPU ({baseline.wall:.2f} s wall) = {baseline_rate:,.0f} messages/s"
    )
    print(f"ratio: {rate / baseline_rate:.1f}x the email.message baseline (target: 5,000/s/core)")


if __name__ == "__main__":
    main()
