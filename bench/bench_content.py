"""Benchmark: article import. Parses a content/ folder of many articles (the sample Markdown
articles and pasted-text copies, renamed) and syncs it into SQLite twice.

Baseline in the same run: python-frontmatter plus markdown-it rendering the same Markdown files
to HTML, the least any Markdown import must do. The ratio says what our parse (blocks, calls to
action, warnings, hashing) costs on top.

    .venv/bin/python bench/bench_content.py                 # 600 articles
    .venv/bin/python bench/bench_content.py --articles 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import frontmatter  # noqa: E402
from markdown_it import MarkdownIt  # noqa: E402

from pipeline.config import load_settings  # noqa: E402
from pipeline.content import content_files, parse_path, sync_content, workspace_links  # noqa: E402
from pipeline.store import open_engine, upgrade  # noqa: E402


def machine() -> str:
    return (
        f"{platform.platform()} | {os.cpu_count()} CPUs | Python {platform.python_version()} | "
        f"{platform.processor() or platform.machine()}"
    )


def make_workspace(root: Path, count: int) -> Path:
    shutil.copy(REPO / "clinic.toml", root / "clinic.toml")
    content = root / "content"
    content.mkdir()
    markdown = sorted((REPO / "content").glob("*.md"))
    texts = sorted((REPO / "tests" / "fixtures" / "content" / "text").glob("*.txt"))
    for number in range(count):
        if number % 4 == 3:
            source = texts[number % len(texts)]
            (content / f"pasted-{number}.txt").write_bytes(source.read_bytes())
        else:
            source = markdown[number % len(markdown)]
            text = source.read_text(encoding="utf-8")
            slug = source.stem
            (content / f"{slug}-{number}.md").write_text(
                text.replace(f"slug: {slug}\n", f"slug: {slug}-{number}\n"), encoding="utf-8"
            )
    return root


def timed(action) -> tuple[float, float, object]:
    """(CPU seconds, wall seconds, result). Ratios use CPU time: on a shared machine wall time
    mostly measures the neighbours."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = action()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=600)
    options = parser.parse_args()
    os.environ.setdefault("CLINICMAIL_SECRET_KEY", "benchmark-secret")
    os.environ.pop("CLINICMAIL_DATABASE_URL", None)
    with tempfile.TemporaryDirectory() as folder:
        root = make_workspace(Path(folder), options.articles)
        settings = load_settings(root)
        files = content_files(root / "content")
        markdown_files = [path for path in files if path.suffix == ".md"]
        renderer = MarkdownIt("commonmark")

        def baseline() -> int:
            return sum(len(renderer.render(frontmatter.load(p).content)) for p in markdown_files)

        links = workspace_links(settings)

        def ours_markdown() -> int:
            return sum(len(parse_path(path, links)) for path in markdown_files)

        def ours_all() -> int:
            return sum(len(parse_path(path, links)) for path in files)

        baseline()  # warm imports and caches for both sides
        ours_markdown()
        baseline_s, baseline_wall, _ = timed(baseline)
        markdown_s, markdown_wall, _ = timed(ours_markdown)
        all_s, all_wall, parsed = timed(ours_all)
        engine = open_engine(settings.database_url)
        upgrade(engine)
        first_s, first_wall, first = timed(lambda: sync_content(engine, settings))
        second_s, second_wall, second = timed(lambda: sync_content(engine, settings))
        engine.dispose()

    markdown_count = len(markdown_files)
    print(machine())
    print(
        f"{options.articles} articles ({markdown_count} Markdown, "
        f"{options.articles - markdown_count} pasted text); CPU seconds (wall in brackets)"
    )
    rows = [
        ("baseline: frontmatter + markdown-it to HTML, Markdown", baseline_s, baseline_wall, ""),
        (
            "clinicmail parse, Markdown",
            markdown_s,
            markdown_wall,
            f"{markdown_s / baseline_s:.2f}x baseline",
        ),
        (
            f"clinicmail parse, all {parsed} articles",
            all_s,
            all_wall,
            f"{parsed / all_s:.0f} articles/s",
        ),
        (
            f"sync into SQLite, first ({len(first.added)} added)",
            first_s,
            first_wall,
            f"{first_s / all_s:.2f}x parse",
        ),
        (
            f"sync into SQLite, again ({len(second.unchanged)} unchanged)",
            second_s,
            second_wall,
            f"{second_s / all_s:.2f}x parse",
        ),
    ]
    for label, cpu, wall, note in rows:
        print(f"{label:<58} {cpu:7.2f} s ({wall:6.2f} s)  {note}".rstrip())


if __name__ == "__main__":
    main()
