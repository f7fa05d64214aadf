"""Tools a test needs that a developer's machine may lack: skip locally, fail under CI.

CI (``CI=true``, set by ``.ci/run``) installs every extra and Debian's Chromium, so a missing one
there is a broken CI set-up, and a skip would silently drop the tests that need it.
"""

from __future__ import annotations

import importlib.util
import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True under ``CI=true`` (or ``1``/``yes``), as CI services and ``.ci/run`` set it."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the calling module, saying why; under CI fail the run instead."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}: CI must install it (see .ci/run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str, reason: str) -> None:
    """:func:`skip_or_fail` unless the Python module ``name`` can be imported."""
    if importlib.util.find_spec(name) is None:
        skip_or_fail(reason)
