"""Segments: their definitions in campaigns/segments.yaml and how well an article fits each.

Who is in a segment is decided in SQL (pipeline.store.contacts.segment_condition).
"""

from pipeline.segments.relevance import score_article, tokens
from pipeline.segments.spec import (
    SEGMENTS_FILE,
    load_segments,
    parse_segments,
    read_yaml,
    segment_label,
)

__all__ = [
    "SEGMENTS_FILE",
    "load_segments",
    "parse_segments",
    "read_yaml",
    "score_article",
    "segment_label",
    "tokens",
]
