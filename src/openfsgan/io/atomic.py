"""Atomic outputs: write to a temporary file beside the target, rename on success.

A crash, Ctrl-C or kill therefore never leaves a half-written file at the final path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from openfsgan.errors import OutputError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; move it onto ``path`` when the block succeeds.

    The temporary file keeps ``path``'s extension (or ``suffix``) so that writers choosing a
    format by extension (OpenCV, PyAV) behave as for the real name. On any exception the
    temporary file is removed and the exception propagates. A folder that cannot be created
    or written raises :class:`~openfsgan.errors.OutputError`.
    """
    target = Path(path)
    ext = suffix if suffix is not None else target.suffix
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{ext}",
                                        dir=target.parent)
    except OSError as error:  # a file where a folder should be, permissions, a full disk
        raise OutputError(f"cannot write {target}: {error.strerror or error}"
                          f"{f': {error.filename}' if error.filename else ''}") from error
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes 0600 files; give the result the permissions a plain open() would
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))
