"""YAML mappings and sequences that know their line numbers, so errors can name the line.

`pipeline.segments.spec.read_yaml` builds them; the segment, voice, column and campaign readers
check and walk them."""

from __future__ import annotations

from typing import Any


class LinedDict(dict[Any, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    lines: dict[Any, int]


class LinedList(list[Any]):
    """A YAML sequence that remembers the line of itself and of each item."""

    line: int = 0
    lines: list[int]
