"""The one YAML loader every file goes through (campaigns, segments.yaml, --mapping files and
article front matter): PyYAML's safe subset without anchors and aliases, and with a bound on
nesting, so a small file cannot expand into gigabytes or exhaust the stack."""

from __future__ import annotations

from typing import Any

import yaml

# Real files nest five or six levels (segment rules inside all/any/not); far more is an attack.
MAX_DEPTH = 40


class YamlRefused(Exception):
    """What is wrong and the 1-based line where, for the caller to report with its file."""

    def __init__(
        self, reason: str, line: int | None, *, invalid: bool = False, opened_at: int | None = None
    ) -> None:
        self.reason = reason
        self.message = f"not valid YAML: {reason}" if invalid else reason
        self.line = line
        # Where the construct that went wrong began (an unclosed "[", say), when YAML says.
        self.opened_at = opened_at or line
        super().__init__(self.message)


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (the "billion laughs" expands them) and nodes nested
    deeper than MAX_DEPTH, both while composing, before anything is built."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YamlRefused(
                "YAML aliases ('*name') are not accepted: write the value out in full",
                event.start_mark.line + 1,
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            event = self.peek_event()
            raise YamlRefused(
                f"nested more than {MAX_DEPTH} levels deep", event.start_mark.line + 1
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def compose_yaml(text: str) -> tuple[BoundedLoader, yaml.Node | None]:
    """The node tree of a one-document YAML text and the loader to construct values with
    (the caller disposes of it). Raises YamlRefused for anything not valid or not allowed."""
    try:
        loader = BoundedLoader(text)
    except yaml.reader.ReaderError as error:
        raise _unreadable(text, error) from None
    try:
        return loader, loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        loader.dispose()
        mark = error.problem_mark or error.context_mark
        opened = error.context_mark
        problem = " ".join(str(error.problem or error.context or "not valid YAML").split())
        raise YamlRefused(
            problem,
            mark.line + 1 if mark else None,
            invalid=True,
            opened_at=opened.line + 1 if opened else None,
        ) from None
    except yaml.reader.ReaderError as error:
        loader.dispose()
        raise _unreadable(text, error) from None
    except YamlRefused:
        loader.dispose()
        raise


def _unreadable(text: str, error: yaml.reader.ReaderError) -> YamlRefused:
    """A character YAML does not allow (a NUL byte, most often), with its line."""
    line = text.count("\n", 0, error.position) + 1
    shown = "a NUL byte" if error.character in (0, "\0") else f"character {error.character!r}"
    return YamlRefused(f"{shown} is not allowed in YAML text", line, invalid=True)


def load_yaml(text: str) -> Any:
    """The plain values of a one-document YAML text (for front matter); see compose_yaml."""
    loader, node = compose_yaml(text)
    try:
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
