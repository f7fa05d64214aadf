"""Run the real ``openfsgan`` command in a subprocess, as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def openfsgan(*args: str | Path, cache: Path | None = None, key_dir: Path | None = None
              ) -> subprocess.CompletedProcess[str]:
    """``python -m openfsgan ARGS``; ``cache``, ``key_dir``: the analysis cache, the C2PA folder."""
    env = dict(os.environ)
    if cache is not None:
        env["OPENFSGAN_CACHE_DIR"] = str(cache)
    if key_dir is not None:
        env["OPENFSGAN_C2PA_DIR"] = str(key_dir)
    return subprocess.run([sys.executable, "-m", "openfsgan", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
