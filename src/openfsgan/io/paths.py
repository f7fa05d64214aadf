"""Input and output path checks: fail early with one actionable line (CLI, jobs, web)."""

from __future__ import annotations

import os
from pathlib import Path

from openfsgan.errors import (
    InputNotFoundError,
    InvalidInputError,
    OutputError,
    PermissionDeniedError,
)


def check_input_file(path: str | os.PathLike[str], what: str = "input") -> Path:
    """Return ``path`` as a Path if it is a readable, non-empty regular file."""
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"{what} not found: {p}")
    if p.is_dir():
        raise InvalidInputError(f"{what} is a folder, expected a file: {p}")
    if not os.access(p, os.R_OK):
        raise PermissionDeniedError(f"{what} is not readable (permission denied): {p}")
    if p.stat().st_size == 0:
        raise InvalidInputError(f"{what} is an empty file (0 bytes): {p}")
    return p


def check_input_dir(path: str | os.PathLike[str], what: str = "input folder") -> Path:
    """Return ``path`` as a Path if it is a folder we can list."""
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"{what} not found: {p}")
    if not p.is_dir():
        raise InvalidInputError(f"{what} is not a folder: {p}")
    if not os.access(p, os.R_OK | os.X_OK):
        raise PermissionDeniedError(f"{what} is not readable (permission denied): {p}")
    return p


def check_input_path(path: str | os.PathLike[str], what: str = "input",
                     allow_dir: bool = False) -> Path:
    """A file, or (with ``allow_dir``) a folder, that exists and can be read."""
    p = Path(path)
    if allow_dir and p.is_dir():
        return check_input_dir(p, what)
    return check_input_file(p, what)


def _nearest_existing(path: Path) -> Path:
    """``path`` or the closest folder above it that exists (a dangling link counts as existing:
    nothing can be created through it)."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def check_output_folder(folder: str | os.PathLike[str], what: str = "output folder") -> Path:
    """Return ``folder`` as a Path if it is, or can be created as, a folder we can write to.

    Refused with :class:`OutputError`: ``folder`` is a file (or a dangling link), a path above
    it is a file (``some_file/run``: the folder could never be made), or the closest existing
    folder is not writable.
    """
    p = Path(folder) if str(folder) else Path(".")
    existing = _nearest_existing(p)
    if not existing.is_dir():
        if existing == p:
            raise OutputError(f"{what} is a file, expected a folder: {p}")
        raise OutputError(f"cannot create the {what} {p}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to folder (permission denied): {existing}")
    return p


def check_output_file(output: str | os.PathLike[str], inputs: list[Path],
                      overwrite: bool = False) -> Path:
    """Refuse to write over an input, over an existing file without ``overwrite``, or where no
    file can be created (a path above it is a file, or its folder is not writable)."""
    out = Path(output)
    if any(out.resolve() == source.resolve() for source in inputs):
        raise OutputError(f"refusing to overwrite an input: {out}")
    if out.is_dir():
        raise OutputError(f"output is a folder, expected a file path: {out}")
    if out.exists() and not overwrite:
        raise OutputError(f"output exists: {out} (pass --overwrite to replace it)")
    existing = _nearest_existing(out.parent)
    if not existing.is_dir():
        raise OutputError(f"cannot write {out}: {existing} is a file, not a folder")
    check_output_folder(out.parent, "output's folder")
    return out
