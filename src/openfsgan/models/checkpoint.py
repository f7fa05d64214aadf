"""Checkpoints are a config and tensors: ``config.json`` + ``model.safetensors``.

``config.json`` holds ``{"format_version", "model", "config"}``: the registry name and the
model's config as plain data. Loading rebuilds the model from that config and fills it from the
safetensors file; nothing is ever unpickled, and every mismatch (unknown version or model,
invalid config, missing/unexpected/mis-shaped tensors) raises :class:`ModelError` with the reason.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from openfsgan import __version__
from openfsgan.errors import ConfigError, ModelError
from openfsgan.io.atomic import atomic_output, write_text_atomic
from openfsgan.models.registry import build_model, model_name_of

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_pretrained(model: nn.Module, directory: str | os.PathLike[str],
                    metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``directory`` (created if needed) as config.json + model.safetensors.

    Args:
        model: a registered model (see :mod:`openfsgan.models.registry`).
        directory: destination folder; existing checkpoint files in it are replaced atomically.
        metadata: optional JSON-serialisable extras stored under ``"metadata"`` in config.json
            (e.g. training step, data description); ignored when loading.

    Returns:
        The directory.
    """
    name = model_name_of(model)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().to("cpu").contiguous()
               for key, value in model.state_dict().items()}
    with atomic_output(folder / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", "model": name})
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model": name,
        "config": model.config.to_dict(),  # type: ignore[union-attr, operator]
        "openfsgan_version": __version__,
    }
    if metadata:
        document["metadata"] = metadata
    write_text_atomic(folder / CONFIG_FILE, json.dumps(document, indent=2) + "\n")
    logger.debug("saved %s checkpoint to %s", name, folder)
    return folder


def read_checkpoint_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed and version-checked config.json of a checkpoint folder."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ModelError(f"no checkpoint at {Path(directory)}: {CONFIG_FILE} is missing")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise ModelError(f"{path} must hold a JSON object")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(f"{path} has checkpoint format version {version!r}; this openfsgan "
                         f"reads version {FORMAT_VERSION} (re-export the model with it)")
    for key, kind in (("model", str), ("config", dict)):
        if not isinstance(document.get(key), kind):
            raise ModelError(f"{path} lacks a valid {key!r} entry")
    return document


def load_pretrained(directory: str | os.PathLike[str], expected_model: str | None = None,
                    map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved with :func:`save_pretrained`, in eval mode.

    Args:
        directory: checkpoint folder.
        expected_model: if given, the registry name the checkpoint must hold.
        map_location: device of the loaded tensors.

    Raises:
        ModelError: missing files, unknown format version or model, invalid config, or tensors
            that do not match the model built from the config.
    """
    folder = Path(directory)
    document = read_checkpoint_config(folder)
    name = document["model"]
    if expected_model is not None and name != expected_model:
        raise ModelError(f"{folder} holds a {name!r} model, expected {expected_model!r}")
    try:
        model = build_model(name, document["config"])
    except ConfigError as exc:
        raise ModelError(f"{folder / CONFIG_FILE} does not describe a valid model: {exc}") from exc
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelError(f"checkpoint {folder} lacks {WEIGHTS_FILE}")
    try:
        tensors = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"cannot read {weights}: {exc}") from exc
    _check_tensors(model, tensors, weights)
    model.load_state_dict(tensors, strict=True)
    return model.to(map_location).eval()


def _check_tensors(model: nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mismatched = [f"{key}: file {list(tensors[key].shape)} vs model {list(value.shape)}"
                  for key, value in expected.items()
                  if key in tensors and tensors[key].shape != value.shape]
    problems = []
    if missing:
        problems.append(f"missing tensors {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors {_first(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches {_first(mismatched)}")
    if problems:
        raise ModelError(f"{source} does not match the model its config.json describes: "
                         + "; ".join(problems))


def _first(items: list[str], count: int = 3) -> str:
    more = f" and {len(items) - count} more" if len(items) > count else ""
    return ", ".join(items[:count]) + more
