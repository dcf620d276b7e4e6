"""campaigns/segments.yaml: reading it with line numbers and validating it into Segment objects.

Errors name the file, the line, the segment and the key. Rules are data (all / any / not over
conditions); nothing in the file is ever evaluated as code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import SpecError
from pipeline.models import GENERAL_SEGMENT, Condition, Rule, Segment, Topic
from pipeline.segments.relevance import tokens
from pipeline.segments.revealing import revealing_words
from pipeline.segments.voice import parse_voice

SEGMENTS_FILE = Path("campaigns") / "segments.yaml"
OPERATORS = ("equals", "in", "contains", "present", "within")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_CODE = re.compile(r"^[a-z0-9]{3,12}$")
_ATTRIBUTE_FIELD = re.compile(r"^attributes\.([a-z][a-z0-9_]*)$")
_SEGMENT_KEYS = ("label", "code", "sensitive", "priority", "rule", "topics", "voice")
_TOPIC_KEYS = ("weight", "variants", "not", "exact")
DEFAULT_GENERAL = Segment(
    name=GENERAL_SEGMENT, label="Everyone else", code="g0", sensitive=False, priority=0, rule=None
)


class LinedDict(dict):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    lines: dict[Any, int]


class LinedList(list):
    """A YAML sequence that remembers the line of itself and of each item."""

    line: int = 0
    lines: list[int]


def read_yaml(path: Path, shown_as: str | None = None) -> Any:
    """Parse a YAML file into plain values whose mappings and lists know their line numbers.
    Duplicate keys are an error (PyYAML would silently keep the last)."""
    shown = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("file not found", path=shown) from None
    except UnicodeDecodeError:
        raise SpecError("not UTF-8 text", path=shown) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _build(loader, node, shown)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise SpecError(
            f"not valid YAML: {error.problem or error.context}",
            path=shown,
            line=mark.line + 1 if mark else None,
        ) from None
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, shown: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        mapping = LinedDict()
        mapping.line, mapping.lines = node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in mapping:
                raise SpecError(f"key {key!r} appears twice", path=shown, line=line)
            mapping[key] = _build(loader, value_node, shown)
            mapping.lines[key] = line
        return mapping
    if isinstance(node, yaml.SequenceNode):
        sequence = LinedList(_build(loader, item, shown) for item in node.value)
        sequence.line = node.start_mark.line + 1
        sequence.lines = [item.start_mark.line + 1 for item in node.value]
        return sequence
    return loader.construct_object(node, deep=True)


@dataclass
class _Where:
    """Where a value sits: for error messages naming file, line, segment and key."""

    path: str
    segment: str
    key: str
    line: int | None

    def at(self, key: str, line: int | None) -> _Where:
        joined = f"{self.key}.{key}" if self.key and not key.startswith("[") else self.key + key
        return _Where(self.path, self.segment, joined, line or self.line)

    def error(self, message: str) -> SpecError:
        key = f", key {self.key!r}" if self.key else ""
        return SpecError(
            f"segment {self.segment!r}{key}: {message}", path=self.path, line=self.line
        )


def load_segments(workspace: Path) -> list[Segment]:
    """The segments of campaigns/segments.yaml, validated, highest priority first, with
    `general` (mailable contacts in no other segment) last. Raises SpecError naming the file,
    line, segment and key of the first problem."""
    return parse_segments(workspace / SEGMENTS_FILE, shown_as=str(SEGMENTS_FILE))


def parse_segments(path: Path, shown_as: str | None = None) -> list[Segment]:
    shown = shown_as or str(path)
    document = read_yaml(path, shown)
    if not isinstance(document, LinedDict) or "segments" not in document:
        raise SpecError("expected a mapping with a 'segments:' key", path=shown, line=1)
    unknown = [key for key in document if key != "segments"]
    if unknown:
        raise SpecError(
            f"unknown top-level key {unknown[0]!r} (only 'segments')",
            path=shown,
            line=document.lines[unknown[0]],
        )
    definitions = document["segments"]
    if not isinstance(definitions, LinedDict) or not definitions:
        raise SpecError(
            "'segments' must map each segment name to its definition",
            path=shown,
            line=document.lines["segments"],
        )
    segments = [
        _segment(str(name), body, _Where(shown, str(name), "", definitions.lines[name]))
        for name, body in definitions.items()
    ]
    _check_unique_codes(segments, definitions, shown)
    general = next((s for s in segments if s.name == GENERAL_SEGMENT), DEFAULT_GENERAL)
    ruled = [s for s in segments if s.name != GENERAL_SEGMENT]
    if general.code in {s.code for s in ruled}:
        raise SpecError(
            f"segment {GENERAL_SEGMENT!r}: code {general.code!r} is already used", path=shown
        )
    ruled.sort(key=lambda segment: (-segment.priority, segment.name))
    return [*ruled, general]


def _check_unique_codes(segments: list[Segment], definitions: LinedDict, shown: str) -> None:
    seen: dict[str, str] = {}
    for segment in segments:
        if segment.code in seen:
            body = definitions[segment.name]
            raise _Where(shown, segment.name, "code", body.lines.get("code")).error(
                f"code {segment.code!r} is already used by segment {seen[segment.code]!r}"
            )
        seen[segment.code] = segment.name


def _segment(name: str, body: Any, where: _Where) -> Segment:
    if not _NAME.match(name):
        raise where.error("a segment name is lower-case letters, digits and _ (e.g. desk_workers)")
    if not isinstance(body, LinedDict):
        raise where.error("expected a mapping of label, code, sensitive, priority, rule, topics")
    where = _Where(where.path, name, "", body.line)
    for key in body:
        if key not in _SEGMENT_KEYS:
            raise where.at(str(key), body.lines[key]).error(
                f"unknown key (use {', '.join(_SEGMENT_KEYS)})"
            )

    def field(key: str) -> _Where:
        return where.at(key, body.lines.get(key))

    for required in ("label", "code"):
        if required not in body:
            raise where.error(f"{required!r} is required")
    label, code = body["label"], body["code"]
    if not isinstance(label, str) or not label.strip():
        raise field("label").error("must be a non-empty text")
    if not isinstance(code, str) or not _CODE.match(code):
        raise field("code").error("must be 3-12 lower-case letters or digits, e.g. s1a7")
    if name in code or code in name:
        raise field("code").error("must be opaque: it may not spell the segment's name")
    sensitive = body.get("sensitive", False)
    if not isinstance(sensitive, bool):
        raise field("sensitive").error("must be true or false")
    priority = body.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise field("priority").error("must be a whole number (higher wins)")
    if name == GENERAL_SEGMENT:
        if "rule" in body:
            raise field("rule").error("general has no rule: it is everyone in no other segment")
        rule = None
    else:
        if "rule" not in body:
            raise where.error("'rule' is required")
        rule = _rule(body["rule"], field("rule"))
    topics = _topics(body.get("topics", LinedDict()), field("topics"))
    segment = Segment(
        name=name,
        label=label.strip(),
        code=code,
        sensitive=sensitive,
        priority=priority,
        rule=rule,
        topics=topics,
    )
    if "voice" not in body:
        return segment
    voice = parse_voice(
        body["voice"],
        field("voice"),
        sensitive=sensitive,
        reveals=lambda text: revealing_words(text, segment),
    )
    return replace(segment, voice=voice)


def _topics(value: Any, where: _Where) -> tuple[Topic, ...]:
    """`phrase: weight`, or `phrase: {weight: 3, variants: [...], not: [...], exact: true}`:
    other wordings that count as the phrase, senses it must not match, and whether only the
    words as written count (not every word with the same stem)."""
    if not isinstance(value, dict):
        raise where.error("must map each phrase to its weight, e.g. 'posture: 2'")
    topics = []
    for phrase, definition in value.items():
        here = where.at(f"[{phrase!r}]", getattr(value, "lines", {}).get(phrase))
        if not isinstance(phrase, str) or not re.search(r"\w", phrase):
            raise here.error("a topic phrase must contain a word")
        weight, variants, exclude, exact = definition, (), (), False
        if isinstance(definition, LinedDict):
            for key in definition:
                if key not in _TOPIC_KEYS:
                    raise here.at(str(key), definition.lines[key]).error(
                        f"unknown key (use {', '.join(_TOPIC_KEYS)})"
                    )
            weight = definition.get("weight")
            variants = _phrases(definition, "variants", here)
            exclude = _phrases(definition, "not", here)
            _check_senses(phrase, exclude, here.at("not", definition.lines.get("not")))
            exact = definition.get("exact", False)
            if not isinstance(exact, bool):
                raise here.at("exact", definition.lines["exact"]).error("must be true or false")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise here.error("a topic weight must be a positive number")
        topics.append(
            Topic(
                phrase=phrase.strip(),
                weight=float(weight),
                variants=variants,
                exclude=exclude,
                exact=exact,
            )
        )
    return tuple(topics)


def _check_senses(phrase: str, senses: tuple[str, ...], where: _Where) -> None:
    """A sense to leave out must say more than the phrase: small words are skipped when
    matching, so "run from" would read as "run" and leave out every run."""
    wanted = len(tokens(phrase))
    for sense in senses:
        if len(tokens(sense)) <= wanted:
            raise where.error(
                f"{sense!r} reads as no more than {phrase!r} once small words are skipped, so "
                "it would leave out every match; add a word that says which sense it is"
            )


def _phrases(definition: LinedDict, key: str, where: _Where) -> tuple[str, ...]:
    if key not in definition:
        return ()
    value = definition[key]
    here = where.at(str(key), definition.lines[key])
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and re.search(r"\w", item) for item in value)
    ):
        raise here.error(f"{key} takes a non-empty list of phrases")
    return tuple(" ".join(item.split()) for item in value)


def _rule(value: Any, where: _Where) -> Rule:
    if not isinstance(value, LinedDict) or len(value) != 1:
        raise where.error("a rule is a mapping with exactly one of all, any or not")
    mode, terms = next(iter(value.items()))
    here = where.at(str(mode), value.lines[mode])
    if mode not in ("all", "any", "not"):
        raise here.error("a rule starts with all, any or not")
    if not isinstance(terms, LinedList) or not terms:
        raise here.error(f"'{mode}' takes a non-empty list of conditions or rules")
    built: list[Condition | Rule] = []
    for index, term in enumerate(terms):
        term_where = here.at(f"[{index}]", terms.lines[index])
        if not isinstance(term, LinedDict) or len(term) != 1:
            raise term_where.error(
                "each item is one condition ('tags: {in: [runner]}') or a nested all/any/not"
            )
        key = next(iter(term))
        if key in ("all", "any", "not"):
            built.append(_rule(term, term_where))
        else:
            built.append(_condition(str(key), term[key], term_where.at(str(key), term.lines[key])))
    return Rule(mode=mode, terms=tuple(built))


def _condition(field: str, test: Any, where: _Where) -> Condition:
    if field != "tags" and not _ATTRIBUTE_FIELD.match(field):
        raise where.error("a condition tests 'tags' or 'attributes.<name>' (lower-case name)")
    if test == "present":
        return Condition(field=field, op="present", value=True)
    if not isinstance(test, dict) or len(test) != 1:
        raise where.error(
            "expected 'present' or one operator, e.g. {equals: x}, {in: [x, y]}, "
            "{contains: x}, {within: {months: 6}}"
        )
    op, value = next(iter(test.items()))
    where = where.at(str(op), getattr(test, "lines", {}).get(op))
    if op not in OPERATORS:
        raise where.error(f"unknown operator {op!r} (use {', '.join(OPERATORS)})")
    scalar = (str, int, float)
    if op == "equals" and (isinstance(value, bool) or not isinstance(value, scalar)):
        raise where.error("equals takes one value")
    if op == "in" and (
        not isinstance(value, list) or not value or not all(isinstance(v, scalar) for v in value)
    ):
        raise where.error("in takes a non-empty list of values")
    if op == "contains" and not (
        isinstance(value, str)
        or (isinstance(value, list) and value and all(isinstance(v, str) for v in value))
    ):
        raise where.error("contains takes a text or a list of texts")
    if op == "present" and value is not True:
        raise where.error("present takes true (or write the condition as 'field: present')")
    if op == "within":
        if field == "tags":
            raise where.error("within tests a date attribute, not tags")
        if (
            not isinstance(value, dict)
            or len(value) != 1
            or next(iter(value)) not in ("days", "months")
            or not isinstance(next(iter(value.values())), int)
            or isinstance(next(iter(value.values())), bool)
            or next(iter(value.values())) <= 0
        ):
            raise where.error("within takes {days: N} or {months: N} with N a positive number")
        # A (unit, count) pair keeps Segment hashable, as a frozen dataclass should be.
        value = next(iter(value.items()))
    if isinstance(value, list):
        value = tuple(str(item) for item in value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return Condition(field=field, op=op, value=value)


def segment_label(segments: Mapping[str, Segment], name: str) -> str:
    """What people read for a segment: its label from segments.yaml, never its internal name
    when there is a label to show."""
    segment = segments.get(name)
    if segment is not None:
        return segment.label
    return "Everyone else" if name == GENERAL_SEGMENT else name
