"""Text helpers every article parser shares: decoding a file's bytes with a clear error,
normalising pasted text, slugs, sentences, word counts and summaries."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from pipeline.errors import ContentError

# Characters clinic blog copy brings in from word processors and web pages, and what they mean.
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u3000"), " ")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_QUOTES = {
    ord("\u2018"): "'",
    ord("\u2019"): "'",
    ord("\u201a"): "'",
    ord("\u201b"): "'",
    ord("\u2032"): "'",
    ord("\u201c"): '"',
    ord("\u201d"): '"',
    ord("\u201e"): '"',
    ord("\u201f"): '"',
    ord("\u2033"): '"',
}
_NORMALISE = {**_SPACES, **_INVISIBLE, **_QUOTES}

_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
# Control characters that never occur in text (line breaks, tabs and form feeds do).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f]+(?:['-][A-Za-z0-9\u00c0-\u024f]+)*")
_SUMMARY_CHARACTERS = 200


def refuse_empty(data: bytes, path: str) -> None:
    if not data.strip():
        raise ContentError("the file is empty: write the article into it", path=path)


def decode(data: bytes, path: str) -> str:
    """The text of a file, or a ContentError saying why it is not usable text."""
    refuse_empty(data, path)
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ContentError(
            "this is a binary file, not text: save the article as .md, .txt, .html or a feed",
            path=path,
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise _undecodable(data, error, path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _undecodable(data, error, path) from None
    control = len(_CONTROL.findall(text, 0, 4096))
    if control > max(8, len(text[:4096]) // 20):
        raise ContentError(
            "this looks like a binary file, not text: save the article as .md, .txt or .html",
            path=path,
        )
    return text


def _undecodable(data: bytes, error: UnicodeDecodeError, path: str) -> ContentError:
    line = data[: error.start].count(b"\n") + 1
    byte = data[error.start : error.start + 1].hex()
    return ContentError(
        f"the text is not UTF-8 (byte 0x{byte} cannot be read): save the file as UTF-8",
        path=path,
        line=line,
    )


def normalise_characters(text: str) -> str:
    """Line endings, non-breaking and odd spaces, invisible characters and curly quotes made
    plain; layout (indentation, runs of spaces) is left alone, as Markdown gives it meaning."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_NORMALISE)
    return unicodedata.normalize("NFC", text)


def normalise(text: str) -> str:
    """Pasted copy made regular: `normalise_characters`, then tabs and runs of spaces (two after
    a full stop) become one space and lines are trimmed. Line breaks are kept."""
    lines = normalise_characters(text).replace("\t", " ").split("\n")
    return "\n".join(re.sub(r" {2,}", " ", line).strip() for line in lines)


def clean_inline(text: str) -> str:
    """One line of text: normalised, with every run of whitespace a single space."""
    return re.sub(r"\s+", " ", normalise(text)).strip()


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].rstrip("-")


def sentences(text: str) -> Iterator[tuple[int, str]]:
    """(offset, sentence) for each sentence of `text`; a line break also ends a sentence, as
    pasted copy often puts a call to action on a line of its own without a full stop."""
    start = 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end]
        if piece.strip():
            yield start + len(piece) - len(piece.lstrip()), piece.strip()
        if match:
            start = match.end()


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def summarise(paragraphs: list[str]) -> str:
    """A summary from the first paragraph: whole sentences up to about 200 characters."""
    if not paragraphs:
        return ""
    chosen = ""
    for _, sentence in sentences(paragraphs[0]):
        candidate = f"{chosen} {sentence}".strip()
        if chosen and len(candidate) > _SUMMARY_CHARACTERS:
            break
        chosen = candidate
    if len(chosen) > _SUMMARY_CHARACTERS:
        chosen = chosen[:_SUMMARY_CHARACTERS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return chosen
