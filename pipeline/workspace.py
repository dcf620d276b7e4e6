"""Finding the clinic's workspace: the folder that holds clinic.toml."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import WorkspaceError

CONFIG_FILE = "clinic.toml"


def find_workspace(
    explicit: str | os.PathLike[str] | None = None, start: Path | None = None
) -> Path:
    """The workspace root: `explicit`, else $CLINICMAIL_WORKSPACE, else the nearest parent of
    `start` (the current directory) that holds clinic.toml."""
    chosen = explicit or os.environ.get("CLINICMAIL_WORKSPACE")
    if chosen:
        root = Path(chosen).expanduser().resolve()
        if not (root / CONFIG_FILE).is_file():
            raise WorkspaceError(f"{root} is not a clinicmail workspace: it has no {CONFIG_FILE}")
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise WorkspaceError(
        f"no {CONFIG_FILE} in {here} or any folder above it; run 'clinicmail init' to make one "
        "or pass --workspace DIR"
    )
