"""Reading a contacts CSV as booking systems write it: UTF-8 with or without a BOM, else
Windows-1252; comma, semicolon or tab; CRLF; quoted fields with embedded newlines. Streamed row
by row, with row numbers as a spreadsheet shows them (the header is row 1)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import CsvError

_PROBE_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t")
# Booking-system exports have a few dozen columns and short cells; past these it is not one.
MAX_COLUMNS = 200
MAX_CELL_CHARS = 64 * 1024


def detect_encoding(path: Path) -> str:
    """ "utf-8-sig" when the whole file is UTF-8 (a BOM is dropped), else "cp1252", the encoding
    Excel on Windows writes. Read in blocks, so memory stays bounded."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while block := handle.read(_PROBE_BYTES):
                if b"\x00" in block:
                    raise CsvError(
                        "holds NUL bytes, so it is not a CSV text file (a spreadsheet, or "
                        "UTF-16 text?); save it as CSV UTF-8",
                        path=str(path),
                    )
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
        handle.seek(0)
        windows_decoder = codecs.getincrementaldecoder("cp1252")()
        offset = 0
        while block := handle.read(_PROBE_BYTES):
            try:
                windows_decoder.decode(block)
            except UnicodeDecodeError as error:
                raise CsvError(
                    f"neither UTF-8 nor Windows-1252 text (byte 0x{block[error.start]:02x} at "
                    f"offset {offset + error.start}); save the export as CSV UTF-8",
                    path=str(path),
                ) from None
            offset += len(block)
    return "cp1252"


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a file from its header line: the most frequent of comma, semicolon and
    tab outside quotes (comma when none appears)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for character in header_line:
        if character == '"':
            quoted = not quoted
        elif not quoted and character in counts:
            counts[character] += 1
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


class _CountingReader(io.RawIOBase):
    """A raw file that counts the bytes read through it: progress without tell() (which a text
    file refuses while csv iterates it)."""

    def __init__(self, handle) -> None:
        self._handle = handle
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._handle.readinto(buffer)
        self.consumed += count
        return count


@dataclass(frozen=True)
class CsvRow:
    number: int  # as a spreadsheet shows it: the header is row 1
    cells: list[str]


@dataclass
class OpenCsv:
    headings: list[str]
    rows: Iterator[CsvRow]
    encoding: str
    delimiter: str
    size: int
    consumed: Callable[[], int]


@contextmanager
def open_csv(path: Path) -> Iterator[OpenCsv]:
    """Open a contacts file and read its header; its data rows stream from `.rows`. A file that
    cannot be read at all raises CsvError, mid-way too (the importer then writes nothing)."""
    shown = str(path)
    if path.is_dir():
        raise CsvError("is a folder, not a CSV file", path=shown)
    if not path.is_file():
        raise CsvError("file not found", path=shown)
    encoding = detect_encoding(path)
    with path.open("rb") as binary:
        first_line = binary.readline()
        binary.seek(0)
        delimiter = sniff_delimiter(first_line.decode(encoding, errors="replace"))
        counter = _CountingReader(binary)
        text = io.TextIOWrapper(io.BufferedReader(counter), encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        try:
            headings = next(reader, None)
        except csv.Error as error:
            raise CsvError(f"row 1 cannot be read: {error}", path=shown, line=1) from None
        if not headings or not any(cell.strip() for cell in headings):
            raise CsvError("the file is empty: expected a header row such as 'Email,First Name'",
                           path=shown)  # fmt: skip
        _check_size(headings, 1, shown)
        yield OpenCsv(
            headings=headings,
            rows=_rows(reader, shown),
            encoding=encoding,
            delimiter=delimiter,
            size=path.stat().st_size,
            consumed=lambda: counter.consumed,
        )


def _rows(reader, shown: str) -> Iterator[CsvRow]:
    number = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CsvError(
                f"row {number + 1} cannot be read ({error}); the file is not valid CSV, so "
                "nothing was imported",
                path=shown,
            ) from None
        number += 1
        _check_size(cells, number, shown)
        if any(cell.strip() for cell in cells):
            yield CsvRow(number, cells)


def _check_size(cells: list[str], number: int, shown: str) -> None:
    """A row past MAX_COLUMNS or a cell past MAX_CELL_CHARS makes the whole file unusable."""
    if len(cells) > MAX_COLUMNS:
        raise CsvError(
            f"row {number} has {len(cells):,} columns; a contacts file may have at most "
            f"{MAX_COLUMNS}, so nothing was imported",
            path=shown,
        )
    for index, cell in enumerate(cells):
        if len(cell) > MAX_CELL_CHARS:
            raise CsvError(
                f"row {number}, column {index + 1} holds {len(cell):,} characters; a cell may "
                f"hold at most {MAX_CELL_CHARS:,}, so nothing was imported",
                path=shown,
            )
