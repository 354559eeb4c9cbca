"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted job never leaves a half-written file under the final name.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from glassgen.core.errors import InputError


def check_writable(path, overwrite: bool = True, also=(), resumable: bool = False) -> Path:
    """Fail early, before any long work, if ``path`` cannot be created.

    With ``overwrite=False`` an existing ``path``, or an existing one of ``also`` (the other files the same
    output consists of), is refused too: one line naming it and ``--overwrite`` (and ``--resume`` when the
    command has one, ``resumable``), so a command never replaces an earlier output unasked.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.exists() and path.is_dir():
        raise InputError(str(path), "output path is a directory")
    if not overwrite:
        for p in (path, *map(Path, also)):
            if p.exists():
                raise InputError(str(p), "exists; pass --overwrite to replace it"
                                 + (" or --resume to continue it" if resumable else ""))
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(str(path), f"cannot create output folder: {e.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise InputError(str(path), "output folder is not writable")
    return path


def remove_stale(paths) -> list[Path]:
    """Delete those of ``paths`` that exist (an overwritten output's files of the old run); returns them.

    For outputs made of several files: the new run may not write all of them (fewer trajectories, no
    history file, no plots), and a file of the old run left beside the new ones would pass for one of them.
    """
    gone = []
    for p in map(Path, paths):
        if p.is_file() or p.is_symlink():
            p.unlink()
            gone.append(p)
    return gone


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    >>> with atomic_path("out.h5") as tmp:
    ...     write_something(tmp)
    """
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
