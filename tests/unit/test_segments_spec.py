"""campaigns/segments.yaml: the shipped file loads, and each mistake is reported with the file,
line, segment and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import SpecError
from pipeline.models import Condition, Rule
from pipeline.segments import load_segments, parse_segments

REPO = Path(__file__).resolve().parents[2]


def test_shipped_segments_load_in_priority_order_with_general_last():
    segments = load_segments(REPO)
    assert [s.name for s in segments] == ["post_op", "athletes", "desk_workers", "general"]
    by_name = {s.name: s for s in segments}
    assert by_name["post_op"].sensitive and not by_name["athletes"].sensitive
    assert by_name["general"].rule is None
    assert len({s.code for s in segments}) == 4
    for segment in segments:
        assert segment.name not in segment.code
        assert segment.topics
    assert Condition("attributes.surgery_date", "within", ("months", 12)) in (
        by_name["post_op"].rule.terms
    )
    hash(by_name["post_op"])  # frozen all the way down


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "segments.yaml"
    path.write_text(text, encoding="utf-8")
    return path


VALID = """\
segments:
  runners:
    label: Runners
    code: r9x1
    priority: 5
    rule:
      all:
        - tags: {equals: runner}
        - not:
            - attributes.injury: present
    topics:
      running: 2
"""


def test_nested_rules_parse_into_the_models(tmp_path):
    [runners, general] = parse_segments(_write(tmp_path, VALID))
    assert runners.rule == Rule(
        "all",
        (
            Condition("tags", "equals", "runner"),
            Rule("not", (Condition("attributes.injury", "present", True),)),
        ),
    )
    assert general.name == "general" and general.rule is None


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("code: r9x1", "code: runners1"), 4, "opaque"),
        (("code: r9x1", "code: R-1"), 4, "lower-case letters or digits"),
        (("priority: 5", "priority: high"), 5, "whole number"),
        (("{equals: runner}", "{equal: runner}"), 8, "unknown operator 'equal'"),
        (("{equals: runner}", "{in: runner}"), 8, "non-empty list"),
        (("attributes.injury: present", "attributes.Injury: present"), 10, "attributes.<name>"),
        (("attributes.injury: present", "tags: {within: {days: 3}}"), 10, "date attribute"),
        (("attributes.injury: present", "attributes.op: {within: {weeks: 3}}"), 10, "months"),
        (("      all:", "      every:"), 7, "all, any or not"),
        (("running: 2", "running: -1"), 12, "positive number"),
        (("    label: Runners\n", ""), 3, "'label' is required"),
        (("priority: 5", "priority: 5\n    colour: red"), 6, "unknown key"),
        (("  runners:", "  Runners:"), 2, "segment name"),
    ],
)
def test_mistakes_name_file_line_segment_and_key(tmp_path, change, line, words):
    path = _write(tmp_path, VALID.replace(*change))
    with pytest.raises(SpecError) as caught:
        parse_segments(path, shown_as="campaigns/segments.yaml")
    message = str(caught.value)
    assert message.startswith(f"campaigns/segments.yaml:{line}: segment "), message
    assert words in message


def test_duplicate_codes_and_keys_are_refused(tmp_path):
    twice = VALID + VALID.split("\n", 1)[1].replace("runners:", "joggers:")
    with pytest.raises(SpecError, match=r"segments.yaml:15: segment 'joggers', key 'code'.*r9x1"):
        parse_segments(_write(tmp_path, twice))
    with pytest.raises(SpecError, match="appears twice"):
        parse_segments(_write(tmp_path, VALID.replace("    priority: 5", "    code: r9x2")))


def test_broken_yaml_and_general_with_a_rule(tmp_path):
    with pytest.raises(SpecError, match=r"segments.yaml:2: not valid YAML"):
        parse_segments(_write(tmp_path, "segments:\n  a: b: c\n"))
    general = "segments:\n  general:\n    label: All\n    code: g1g1\n    rule: {any: []}\n"
    with pytest.raises(SpecError, match=r":5: segment 'general', key 'rule': general has no rule"):
        parse_segments(_write(tmp_path, general))
    with pytest.raises(SpecError, match="file not found"):
        load_segments(tmp_path)
