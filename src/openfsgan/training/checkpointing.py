"""Training checkpoints: networks as config + tensors, the loop's state in a separate file.

Layout inside a run folder::

    checkpoints/
      step-000001000/
        reenactment_generator/config.json, model.safetensors   (openfsgan.models.checkpoint)
        discriminator/config.json, model.safetensors
        training_state.pt      optimisers, gradient scaler, RNG states, step, data position
        state-000.safetensors  the state's large tensors (Adam's moments), in shards
      latest                   name of the newest complete checkpoint folder

A checkpoint folder is written under a temporary name and renamed when complete; ``latest`` is
replaced atomically after it. ``training_state.pt`` holds only tensors and plain Python values
and is read with ``torch.load(weights_only=True)``: loading never unpickles code. Its large
tensors (over :data:`SHARD_MIN_BYTES`) are stored beside it in safetensors shards of at most
:data:`SHARD_MAX_BYTES`, so that no file of a checkpoint reaches 16 MiB.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from openfsgan.errors import ModelError
from openfsgan.io.atomic import atomic_output, write_text_atomic
from openfsgan.models.checkpoint import WEIGHTS_FILE, save_pretrained

log = logging.getLogger(__name__)

STATE_FORMAT_VERSION = 1
CHECKPOINTS_DIR = "checkpoints"
LATEST_FILE = "latest"
STATE_FILE = "training_state.pt"
SHARD_PATTERN = "state-{:03d}.safetensors"
SHARD_MIN_BYTES = 1 << 16
SHARD_MAX_BYTES = 15 * (1 << 20)
_SHARD_TAG = "__shard_tensor__:"


def checkpoint_name(step: int) -> str:
    return f"step-{step:09d}"


def capture_rng_state() -> dict[str, Any]:
    """The global RNG states (torch CPU and CUDA, NumPy, Python) as tensors and plain values."""
    np_state = cast(tuple[Any, ...], np.random.get_state(legacy=True))
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                  "cached_gaussian": float(np_state[4])},
        "python": {"version": int(py_version),
                   "internal": torch.tensor(py_internal, dtype=torch.int64),
                   "gauss": py_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32),
                         numpy_state["pos"], numpy_state["has_gauss"],
                         numpy_state["cached_gaussian"]))
    python_state = state["python"]
    random.setstate((python_state["version"],
                     tuple(int(v) for v in python_state["internal"].tolist()),
                     python_state["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_module(module: nn.Module, folder: Path) -> None:
    """Registered networks as ``save_pretrained`` folders; anything else as bare tensors."""
    if hasattr(module, "config"):
        save_pretrained(module, folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_output(folder / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp))


def save_checkpoint(run_dir: str | os.PathLike[str], step: int,
                    modules: Mapping[str, nn.Module], state: Mapping[str, Any],
                    keep: int | None = None) -> Path:
    """Write checkpoint ``step`` of ``run_dir``; keep the ``keep`` newest ones.

    Args:
        run_dir: the run folder.
        step: global step (names the folder).
        modules: networks by role name (e.g. ``reenactment_generator``), unwrapped.
        state: the loop's state (tensors and plain values only).
        keep: number of checkpoints to keep (None: all).

    Returns:
        The checkpoint folder.
    """
    root = Path(run_dir) / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    partial = root / f".{checkpoint_name(step)}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for role, module in modules.items():
        _save_module(module, partial / role)
    document = {"format_version": STATE_FORMAT_VERSION, "step": int(step), **state}
    large: dict[str, torch.Tensor] = {}
    document = _take_large(document, large)
    _save_shards(large, partial)
    with atomic_output(partial / STATE_FILE) as tmp:
        torch.save(document, tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    write_text_atomic(root / LATEST_FILE, final.name + "\n")
    if keep is not None:
        _prune(root, keep)
    log.info("saved checkpoint %s", final)
    return final


def _take_large(value: Any, large: dict[str, torch.Tensor]) -> Any:
    """``value`` with every large tensor replaced by a tag naming it in ``large``."""
    if isinstance(value, torch.Tensor) and value.numel() * value.element_size() > SHARD_MIN_BYTES:
        name = f"t{len(large):06d}"
        large[name] = value.detach().cpu().contiguous()
        return _SHARD_TAG + name
    if isinstance(value, dict):
        return {key: _take_large(item, large) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_take_large(item, large) for item in value)
    return value


def _save_shards(large: dict[str, torch.Tensor], folder: Path) -> None:
    shard: dict[str, torch.Tensor] = {}
    size = 0
    count = 0
    for name, tensor in large.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shard and size + nbytes > SHARD_MAX_BYTES:
            save_file(shard, str(folder / SHARD_PATTERN.format(count)))
            shard, size, count = {}, 0, count + 1
        shard[name] = tensor
        size += nbytes
    if shard:
        save_file(shard, str(folder / SHARD_PATTERN.format(count)))


def _put_back(value: Any, large: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(value, str) and value.startswith(_SHARD_TAG):
        name = value[len(_SHARD_TAG):]
        if name not in large:
            raise ModelError(f"a checkpoint shard is missing tensor {name}")
        return large[name]
    if isinstance(value, dict):
        return {key: _put_back(item, large) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_put_back(item, large) for item in value)
    return value


def _prune(root: Path, keep: int) -> None:
    folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-"))
    for old in folders[:-keep] if keep > 0 else folders:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint folder of ``run_dir``, or None."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    pointer = root / LATEST_FILE
    if pointer.is_file():
        folder = root / pointer.read_text(encoding="utf-8").strip()
        if (folder / STATE_FILE).is_file():
            return folder
    if not root.is_dir():
        return None
    complete = sorted(p for p in root.iterdir()
                      if p.name.startswith("step-") and (p / STATE_FILE).is_file())
    return complete[-1] if complete else None


def load_checkpoint(folder: str | os.PathLike[str], modules: Mapping[str, nn.Module],
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Fill ``modules`` from checkpoint ``folder`` and return the loop's saved state.

    Raises:
        ModelError: a missing file, or tensors that do not fit the networks.
    """
    path = Path(folder)
    state_file = path / STATE_FILE
    if not state_file.is_file():
        raise ModelError(f"incomplete checkpoint {path}: {STATE_FILE} is missing")
    try:
        state = torch.load(state_file, map_location=map_location, weights_only=True)
    except Exception as error:  # any unreadable or unsafe file becomes one clear error
        raise ModelError(f"cannot read {state_file}: {error}") from error
    if state.get("format_version") != STATE_FORMAT_VERSION:
        raise ModelError(f"{state_file} has format version {state.get('format_version')!r}; "
                         f"expected {STATE_FORMAT_VERSION}")
    large: dict[str, torch.Tensor] = {}
    for shard in sorted(path.glob("state-*.safetensors")):
        try:
            large.update(load_file(str(shard), device=str(map_location)))
        except Exception as error:  # a damaged shard is one clear error
            raise ModelError(f"cannot read {shard}: {error}") from error
    state = _put_back(state, large)
    for role, module in modules.items():
        weights = path / role / WEIGHTS_FILE
        if not weights.is_file():
            raise ModelError(f"checkpoint {path} has no weights for {role}")
        tensors = load_file(str(weights), device=str(map_location))
        try:
            module.load_state_dict(tensors, strict=True)
        except RuntimeError as error:
            raise ModelError(f"{weights} does not fit the {role} of this config: "
                             f"{str(error).splitlines()[0]}") from error
    return state
