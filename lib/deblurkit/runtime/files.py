"""Files and folders: atomic writes (a crash never leaves half a file) and the project's folders
(``project_dir``, ``artifact_path`` under ``data/``, ``$DEBLURKIT_HOME`` overrides).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path, write) -> Path:
    """Write a file via a temporary sibling and an atomic rename, so a crash never leaves half a file.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created if missing.
    write : callable
        ``write(tmp_path)`` writes the content to the temporary path it is given.

    The file gets the permissions an ordinary ``open(path, "w")`` would give (``0o666`` less
    the process umask), not the owner-only ``0o600`` of the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _umask() -> int:
    """The process umask (read by setting and restoring it; there is no portable getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def project_dir() -> Path:
    """The book's root folder: ``$DEBLURKIT_HOME``, else the nearest ancestor of the working
    directory holding ``_toc.yml`` (notebooks run from ``notebooks/``), else the working directory.
    """
    if os.environ.get("DEBLURKIT_HOME"):
        return Path(os.environ["DEBLURKIT_HOME"])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    return here


def artifact_path(*parts: str) -> Path:
    """A path under the book's ``data/`` folder (e.g. ``artifact_path("checkpoints", "x.pt")``)."""
    return project_dir().joinpath("data", *parts)
