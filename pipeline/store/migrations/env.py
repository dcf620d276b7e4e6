"""Alembic environment: the engine comes from the caller (pipeline.store.migrate)."""

from alembic import context

from pipeline.store.tables import SCHEDULER_JOBS_TABLE, metadata


def _include_object(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name == SCHEDULER_JOBS_TABLE)


engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=context.config.attributes.get("target_metadata", metadata),
        include_object=_include_object,
        render_as_batch=True,
    )
    context.run_migrations()
