"""The database: the only package that imports SQLAlchemy."""

from pipeline.store.engine import open_engine
from pipeline.store.migrate import current_revision, require_current_schema, upgrade
from pipeline.store.types import utcnow

__all__ = ["current_revision", "open_engine", "require_current_schema", "upgrade", "utcnow"]
