"""Scheduling rules and machinery: time rules (quiet hours, closures, grace, DST-safe local
times and cron occurrences) and the single-active-scheduler guard."""

from pipeline.scheduling.timing import (
    beyond_grace,
    local_to_utc,
    next_occurrence,
    parse_local_time,
    sending_allowed,
)

__all__ = ["beyond_grace", "local_to_utc", "next_occurrence", "parse_local_time", "sending_allowed"]
