"""Plain text as pasted from a clinic blog: a title line (or none), paragraphs between blank
lines, calls to action without URLs, and pasted-in typography made plain."""

from __future__ import annotations

import re
from pathlib import PurePath

from pipeline.models import Article, Block, ParseWarning

from .assemble import Paragraph, Parts, build_article
from .links import ClinicLinks, LinkSpan, is_call_to_action
from .text import count_words, normalise, sentences, slugify

_BULLET = re.compile(r"^(?:[-*•·–]|\d{1,2}[.)])\s+")
_QUOTE = re.compile(r"^>\s?")
_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)]")
_MAX_TITLE_WORDS = 16
# Where a title without a title line came from, as its warning says.
FILE_NAME = "file name"
_MAX_HEADING_WORDS = 10
_TITLE_WORDS_FROM_SENTENCE = 12
# File names that say nothing about the article ("untitled.txt", "post-3.txt", "copy of draft").
_GENERIC_NAME_WORDS = frozenset({
    "article", "blog", "content", "copy", "doc", "document", "draft", "export", "file", "final",
    "new", "of", "page", "paste", "pasted", "post", "text", "untitled", "version",
})  # fmt: skip


def parse_plain_text(text: str, path: str, links: ClinicLinks) -> Article:
    groups = _groups(normalise(text))
    parts = Parts(slug=slugify(PurePath(path).stem), title="", source_path=path, source_kind="text")
    first_line, first_lines = groups[0]
    if _is_title_line(first_lines):
        parts.title = first_lines[0].rstrip(":")
        rest = first_lines[1:]
        groups = ([(first_line + 1, rest)] if rest else []) + groups[1:]
    else:
        parts.title, origin = _fallback_title(path, first_lines)
        parts.warnings.append(
            ParseWarning(
                first_line,
                f'no title line: the title "{parts.title}" was taken from the {origin}; '
                "put the title on the first line to choose it",
            )
        )
    for index, (line, lines) in enumerate(groups):
        is_last = index == len(groups) - 1
        if not is_last and _is_heading(lines):
            parts.blocks.append(Block("heading", lines[0].rstrip(":"), level=2, line=line))
            continue
        _read_group(line, lines, parts)
    if not parts.slug:
        parts.slug = slugify(parts.title)
    return build_article(parts, links)


def _groups(text: str) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines, each with the number of its first line."""
    groups: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line:
            if not current:
                groups.append((number, current))
            current.append(line)
        else:
            current = []
    return groups


def _is_title_line(lines: list[str]) -> bool:
    candidate = lines[0]
    if (
        count_words(candidate) > _MAX_TITLE_WORDS
        or len(candidate) > 120
        or re.search(r"[.,;]$", candidate)
        or _BULLET.match(candidate)
        or is_call_to_action(candidate)
    ):
        return False
    # A first line directly followed by more lines is a title only when it reads as one,
    # not as the first line of a hard-wrapped paragraph.
    return len(lines) == 1 or candidate.endswith(("?", "!")) or candidate.istitle()


def _is_heading(lines: list[str]) -> bool:
    line = lines[0]
    return (
        len(lines) == 1
        and count_words(line) <= _MAX_HEADING_WORDS
        and not re.search(r"[.,;!]$", line)
        and not _BULLET.match(line)
        and not _URL.search(line)
        and not is_call_to_action(line)
    )


def title_from_file_name(name_words: list[str]) -> str:
    """Sentence case from a file name's words: "GLUTE_MASSAGE" and "glute-massage" both give
    "Glute massage"; a short capitalised word in a name that is not all capitals stays as it
    is ("itb-and-IT-band" keeps "IT"), as does a word with capitals inside ("McKenzie")."""
    shouting = all(word.isupper() for word in name_words if word.isalpha())
    cased = []
    for word in name_words:
        keep = not shouting and (
            (word.isupper() and len(word) <= 4)
            or (word[:1].islower() and word != word.lower())
            or (word[:1].isupper() and word[1:] != word[1:].lower())
        )
        cased.append(word if keep else word.lower())
    title = " ".join(cased)
    title = re.sub(r"\bi\b", "I", title)
    return title[:1].upper() + title[1:]


def _fallback_title(path: str, lines: list[str]) -> tuple[str, str]:
    """A title for copy without a title line: the file name when it says something, else the
    first sentence (shortened)."""
    name_words = re.split(r"[\s_\-.]+", PurePath(path).stem)
    meaningful = [
        word for word in name_words if word.isalpha() and word.lower() not in _GENERIC_NAME_WORDS
    ]
    if len(meaningful) >= 2:
        return title_from_file_name([word for word in name_words if word]), FILE_NAME

    first = next(sentences(" ".join(lines)))[1]
    title_words = first.rstrip(".!").split()
    title = " ".join(title_words[:_TITLE_WORDS_FROM_SENTENCE])
    if len(title_words) > _TITLE_WORDS_FROM_SENTENCE:
        title = title.rstrip(",;:") + "…"
    return title, "first sentence"


def _read_group(line: int, lines: list[str], parts: Parts) -> None:
    """One run of lines: prose lines, bullet lines and quoted lines, in order."""
    run: list[str] = []
    run_start = line
    run_kind = ""
    for number, text in enumerate(lines, start=line):
        kind = "list" if _BULLET.match(text) else "quote" if _QUOTE.match(text) else "prose"
        if kind != run_kind and run:
            _emit(run_kind, run_start, run, parts)
            run = []
        if not run:
            run_start, run_kind = number, kind
        run.append(text)
    _emit(run_kind, run_start, run, parts)


def _emit(kind: str, line: int, lines: list[str], parts: Parts) -> None:
    if kind == "list":
        items = tuple(_BULLET.sub("", text) for text in lines)
        parts.blocks.append(Block("list", "\n".join(items), items=items, line=line))
    elif kind == "quote":
        text = " ".join(_QUOTE.sub("", text) for text in lines)
        parts.blocks.append(Block("quote", text, line=line))
    else:
        text = "\n".join(lines)
        spans = [LinkSpan(match.start(), match.end(), match[0]) for match in _URL.finditer(text)]
        parts.blocks.append(Paragraph(text, line, spans))


def title_is_file_name(article: Article) -> bool:
    """Whether the article's title was made from its file name (it had no title line)."""
    marker = f"was taken from the {FILE_NAME}"
    return any(marker in warning.message for warning in article.warnings)
