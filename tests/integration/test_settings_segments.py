"""campaigns/segments.yaml is read once per settings load and passed down; a long-running worker
reads it again when it sees the file change."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import load_settings
from pipeline.segments import spec as segment_spec


def test_segments_are_read_once_per_settings_load(workspace: Path, monkeypatch):
    reads: list[Path] = []
    parse = segment_spec.parse_segments

    def counting(path: Path, shown_as: str | None = None):
        reads.append(path)
        return parse(path, shown_as)

    monkeypatch.setattr(segment_spec, "parse_segments", counting)
    settings = load_settings(workspace)
    first = settings.segments
    assert settings.segments is first
    assert [segment.name for segment in first][-1] == "general"
    assert len(reads) == 1
    assert load_settings(workspace).segments == first
    assert len(reads) == 2


def test_an_edited_file_is_read_again_only_when_asked(workspace: Path):
    settings = load_settings(workspace)
    before = settings.segments
    path = workspace / "campaigns" / "segments.yaml"
    path.write_text(path.read_text().replace("label: ", "label: Edited ", 1), encoding="utf-8")
    assert settings.segments is before
    fresh = settings.with_segments_reread()
    assert [s.label for s in fresh.segments if s.label.startswith("Edited ")] != []
    assert fresh.database_url == settings.database_url
    assert settings.segments is before
