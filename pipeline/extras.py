"""Optional dependencies, grouped in pyproject's extras by what needs them: a PostgreSQL
database needs `postgres`, and reading web pages and feeds needs `import`. A module that uses one
is imported through `require` when the feature is used, so everything else runs without it and
a missing package is reported as the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from pipeline.errors import MissingExtra

# The top-level modules each extra installs (the distributions in pyproject.toml).
EXTRA_MODULES = {
    "postgres": frozenset({"psycopg"}),
    "import": frozenset({"trafilatura", "lxml", "lxml_html_clean", "feedparser"}),
}


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """`module`, imported; when a package of `extra` is not installed, a MissingExtra saying
    that `purpose` needs the extra and how to install it. Other import failures pass through."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if not _blames(error, EXTRA_MODULES[extra]):
            raise
        raise MissingExtra(
            f"{purpose} needs the '{extra}' extra: pip install 'clinicmail[{extra}]'"
        ) from None


def _blames(error: BaseException, modules: frozenset[str]) -> bool:
    """Whether a module of `modules` not being found is what `error` comes from. Followed down
    the chain, because a package may re-raise it as a plain ImportError with advice of its own
    (lxml does when its HTML cleaner, now a separate package, is missing)."""
    cause: BaseException | None = error
    while cause is not None:
        missing = cause.name if isinstance(cause, ModuleNotFoundError) else None
        if missing and missing.partition(".")[0] in modules:
            return True
        cause = cause.__cause__ or cause.__context__
    return False
