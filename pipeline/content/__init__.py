"""Articles: Markdown with front matter (the house format), plain text pasted from a blog,
HTML pages and RSS/Atom feeds, parsed into `Article`s and synced into the database."""

from pipeline.article_document import article_document, article_from_document, content_hash

from .links import ClinicLinks, KnownArticle
from .sources import is_url, parse_bytes, parse_path, parse_source
from .sync import SyncReport, content_files, import_sources, sync_content, workspace_links

__all__ = [
    "ClinicLinks",
    "KnownArticle",
    "SyncReport",
    "article_document",
    "article_from_document",
    "content_files",
    "content_hash",
    "import_sources",
    "is_url",
    "parse_bytes",
    "parse_path",
    "parse_source",
    "sync_content",
    "workspace_links",
]
