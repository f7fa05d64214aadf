"""Errors that reach the command line as one line on stderr and a distinct exit code.

Library code raises these; the CLI (``openfsgan.cli.main``) catches them, prints
``openfsgan: error: <message>`` and exits with ``exit_code``. Anything else that escapes
is a bug and is reported with exit code 1 (traceback only with ``--debug``).
"""

from __future__ import annotations


class OpenFSGANError(Exception):
    """Base class of every error the CLI reports as a clean one-line message."""

    exit_code = 1


class InputNotFoundError(OpenFSGANError):
    """An input path does not exist."""

    exit_code = 3


class InvalidInputError(OpenFSGANError):
    """An input exists but is empty, truncated, not media, or otherwise unusable."""

    exit_code = 4


class NoFaceError(OpenFSGANError):
    """No face was found where one is required."""

    exit_code = 5


class InputTooLargeError(OpenFSGANError):
    """An input exceeds the size limits (e.g. a 20000x20000 image)."""

    exit_code = 6


class OutputError(OpenFSGANError):
    """The output path is refused: it exists, it is an input, or it cannot be written."""

    exit_code = 7


class PermissionDeniedError(OpenFSGANError):
    """An input or folder cannot be read because of its permissions."""

    exit_code = 8


class ConfigError(OpenFSGANError):
    """A configuration file or option is invalid."""

    exit_code = 9


class ModelError(OpenFSGANError):
    """A model file is missing, corrupt, or does not match its config."""

    exit_code = 10


INTERRUPTED_EXIT_CODE = 130
