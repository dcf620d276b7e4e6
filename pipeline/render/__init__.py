"""Rendering: a variant compiled once (Jinja2, then mrml; pipeline.render.compile), filled per
recipient, and the complete MIME message (pipeline.render.message). Callers import from the
module they need: a sending process needs the per-recipient half without the compiler, the
templates and the article parsers behind it."""
