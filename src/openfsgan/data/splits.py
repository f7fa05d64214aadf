"""Deterministic train/validation splits by identity, and reenactment pairs within a video.

A split must never put the same person in both sets, and it must not change when files are
added, removed or reordered: each identity string (the input's path relative to the folder it
was found in, without extension) is hashed, and the hash alone decides its side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

TRAIN = "train"
VAL = "val"
SPLITS = (TRAIN, VAL)

_SPLIT_SALT = "openfsgan-split-v1"


def identity_unit_hash(identity: str) -> float:
    """A stable number in ``[0, 1)`` for ``identity`` (SHA-256, independent of the process)."""
    digest = hashlib.sha256(f"{_SPLIT_SALT}:{identity}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / float(1 << 64)


def split_of(identity: str, val_fraction: float) -> str:
    """``"val"`` for about ``val_fraction`` of identities, ``"train"`` for the rest."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    return VAL if identity_unit_hash(identity) < val_fraction else TRAIN


def stable_seed(*parts: object) -> int:
    """A 63-bit seed derived from ``parts`` (same value in every process and on every run)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def reenactment_pairs(groups: Sequence[str], pairs_per_frame: int,
                      seed: int = 0) -> np.ndarray:
    """Pairs ``(source, target)`` of samples that share a group (a video's face track).

    Each sample with at least one partner is the source of ``pairs_per_frame`` pairs (fewer if
    its group is smaller); partners are drawn without replacement, with a generator seeded from
    the group name, so adding a video never changes the pairs of another.

    Args:
        groups: group name of every sample, ``[N]``.
        pairs_per_frame: targets drawn for each source.
        seed: extra seed mixed into every group's generator.

    Returns:
        int64 ``[P, 2]`` sample indices, sorted by source then draw order.
    """
    if pairs_per_frame < 1:
        raise ValueError(f"pairs_per_frame must be >= 1, got {pairs_per_frame}")
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    pairs: list[tuple[int, int]] = []
    for group, indices in members.items():
        if len(indices) < 2:
            continue
        rng = np.random.default_rng(stable_seed("pairs", seed, group))
        count = min(pairs_per_frame, len(indices) - 1)
        for position, source in enumerate(indices):
            others = np.delete(np.asarray(indices), position)
            for target in rng.choice(others, size=count, replace=False):
                pairs.append((source, int(target)))
    pairs.sort(key=lambda pair: pair[0])
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
