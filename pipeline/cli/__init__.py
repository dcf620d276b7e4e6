"""The `clinicmail` command: a thin click group. Each command opens what it needs, calls one
library function and turns library errors into a one-line message with exit code 1."""

from __future__ import annotations

from pipeline.cli.base import main
from pipeline.cli.bookings import register as _register_bookings
from pipeline.cli.campaigns import register as _register_campaigns
from pipeline.cli.contacts import register as _register_contacts
from pipeline.cli.content import register as _register_content
from pipeline.cli.core import register as _register_core
from pipeline.cli.dev import register as _register_dev
from pipeline.cli.metrics import register as _register_metrics
from pipeline.cli.schedule import register as _register_schedule
from pipeline.cli.segments import register as _register_segments
from pipeline.cli.send import register as _register_send
from pipeline.cli.serve import register as _register_serve
from pipeline.cli.users import register as _register_users

_register_core(main)
_register_dev(main)
_register_campaigns(main)
_register_send(main)
_register_metrics(main)
_register_schedule(main)
_register_content(main)
_register_contacts(main)
_register_bookings(main)
_register_segments(main)
_register_serve(main)
_register_users(main)

__all__ = ["main"]
