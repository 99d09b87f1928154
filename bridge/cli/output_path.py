"""Is an output path writable? Asked before a command runs the model, so a bad -o costs nothing."""
from __future__ import annotations

import os
from pathlib import Path

from notabridge.cli.main import UserError


def check_output_path(path: str | Path, flag: str = "-o", folder: bool = False) -> Path:
    """The path, once it is somewhere a file (or, with `folder`, a folder) can be written; else
    UserError saying why. Missing parent folders are fine (they are created when writing)."""
    target = Path(path)
    if not str(path).strip():
        raise UserError(f"{flag}: give a file name")
    if target.is_dir() and not folder:
        raise UserError(f"{flag} {path}: that is a folder; name a file in it")
    if target.exists() and not target.is_dir() and folder:
        raise UserError(f"{flag} {path}: that is a file; name a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise UserError(f"{flag} {path}: the file cannot be written (permission denied)")
    parent = target.parent
    while not parent.exists():   # the nearest existing folder above decides
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{flag} {path}: {parent} is a file, not a folder; choose another place")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: cannot write in {parent} (permission denied)")
    return target


def write_error(path: str | Path, exc: OSError) -> UserError:
    """A clear message for a write that failed anyway (disk full, removed folder ...)."""
    return UserError(f"cannot write {path}: {exc.strerror or exc}")
