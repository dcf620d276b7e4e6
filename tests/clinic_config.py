"""Changing settings in a test workspace's clinic.toml, line by line, so its comments and every
other setting stay as the sample clinic has them."""

from __future__ import annotations

import re
from pathlib import Path


def set_settings(config: Path, section: str, **values: str) -> None:
    """Set `key = value` (values written as TOML, e.g. '""' or "20") in [section] of `config`:
    a key already there is replaced, a new one is added at the top of the section."""
    text = config.read_text(encoding="utf-8")
    header = f"[{section}]\n"
    start = text.index(header) + len(header)
    following = re.search(r"(?m)^\[", text[start:])
    end = start + following.start() if following else len(text)
    body = text[start:end]
    for key, value in values.items():
        line = f"{key} = {value}"
        body, found = re.subn(rf"(?m)^{re.escape(key)} = .*$", lambda _, line=line: line, body)
        if not found:
            body = f"{line}\n{body}"
    config.write_text(text[:start] + body + text[end:], encoding="utf-8")


def send_any_time(config: Path) -> None:
    """No quiet hours and no closure dates: a campaign due now sends now, whatever the day."""
    set_settings(config, "sending", quiet_hours='""', closure_dates="[]")
