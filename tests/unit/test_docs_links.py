"""The README and the pages in docs/: every relative link leads to a file that exists and, with
a #fragment, to a heading of that page; the README fits in 150 lines."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MOST_LINES = 150

_FENCED = re.compile(r"^```.*?^```", re.M | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text outside code and comments, where a link is a link."""
    return _INLINE_CODE.sub("", _FENCED.sub("", _COMMENT.sub("", text)))


def anchors(page: Path) -> set[str]:
    """The fragments GitHub gives the page's headings: lower case, punctuation dropped, spaces
    as hyphens, and -1, -2 ... after a repeated one."""
    found: set[str] = set()
    text = _FENCED.sub("", _COMMENT.sub("", page.read_text(encoding="utf-8")))
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, number = slug, 0
        while candidate in found:
            number += 1
            candidate = f"{slug}-{number}"
        found.add(candidate)
    return found


def _links():
    for page in PAGES:
        for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):
                yield page, target


LINKS = list(_links())


def test_pages_have_relative_links():
    assert len(LINKS) > 20
    assert {page.name for page, _ in LINKS} >= {"README.md", "cli.md", "configuration.md"}


@pytest.mark.parametrize(
    ("page", "target"), LINKS, ids=[f"{page.name}->{target}" for page, target in LINKS]
)
def test_relative_link_resolves(page, target):
    path, _, fragment = target.partition("#")
    destination = (page.parent / path).resolve() if path else page
    assert destination.exists(), f"{page.name}: {target} leads to no file"
    if fragment:
        assert destination.suffix == ".md", f"{page.name}: {target} has a fragment on a non-page"
        assert fragment in anchors(destination), f"{page.name}: {target} has no such heading"


def test_anchors_follow_github_rules():
    assert anchors(REPO / "docs" / "cli.md") >= {"clinicmail-campaign-send", "clinicmail-users"}
    assert "the-owners-report" in anchors(REPO / "docs" / "scheduling.md")


def test_readme_fits_in_150_lines():
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MOST_LINES, f"README.md has {lines} lines; move detail to docs/"
