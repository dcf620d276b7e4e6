"""What one trigger firing did, as the scheduler logs it and the CLI prints it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["started", "missed", "failed", "not due", "not scheduled", "already started"]


@dataclass(frozen=True)
class FireReport:
    slug: str
    outcome: Outcome | str
    detail: str = ""
