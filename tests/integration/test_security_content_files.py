"""content/ sync reads only regular files inside content/ (finding 10): a symbolic link to a
file or a folder outside it is never imported, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from pipeline.cli import main
from pipeline.config import load_settings
from pipeline.content import sync_content
from pipeline.store import open_engine
from pipeline.store.tables import articles

SECRET = "Secret rota\n\nroot:x:0:0:root:/root:/bin/bash and other private lines.\n"


def _stored_sources(workspace: Path) -> list[str]:
    engine = open_engine(load_settings(workspace).database_url)
    with engine.connect() as conn:
        paths = conn.execute(select(articles.c.source_path)).scalars().all()
    engine.dispose()
    return sorted(paths)


def test_links_out_of_content_are_not_imported(workspace_db, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.txt").write_text(SECRET, encoding="utf-8")
    (outside / "notes.md").write_text("# Private notes\n\nNot for the blog.\n", encoding="utf-8")
    content = workspace_db / "content"
    (content / "leak.txt").symlink_to(outside / "passwd.txt")
    (content / "linked").symlink_to(outside, target_is_directory=True)
    runner = CliRunner()
    assert runner.invoke(main, ["--workspace", str(workspace_db), "db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["--workspace", str(workspace_db), "content", "sync"])
    assert result.exit_code == 0, result.output
    stored = _stored_sources(workspace_db)
    assert stored, "the regular articles are still imported"
    assert not [path for path in stored if "leak" in path or "linked" in path]


def test_a_link_inside_content_is_left_out_too(workspace_db):
    content = workspace_db / "content"
    original = next(path for path in sorted(content.rglob("*.md")) if path.is_file())
    (content / "copy-of-an-article.md").symlink_to(original)
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    try:
        sync_content(engine, settings)
        with engine.connect() as conn:
            paths = conn.execute(select(articles.c.source_path)).scalars().all()
    finally:
        engine.dispose()
    assert "content/copy-of-an-article.md" not in paths
