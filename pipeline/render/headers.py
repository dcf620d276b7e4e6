"""Folding the subject header at its own spaces, so unfolding never shows two spaces where the
standard library's folder can leave a space before the fold and add another after it."""

from __future__ import annotations

import base64

# RFC 5322 asks for lines of at most 78 characters; RFC 2047 for encoded words of at most 75.
# Encoded words are kept to 68 so that one fits after "Subject: " on the first line too.
LINE_LIMIT = 78
ENCODED_WORD_LIMIT = 68
_PREFIX = "=?utf-8?b?"
_SUFFIX = "?="


def _encoded(text: str) -> list[str]:
    """`text` as base64 encoded words, each within the limit and never splitting a character;
    spaces inside `text` stay inside the words (the space between two encoded words is not
    part of the value)."""
    room = (ENCODED_WORD_LIMIT - len(_PREFIX) - len(_SUFFIX)) // 4 * 3
    words: list[str] = []
    chunk = b""
    for character in text:
        data = character.encode("utf-8")
        if chunk and len(chunk) + len(data) > room:
            words.append(_PREFIX + base64.b64encode(chunk).decode("ascii") + _SUFFIX)
            chunk = b""
        chunk += data
    if chunk:
        words.append(_PREFIX + base64.b64encode(chunk).decode("ascii") + _SUFFIX)
    return words


def _needs_encoding(word: str) -> bool:
    return not word.isascii() or "=?" in word


def _atoms(value: str) -> list[str]:
    """The value's words, runs of words that need encoding joined into encoded words (so the
    spaces between them survive), ready to be joined with single spaces."""
    words = value.split(" ")
    atoms: list[str] = []
    index = 0
    while index < len(words):
        if not _needs_encoding(words[index]):
            atoms.append(words[index])
            index += 1
            continue
        end = index
        while end < len(words) and (_needs_encoding(words[end]) or not words[end]):
            end += 1
        atoms.extend(_encoded(" ".join(words[index:end])))
        index = end
    return atoms


def fold_unstructured(name: str, value: str) -> bytes:
    """`Name: value` CRLF-terminated, folded at the value's own spaces within LINE_LIMIT where
    a word allows it."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {name} header may not contain a line break")
    lines = [f"{name}:"]
    for index, atom in enumerate(_atoms(value)):
        if index and atom and len(lines[-1]) + 1 + len(atom) > LINE_LIMIT:
            lines.append("")
        lines[-1] += " " + atom
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
