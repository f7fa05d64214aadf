"""An upper bound: how far could a tile-periodic sync layer go under crop + downscale + CRF 30?

``benchmarks/watermark.py`` measures the shipped detector, which must *search* for the crop's
cell size and offset. This script asks what *any* detector of the same design could reach: one
candidate sync layer at a time (a keyed ±1 chip tile, bilinearly interpolated, on luma, Cb or
Cr, with a given number of cells per short side and a fixed PSNR) is added to each video's
first ``--seconds``, the frames are attacked (a centred crop, a downscale, libx264 at a CRF),
and each 1-second window is scored with the detector's own statistic (whitening, cell sums,
normalised correlation ``z``) **at the true cell size and offset**, which no search can beat:

* ``z``: the attacked frames, host image included (what a detector sees);
* ``z host-free``: the attacked marked frames minus the same frames attacked unmarked (the
  host image removed: what survives of the mark itself through the codec).

A window *could* be found when ``z`` passes the threshold the layer would need alone with the
shipped search (its cell sizes x offsets, the whole 1e-6 budget, Hoeffding + union bound), or,
more leniently, the threshold of a detector told the geometry (one hypothesis). Nothing here
is part of the product: the mark's layers are :mod:`openfsgan.provenance.watermark`'s.

Usage::

    python benchmarks/watermark_bound.py [VIDEO ...] [--seconds 3] [--psnr 40]
        [--layers cb32,cr32,cb24,cb48,y64] [--attacks crop50+half+crf30,crop71+0.55x+crf30]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from watermark import (
    SHARED,
    SIZE_CLASSES,
    centred_crop,
    centred_crop_box,
    downscale,
    h264,
    psnr_db,
    read_clip,
    windows,
)

from openfsgan.provenance.watermark import WatermarkConfig, chip_pattern, whitened_luma

# RGB change per unit of each YCbCr axis (BT.601), and the plane index in OpenCV's YCrCb
AXES = {"y": (np.array([1.0, 1.0, 1.0]), 0), "cr": (np.array([1.402, -0.714136, 0.0]), 1),
        "cb": (np.array([0.0, -0.344136, 1.772]), 2)}
ATTACKS = {"crop50+half+crf30": (0.50, 0.50, 30), "crop71+0.55x+crf30": (0.71, 0.55, 30),
           "crop50+half": (0.50, 0.50, 23)}
TILE_CELLS = 24
FALSE_POSITIVE_RATE = 1e-6


@dataclass(frozen=True)
class Layer:
    """One candidate sync layer: ``<axis><cells per short side>``, e.g. ``cb32``."""

    axis: str
    cells_per_short_side: int

    @staticmethod
    def parse(text: str) -> Layer:
        axis = text.rstrip("0123456789")
        if axis not in AXES or axis == text:
            raise SystemExit(f"layer {text!r}: expected y|cb|cr followed by cells per short side")
        return Layer(axis, int(text[len(axis):]))

    @property
    def name(self) -> str:
        return f"{self.axis}{self.cells_per_short_side}"

    def tile(self) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        return rng.choice(np.array([-1.0, 1.0]), size=(TILE_CELLS, TILE_CELLS)).astype(np.float32)

    def rgb_change(self, height: int, width: int, psnr: float) -> np.ndarray:
        """``[H, W, 3]`` float32: the layer at the RMS RGB change that gives ``psnr`` dB."""
        pattern = chip_pattern(self.tile(), height, width,
                               min(height, width) / self.cells_per_short_side)
        direction = AXES[self.axis][0]
        rms = 255.0 / 10 ** (psnr / 20.0)
        pattern *= rms / (float(np.sqrt(np.mean(pattern**2)))
                          * float(np.sqrt(np.mean(direction**2))))
        return pattern[:, :, None] * direction.astype(np.float32)

    def thresholds(self) -> tuple[float, float]:
        """The search threshold of this layer alone (the shipped search's cell sizes and
        offsets at 4 bins per cell) and the one-hypothesis threshold."""
        config = WatermarkConfig()
        sizes = len(config.scale_candidates(config.chroma_scale_step
                                            * 32 / self.cells_per_short_side))
        hypotheses = sizes * (TILE_CELLS * config.bins_per_cell) ** 2
        return (math.sqrt(2 * math.log(hypotheses / FALSE_POSITIVE_RATE)),
                math.sqrt(2 * math.log(1 / FALSE_POSITIVE_RATE)))


def attack(frames: list[np.ndarray], fps: float, keep: float, factor: float, crf: int
           ) -> list[np.ndarray]:
    return h264(downscale(centred_crop(frames, keep), factor), fps, crf)


def oracle_z(frames: list[np.ndarray], layer: Layer, source_hw: tuple[int, int], keep: float
             ) -> float:
    """The detector's statistic at the true geometry: each attacked pixel is given the tile
    cell it shows (from the crop and scale applied), the whitened plane is summed per cell over
    the window, and ``z = sum(chip * cell sum) / sqrt(sum(cell sum^2))``."""
    height, width = source_hw
    cell = min(height, width) / layer.cells_per_short_side
    top, left, keep_h, keep_w = centred_crop_box(height, width, keep)  # the attack's crop
    out_h, out_w = frames[0].shape[:2]
    scale_y, scale_x = out_h / keep_h, out_w / keep_w
    plane = AXES[layer.axis][1]
    total = None
    for rgb in frames:
        residual = whitened_luma(cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[:, :, plane],
                                 cell * scale_y)
        total = residual if total is None else total + residual
    assert total is not None
    rows = (((np.arange(out_h) + 0.5) / scale_y + top) / cell - 0.5).round().astype(int)
    cols = (((np.arange(out_w) + 0.5) / scale_x + left) / cell - 0.5).round().astype(int)
    index = ((rows % TILE_CELLS)[:, None] * TILE_CELLS + (cols % TILE_CELLS)[None, :]).ravel()
    sums = np.bincount(index, weights=total.ravel(), minlength=TILE_CELLS**2)
    chips = layer.tile().ravel()
    return float((chips * sums).sum() / math.sqrt(float((sums**2).sum()) + 1e-12))


def size_class(short_side: int) -> str:
    return next(name for name, low, high in SIZE_CLASSES if low <= short_side <= high)


def main() -> int:
    cv2.setNumThreads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--psnr", type=float, default=40.0,
                        help="PSNR of the candidate layer alone, dB (the whole budget)")
    parser.add_argument("--layers", default="cb32,cr32,cb24,cb48,y64")
    parser.add_argument("--attacks", default="crop50+half+crf30,crop71+0.55x+crf30")
    args = parser.parse_args()
    layers = [Layer.parse(item) for item in args.layers.split(",") if item]
    unknown = set(args.attacks.split(",")) - set(ATTACKS)
    if unknown:
        parser.error(f"unknown attacks {sorted(unknown)}; valid: {', '.join(ATTACKS)}")
    attacks = {name: ATTACKS[name] for name in args.attacks.split(",")}
    videos = args.videos or sorted(SHARED.glob("**/*.mp4"))
    if not videos:
        print(f"shared videos not found under {SHARED}: nothing to measure", file=sys.stderr)
        return 0
    # (attack, layer) -> per window: (size class, z, host-free z)
    scores: dict[tuple[str, str], list[tuple[str, float, float]]] = defaultdict(list)
    psnrs: dict[str, list[float]] = defaultdict(list)
    for video in videos:
        frames, fps = read_clip(video, args.seconds)
        if len(frames) < round(fps):
            continue
        height, width = frames[0].shape[:2]
        spans = windows(frames, fps)
        length = len(spans[0])
        for attack_name, (keep, factor, crf) in attacks.items():
            plain = attack(frames, fps, keep, factor, crf)
            for layer in layers:
                change = layer.rgb_change(height, width, args.psnr)
                marked = [np.clip(np.rint(f + change), 0, 255).astype(np.uint8) for f in frames]
                psnrs[layer.name].append(psnr_db(frames[0], marked[0]))
                attacked = attack(marked, fps, keep, factor, crf)
                for start in range(0, len(spans) * length, length):
                    window = attacked[start:start + length]
                    difference = [np.clip(a.astype(np.int16) - b + 128, 0, 255).astype(np.uint8)
                                  for a, b in zip(window, plain[start:start + length],
                                                  strict=True)]
                    scores[(attack_name, layer.name)].append(
                        (size_class(min(height, width)),
                         oracle_z(window, layer, (height, width), keep),
                         oracle_z(difference, layer, (height, width), keep)))
        print(f"{video.relative_to(SHARED) if video.is_relative_to(SHARED) else video}",
              file=sys.stderr, flush=True)
    classes = [name for name, _, _ in SIZE_CLASSES]
    print(f"\n### Sync layers alone at {args.psnr:g} dB, scored at the true geometry "
          f"({len(videos)} videos, 1-second windows, {args.seconds:g} s each)\n")
    print("| attack | layer | PSNR | windows | z passes the search threshold | same, host "
          "removed | z passes the one-hypothesis threshold | median z | "
          + " | ".join(f"search threshold, {c}" for c in classes) + " |")
    print("|---" * (8 + len(classes)) + "|")
    for (attack_name, layer_name), rows in scores.items():
        search, known = Layer.parse(layer_name).thresholds()
        count = len(rows)
        passed = sum(z >= search for _, z, _ in rows)
        host_free = sum(zd >= search for _, _, zd in rows)
        lenient = sum(z >= known for _, z, _ in rows)
        by_class = []
        for name in classes:
            members = [z for c, z, _ in rows if c == name]
            by_class.append(f"{sum(z >= search for z in members)}/{len(members)}")
        print(f"| {attack_name} | {layer_name} | {np.mean(psnrs[layer_name]):.1f} dB | {count} "
              f"| {passed / count:.1%} (z ≥ {search:.2f}) | {host_free / count:.1%} "
              f"| {lenient / count:.1%} (z ≥ {known:.2f}) "
              f"| {float(np.median([z for _, z, _ in rows])):.1f} | " + " | ".join(by_class)
              + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
