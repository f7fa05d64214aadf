"""Invisible, robust watermark: tile-periodic spread spectrum in low-frequency luma.

Design (details, measurements and the false-positive derivation: ``docs/provenance.md``):

* **Payload** (:class:`Payload`, 48 bits): tool id (8), format version (8), run id (32).
  :mod:`openfsgan.provenance.ecc` appends a CRC-16 and applies a rate-1/2 K=7 convolutional
  code: 140 coded bits.
* **Tile**: a keyed ``32 x 32`` grid of cells. Each cell carries one ±1 chip: 500 cells are a
  fixed *synchronisation* pattern (payload independent); the other 524 are spread over the 140
  coded bits (3-4 chips each) at keyed pseudo-random places with keyed signs.
* **Geometry**: a cell is ``min(H, W) / 128`` pixels, so a resized frame carries the same
  pattern at the same relative place; the tile repeats over the whole frame, so a crop only
  shifts it, and a crop of the short side makes the cells larger than the cropped frame's
  nominal cell. Chips are bilinearly interpolated between cell centres: a smooth pattern in the
  band that H.264/JPEG keep, in luma only (the same offset on R, G and B), so 4:2:0 chroma
  subsampling does not touch it.
* **Perceptual shaping**: the amplitude follows local texture (0.6x in flat areas to 1.6x in
  busy ones, less near black and white), scaled so the RMS change is ``target_rms`` grey
  levels: PSNR = 20 log10(255 / 2.3) = 40.9 dB.
* **Detection** (:class:`WatermarkDetector`): each frame's luma is band-passed for three bands
  of cell sizes and divided by its local RMS, then summed over frames, so the static mark adds
  up coherently. For each candidate cell size (the nominal one up to 2.08x: crops keeping down
  to 48 % of the short side), the band's sum is resampled to 4 bins per cell and folded modulo
  the tile; all ``128 x 128`` cyclic offsets are scored at once by FFT correlation with the
  sync chips (normalised correlation ``z``). The payload is despread and Viterbi-decoded at
  the best-scoring hypotheses.
* **Decision** (:class:`Detection`): found when ``z`` passes a threshold derived from
  Hoeffding's inequality and a union bound over the hypotheses, or when a decoded payload
  passes its 32 check bits (CRC-16, tool id, version); together < 1e-6 false positives per
  window of unmarked footage, whatever the footage.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from openfsgan.provenance import ecc

FORMAT_VERSION = 2  # 2: 500 sync cells (was 300) and the search down to 48 % crops
TOOL_ID_OPENFSGAN = 0xF5
PAYLOAD_BITS = 48
_KEY = b"openfsgan-watermark-v1"


@dataclass(frozen=True)
class WatermarkConfig:
    """Parameters of the mark; embedder and detector must agree on every field but the last four.

    Attributes:
        cells_per_short_side: cells along the frame's shorter side (cell size in pixels is
            ``min(H, W) / cells_per_short_side``).
        tile_cells: the tile is ``tile_cells x tile_cells`` cells and repeats over the frame.
        sync_cells: cells of each tile carrying the payload-independent sync pattern.
        target_rms: RMS luma change in grey levels (sets the PSNR: 20 log10(255 / rms)).
        strength_range: lowest and highest local amplitude relative to the mean (flat areas
            get the lower, textured areas the higher: perceptual shaping).
        max_crop: the detector searches cell sizes for crops removing up to this fraction of
            the shorter side (0.52: crops keeping half of each side, with room for rounding).
        scale_step: relative step of that cell-size search at the nominal size (it grows in
            proportion to the cell size: :meth:`scale_candidates`).
        whitening_bands: how many bands of cell sizes the detector whitens each frame for
            (the band-pass filter must follow the cell size; cost grows with the count).
        bins_per_cell: sub-cell resolution of the detector's offset search.
        decode_candidates: how many of the best-scoring cell sizes the detector decodes.
        false_positive_rate: target probability, per analysed window of unmarked footage, of a
            false detection; sets the threshold.
    """

    cells_per_short_side: int = 128
    tile_cells: int = 32
    sync_cells: int = 500
    target_rms: float = 2.3
    strength_range: tuple[float, float] = (0.6, 1.6)
    max_crop: float = 0.52
    scale_step: float = 0.003
    whitening_bands: int = 3
    bins_per_cell: int = 4
    decode_candidates: int = 8
    false_positive_rate: float = 1e-6

    def __post_init__(self) -> None:
        if self.cells_per_short_side < 8 or self.tile_cells < 8:
            raise ValueError("cells_per_short_side and tile_cells must be >= 8")
        payload_cells = self.tile_cells**2 - self.sync_cells
        if payload_cells < ecc.coded_length(PAYLOAD_BITS + ecc.CRC_BITS):
            raise ValueError("too few payload cells per tile for the coded payload")
        if not 0 < self.target_rms < 8:
            raise ValueError("target_rms must be in (0, 8) grey levels")
        if not 0 <= self.max_crop <= 0.6 or not 0 < self.scale_step < 0.05:
            raise ValueError("max_crop must be in [0, 0.6] and scale_step in (0, 0.05)")
        if self.whitening_bands < 1:
            raise ValueError("whitening_bands must be >= 1")
        if self.decode_candidates < 1:
            raise ValueError("decode_candidates must be >= 1")
        if not 0 < self.false_positive_rate < 1:
            raise ValueError("false_positive_rate must be in (0, 1)")

    @property
    def tile_bins(self) -> int:
        return self.tile_cells * self.bins_per_cell

    @property
    def max_relative_cell(self) -> float:
        """Largest cell size searched, relative to the nominal one: a crop keeping a fraction
        ``1 - max_crop`` of the short side makes the cells ``1 / (1 - max_crop)`` times larger
        than the cropped frame's nominal cell (any resize afterwards scales both alike)."""
        return 1.0 / (1.0 - self.max_crop)

    def cell_size_px(self, height: int, width: int) -> float:
        """Nominal cell size of a frame of that size (what the embedder uses)."""
        return min(height, width) / self.cells_per_short_side

    def scale_candidates(self) -> np.ndarray:
        """Relative cell sizes the detector tries, from 1 (no crop) to :attr:`max_relative_cell`.

        A scale error ``e`` misplaces cells by ``e x`` at ``x`` cells from where the fold is
        aligned; the frame spans ``cells_per_short_side / s`` cells at relative size ``s``, so
        the tolerable error grows like ``s``: the step is ``scale_step * s`` in log scale (175
        sizes up to a 52 % crop instead of 246 at a fixed step: fewer hypotheses, a lower
        threshold).
        """
        sizes = [1.0]
        log_top = math.log(self.max_relative_cell)
        log_size = 0.0
        while log_size < log_top:
            log_size = min(log_top, log_size + self.scale_step * math.exp(log_size))
            sizes.append(math.exp(log_size))
        return np.asarray(sizes, dtype=np.float64)

    def band_centres(self) -> np.ndarray:
        """Relative cell sizes the detector whitens for: evenly spaced in log scale, each the
        centre of an equal share of the searched range."""
        log_top = math.log(self.max_relative_cell)
        edges = (np.arange(self.whitening_bands) + 0.5) / self.whitening_bands
        return np.exp(edges * log_top)

    @property
    def hypotheses(self) -> int:
        """Number of (cell size, offset) hypotheses one detection tries."""
        return len(self.scale_candidates()) * self.tile_bins**2


SYNC_SHARE_OF_FALSE_POSITIVES = 0.9
"""Part of the false-positive budget given to the sync statistic; the rest goes to the
payload check (which needs far less: see :func:`payload_false_alarm_bound`)."""

PAYLOAD_CHECK_BITS = ecc.CRC_BITS + 16
"""Bits a random decoding must match to pass the payload check: CRC-16, tool id, version."""


def detection_threshold(config: WatermarkConfig) -> float:
    """Normalised-correlation threshold of the sync statistic.

    Each hypothesis' statistic obeys ``P(z >= t) <= exp(-t^2 / 2)`` on footage independent of
    the key (Hoeffding's inequality over the ±1 sync chips, conditioned on the image), so by
    the union bound over ``M`` hypotheses ``P(max z >= t) <= M exp(-t^2 / 2)``; solving
    ``M exp(-t^2/2) = a`` with ``a = 0.9 * false_positive_rate`` gives
    ``t = sqrt(2 ln(M / a))`` (7.59 with the default configuration: 175 cell sizes x 16,384
    offsets; the 25 % crop search of format 1 had 97 x 16,384 and 7.51).
    """
    budget = SYNC_SHARE_OF_FALSE_POSITIVES * config.false_positive_rate
    return math.sqrt(2.0 * math.log(config.hypotheses / budget))


def sync_false_alarm_bound(z: float, config: WatermarkConfig) -> float:
    """Upper bound on the probability that unmarked footage scores ``z`` or more."""
    return float(min(1.0, config.hypotheses * math.exp(-0.5 * z * z)))


def payload_false_alarm_bound(config: WatermarkConfig) -> float:
    """Upper bound on the probability that unmarked footage passes the payload check.

    On footage independent of the key, the keyed ±1 spreading signs make every coded bit's soft
    value symmetric, and the code is linear, so the Viterbi output is uniform over all messages:
    one decoding passes CRC-16 + tool id + version with probability ``2**-32``; the detector
    decodes ``decode_candidates`` hypotheses.
    """
    return float(config.decode_candidates * 2.0**-PAYLOAD_CHECK_BITS)


@dataclass(frozen=True)
class Payload:
    """What every mark carries: who made it, which format, which run."""

    run_id: int
    tool_id: int = TOOL_ID_OPENFSGAN
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if not 0 <= self.run_id < 2**32:
            raise ValueError("run_id must fit in 32 bits")
        if not 0 <= self.tool_id < 256 or not 0 <= self.format_version < 256:
            raise ValueError("tool_id and format_version must fit in 8 bits")

    @property
    def run_id_hex(self) -> str:
        return f"{self.run_id:08x}"

    def to_bits(self) -> np.ndarray:
        value = (self.tool_id << 40) | (self.format_version << 32) | self.run_id
        return np.array([(value >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)],
                        dtype=np.uint8)

    @staticmethod
    def from_bits(bits: np.ndarray) -> Payload:
        if bits.size != PAYLOAD_BITS:
            raise ValueError(f"expected {PAYLOAD_BITS} bits, got {bits.size}")
        value = 0
        for bit in bits:
            value = (value << 1) | int(bit)
        return Payload(run_id=value & 0xFFFFFFFF, tool_id=(value >> 40) & 0xFF,
                       format_version=(value >> 32) & 0xFF)

    @staticmethod
    def from_hex(run_id_hex: str) -> Payload:
        return Payload(run_id=int(run_id_hex, 16))

    def to_dict(self) -> dict[str, object]:
        return {"tool_id": self.tool_id, "format_version": self.format_version,
                "run_id": self.run_id_hex}


@dataclass(frozen=True, eq=False)
class TileLayout:
    """Keyed placement of the chips in one tile (the same for every payload).

    Attributes:
        sync_index: ``[S]`` flat cell indices of the sync chips.
        sync_sign: ``[S]`` their ±1 values.
        bit_index: ``[P]`` flat cell indices of the payload chips.
        bit_of_chip: ``[P]`` which coded bit each payload chip carries.
        bit_sign: ``[P]`` keyed ±1 spreading sign of each payload chip.
    """

    tile_cells: int
    num_coded: int
    sync_index: np.ndarray
    sync_sign: np.ndarray
    bit_index: np.ndarray
    bit_of_chip: np.ndarray
    bit_sign: np.ndarray

    @staticmethod
    def build(config: WatermarkConfig) -> TileLayout:
        seed = int.from_bytes(hashlib.sha256(_KEY).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        cells = config.tile_cells**2
        order = rng.permutation(cells)
        sync_index = np.sort(order[: config.sync_cells])
        payload_index = order[config.sync_cells:]
        num_coded = ecc.coded_length(PAYLOAD_BITS + ecc.CRC_BITS)
        # round-robin over the keyed order interleaves every coded bit across the tile
        bit_of_chip = np.arange(payload_index.size) % num_coded
        return TileLayout(
            tile_cells=config.tile_cells,
            num_coded=num_coded,
            sync_index=sync_index,
            sync_sign=rng.choice(np.array([-1.0, 1.0]), size=sync_index.size),
            bit_index=payload_index,
            bit_of_chip=bit_of_chip,
            bit_sign=rng.choice(np.array([-1.0, 1.0]), size=payload_index.size),
        )

    def tile(self, coded_bits: np.ndarray) -> np.ndarray:
        """``[N, N]`` ±1 chips of one tile carrying ``coded_bits``."""
        chips = np.zeros(self.tile_cells**2, dtype=np.float32)
        chips[self.sync_index] = self.sync_sign
        symbols = 1.0 - 2.0 * coded_bits.astype(np.float64)  # BPSK: bit 0 -> +1
        chips[self.bit_index] = self.bit_sign * symbols[self.bit_of_chip]
        return chips.reshape(self.tile_cells, self.tile_cells)


def _interpolation_axis(length: int, cell_px: float, tile_cells: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell indices either side of each pixel centre and the bilinear weight of the second."""
    position = (np.arange(length, dtype=np.float64) + 0.5) / cell_px - 0.5
    first = np.floor(position)
    weight = (position - first).astype(np.float32)
    first = first.astype(np.int64)
    return first % tile_cells, (first + 1) % tile_cells, weight


def chip_pattern(tile: np.ndarray, height: int, width: int, cell_px: float) -> np.ndarray:
    """``[H, W]`` float32 pattern: the tile repeated with period ``N * cell_px`` pixels,
    bilinearly interpolated between cell centres (cell ``(i, j)`` centred on pixel
    ``((j + 0.5) * cell_px - 0.5, (i + 0.5) * cell_px - 0.5)``)."""
    n = tile.shape[0]
    y0, y1, wy = _interpolation_axis(height, cell_px, n)
    x0, x1, wx = _interpolation_axis(width, cell_px, n)
    # separable bilinear interpolation: along x first, then along y
    rows0 = tile[y0]
    rows1 = tile[y1]
    along_x0 = rows0[:, x0] * (1 - wx) + rows0[:, x1] * wx
    along_x1 = rows1[:, x0] * (1 - wx) + rows1[:, x1] * wx
    return (along_x0 * (1 - wy)[:, None] + along_x1 * wy[:, None]).astype(np.float32)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


class WatermarkEmbedder:
    """Adds the mark carrying ``payload`` to RGB frames; the pattern is cached per frame size.

    Cost per 720p frame: a coarse luma for the texture map, one upsampling of that map, a
    multiply and a saturating add into reused buffers (``benchmarks/watermark.py``). One
    embedder serves one stream of frames: it is not safe to share between threads.
    """

    def __init__(self, payload: Payload, config: WatermarkConfig | None = None) -> None:
        self.payload = payload
        self.config = config or WatermarkConfig()
        self.layout = TileLayout.build(self.config)
        self.coded_bits = ecc.encode_payload(payload.to_bits())
        self._tile = self.layout.tile(self.coded_bits)
        self._size: tuple[int, int] | None = None
        self._pattern = np.zeros((0, 0), np.float32)
        self._pattern_rms = 1.0
        self._delta = np.zeros((0, 0), np.float32)
        self._part = np.zeros((0, 0), np.float32)
        self._raise = np.zeros((0, 0), np.uint8)
        self._lower = np.zeros((0, 0), np.uint8)

    def _prepare(self, height: int, width: int) -> None:
        """Pattern and work buffers for one frame size (reused: no per-frame allocations)."""
        if self._size == (height, width):
            return
        cell_px = self.config.cell_size_px(height, width)
        self._pattern = chip_pattern(self._tile, height, width, cell_px)
        self._pattern_rms = float(np.sqrt(np.mean(self._pattern**2)))
        self._delta = np.empty((height, width), np.float32)
        self._part = np.empty((height, width), np.float32)
        self._raise = np.empty((height, width), np.uint8)
        self._lower = np.empty((height, width), np.uint8)
        self._size = (height, width)

    def strength_map(self, rgb: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
        """``[gh, gw]`` per-region amplitude: local luma texture, RMS-normalised (perceptual
        shaping: the mark hides in texture and stays faint in flat areas)."""
        # texture is a coarse measure: every 4th pixel is plenty and 16x cheaper to convert
        decimated = _luma(np.ascontiguousarray(rgb[1::4, 1::4]))
        luma = cv2.resize(decimated, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
        luma = luma.astype(np.float32)
        texture = np.abs(luma - cv2.blur(luma, (3, 3)))
        texture = cv2.blur(texture, (3, 3))
        median = float(np.median(texture)) + 1e-3
        # flat areas get less, busy ones more; the square root keeps the range gentle
        low, high = self.config.strength_range
        relative = np.clip(np.sqrt(texture / median), low, high)
        # bright or dark extremes clip the mark anyway: spend less there
        level = np.minimum(luma, 255.0 - luma)
        relative *= np.clip(level / 24.0, 0.25, 1.0)
        return relative / float(np.sqrt(np.mean(relative**2)))

    def embed(self, rgb: np.ndarray) -> np.ndarray:
        """``[H, W, 3]`` uint8 RGB -> the same frame carrying the mark."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected [H, W, 3] uint8 RGB, got {rgb.shape} {rgb.dtype}")
        height, width = rgb.shape[:2]
        self._prepare(height, width)
        grid = (max(2, height // 16), max(2, width // 16))
        strength = self.strength_map(rgb, grid) * (self.config.target_rms / self._pattern_rms)
        delta = cv2.resize(strength.astype(np.float32), (width, height), dst=self._delta,
                           interpolation=cv2.INTER_LINEAR)
        np.multiply(delta, self._pattern, out=delta)
        # rounded positive and negative parts as uint8: two saturating adds are exactly
        # clip(rgb + round(delta)) and move far less memory than a float RGB add
        part = self._part
        cv2.threshold(delta, 0.0, 0.0, cv2.THRESH_TOZERO, dst=part)
        raise_by = cv2.convertScaleAbs(part, dst=self._raise)
        cv2.threshold(delta, 0.0, 0.0, cv2.THRESH_TOZERO_INV, dst=part)
        lower_by = cv2.convertScaleAbs(part, dst=self._lower)
        # the same offset on R, G and B changes luma only (BT.601/709 weights sum to 1)
        out = cv2.add(rgb, cv2.cvtColor(raise_by, cv2.COLOR_GRAY2RGB))
        return cv2.subtract(out, cv2.cvtColor(lower_by, cv2.COLOR_GRAY2RGB), dst=out)


@dataclass(frozen=True)
class Detection:
    """What the detector found in a window of frames.

    The mark is *found* when either test passes (each bounded on unmarked footage; together
    below ``false_positive_rate`` per window):

    * sync: the best normalised sync correlation ``z`` reaches ``threshold``;
    * payload: the payload decoded at one of the best hypotheses passes CRC-16 and carries
      this tool's id and format version (32 check bits).

    Attributes:
        found: either test passed.
        sync_found: ``z >= threshold``.
        payload_verified: the payload check passed (``payload`` is then exact).
        z: the best normalised sync correlation (about N(0, 1) per hypothesis when unmarked).
        threshold: the sync threshold (:func:`detection_threshold`).
        false_alarm_bound: upper bound on the chance that unmarked footage looks at least this
            marked (1.0 when nothing was found).
        payload: the decoded payload when it passed the check, else None.
        coded_bits: hard decisions on the coded bits at the chosen hypothesis.
        payload_bits: the Viterbi-decoded payload bits there (even if the check failed).
        bit_margin: mean |soft value| / RMS soft value of the coded bits (1 = perfectly clean).
        cell_px: cell size (pixels of the analysed frames) of the chosen hypothesis.
        frames: how many frames were accumulated.
    """

    found: bool
    sync_found: bool
    payload_verified: bool
    z: float
    threshold: float
    false_alarm_bound: float
    payload: Payload | None
    coded_bits: np.ndarray = field(repr=False)
    payload_bits: np.ndarray = field(repr=False)
    bit_margin: float
    cell_px: float
    frames: int

    @property
    def confidence(self) -> float:
        """1 - false_alarm_bound: how sure we are the footage carries the mark."""
        return 1.0 - self.false_alarm_bound

    def to_dict(self) -> dict[str, object]:
        return {
            "found": self.found,
            "sync_found": self.sync_found,
            "payload_verified": self.payload_verified,
            "z": round(self.z, 3),
            "threshold": round(self.threshold, 3),
            "false_alarm_bound": self.false_alarm_bound,
            "confidence": self.confidence,
            "payload": self.payload.to_dict() if self.payload else None,
            "bit_margin": round(self.bit_margin, 3),
            "cell_px": round(self.cell_px, 3),
            "frames": self.frames,
        }


@dataclass(frozen=True)
class _Hypothesis:
    z: float
    cell_px: float
    cells: np.ndarray  # [N*N] cell sums at the best offset, in tile order


def whitened_luma(luma_u8: np.ndarray, cell_px: float) -> np.ndarray:
    """``[H, W]`` uint8 luma -> band-passed, divided by its local RMS, clipped: the detector's
    input.

    The difference of Gaussians (0.15 and 0.5 cell) approximates the optimal prewhitening for
    a host with a ~1/f^2 spectrum and a mark made of cell-sized chips: it keeps the chips'
    band and removes most of the image's own energy below it (and codec noise above it).
    Dividing by the local RMS stops edges and texture from dominating the sum.
    """
    luma = luma_u8.astype(np.float32)
    fine = cv2.GaussianBlur(luma, (0, 0), max(0.3, 0.15 * cell_px))
    coarse = cv2.GaussianBlur(luma, (0, 0), max(0.6, 0.5 * cell_px))
    residual = fine - coarse
    energy = cv2.GaussianBlur(residual * residual, (0, 0), max(1.0, cell_px))
    residual /= np.sqrt(energy) + 0.5
    return np.clip(residual, -3.0, 3.0)


class WatermarkDetector:
    """Accumulates frames of one video (or one image), then searches for the mark.

    Usage: ``detector.add(rgb)`` per frame, then ``detector.result()``. Frames must share one
    size; the mark is assumed static in frame coordinates (as the embedder makes it).

    A crop makes the cells larger than the cropped frame's nominal cell (up to 2x for a crop
    keeping half of each side), and the whitening filter must follow the cell size, so each
    frame is whitened for a few *bands* of cell sizes (:meth:`WatermarkConfig.band_centres`),
    each at about ``ANALYSIS_CELL_PX`` pixels per cell of its band, into one sum per band.
    Every searched cell size is read from the band nearest to it.
    """

    ANALYSIS_CELL_PX = 4.0

    def __init__(self, config: WatermarkConfig | None = None) -> None:
        self.config = config or WatermarkConfig()
        self.layout = TileLayout.build(self.config)
        self._bands = self.config.band_centres()
        self._sync_spectra = self._sync_grid_spectra()
        self._sums: list[np.ndarray] = []
        self._scales: list[float] = []
        self._shape: tuple[int, int] | None = None
        self.frames = 0

    def add(self, rgb: np.ndarray) -> None:
        """Accumulate one ``[H, W, 3]`` uint8 RGB frame."""
        height, width = rgb.shape[:2]
        nominal = self.config.cell_size_px(height, width)
        if self._shape is None:
            self._shape = (height, width)
            # analyse each band at ~4 px per cell: enough resolution, bounded cost
            self._scales = [min(1.0, self.ANALYSIS_CELL_PX / (nominal * band))
                            for band in self._bands]
        elif self._shape != (height, width):
            raise ValueError(f"frame size changed from {self._shape} to {(height, width)}")
        luma = _luma(rgb)
        reduced: dict[float, np.ndarray] = {}
        for index, (band, scale) in enumerate(zip(self._bands, self._scales, strict=True)):
            if scale not in reduced:
                reduced[scale] = luma if scale >= 1.0 else cv2.resize(
                    luma, (max(8, round(width * scale)), max(8, round(height * scale))),
                    interpolation=cv2.INTER_AREA)
            residual = whitened_luma(reduced[scale], nominal * band * scale)
            if len(self._sums) <= index:
                self._sums.append(residual)
            else:
                self._sums[index] += residual
        self.frames += 1

    def result(self) -> Detection:
        """Search every hypothesis and decide (see :class:`Detection`)."""
        if not self._sums or self._shape is None:
            raise ValueError("no frames were added")
        config = self.config
        nominal = config.cell_size_px(*self._shape)
        log_bands = np.log(self._bands)
        hypotheses = []
        for relative in config.scale_candidates():
            band = int(np.argmin(np.abs(log_bands - math.log(relative))))
            scale = self._scales[band]
            hypotheses.append(self._search(self._sums[band], nominal * relative * scale, scale))
        hypotheses.sort(key=lambda h: h.z, reverse=True)
        threshold = detection_threshold(config)
        best = hypotheses[0]
        chosen, decoded, verified = best, self._decode(best), False
        for hypothesis in hypotheses[: config.decode_candidates]:
            candidate = decoded if hypothesis is best else self._decode(hypothesis)
            if self._payload_ok(candidate[1], candidate[2]):
                chosen, decoded, verified = hypothesis, candidate, True
                break
        soft, bits, _ = decoded
        sync_found = best.z >= threshold
        bounds = [1.0]
        if sync_found:
            bounds.append(sync_false_alarm_bound(best.z, config))
        if verified:
            bounds.append(payload_false_alarm_bound(config))
        rms = float(np.sqrt(np.mean(soft**2))) + 1e-12
        return Detection(
            found=sync_found or verified,
            sync_found=sync_found,
            payload_verified=verified,
            z=best.z,
            threshold=threshold,
            false_alarm_bound=min(bounds),
            payload=Payload.from_bits(bits) if verified else None,
            coded_bits=(soft < 0).astype(np.uint8),
            payload_bits=bits,
            bit_margin=float(np.mean(np.abs(soft))) / rms,
            cell_px=chosen.cell_px,
            frames=self.frames,
        )

    def _decode(self, hypothesis: _Hypothesis) -> tuple[np.ndarray, np.ndarray, bool]:
        """Despread the payload chips into soft coded bits and Viterbi-decode them."""
        layout = self.layout
        soft = np.zeros(layout.num_coded)
        np.add.at(soft, layout.bit_of_chip, layout.bit_sign * hypothesis.cells[layout.bit_index])
        bits, crc_ok = ecc.decode_payload(soft)
        return soft, bits, crc_ok

    @staticmethod
    def _payload_ok(bits: np.ndarray, crc_ok: bool) -> bool:
        if not crc_ok:
            return False
        payload = Payload.from_bits(bits)
        return payload.tool_id == TOOL_ID_OPENFSGAN and payload.format_version == FORMAT_VERSION

    def _sync_grid_spectra(self) -> tuple[np.ndarray, np.ndarray]:
        """Conjugate spectra of the sync chips and of their mask on the tile's bin grid (one
        bin per cell: the cell's first bin), shared by every searched cell size."""
        config = self.config
        bins, period = config.bins_per_cell, config.tile_bins
        sync_grid = np.zeros((period, period))
        mask_grid = np.zeros((period, period))
        rows_idx, cols_idx = np.divmod(self.layout.sync_index, config.tile_cells)
        sync_grid[rows_idx * bins, cols_idx * bins] = self.layout.sync_sign
        mask_grid[rows_idx * bins, cols_idx * bins] = 1.0
        return np.conj(np.fft.rfft2(sync_grid)), np.conj(np.fft.rfft2(mask_grid))

    def _search(self, whitened: np.ndarray, cell_px: float, scale: float) -> _Hypothesis:
        """The best cyclic offset of the tile at one cell size (``cell_px`` in the pixels of
        ``whitened``, a band's sum analysed at ``scale`` times the frame size)."""
        config = self.config
        bins = config.bins_per_cell
        period = config.tile_bins
        factor = bins / cell_px
        height, width = whitened.shape
        size = (max(period, round(width * factor)), max(period, round(height * factor)))
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        resampled = cv2.resize(whitened, size, interpolation=interpolation)
        # fold modulo the tile: pad to whole tiles, then sum the tiles
        rows = -(-resampled.shape[0] // period) * period
        cols = -(-resampled.shape[1] // period) * period
        padded = np.zeros((rows, cols), dtype=np.float64)
        padded[: resampled.shape[0], : resampled.shape[1]] = resampled
        folded = padded.reshape(rows // period, period, cols // period, period).sum(axis=(0, 2))
        # sum of each cell's bins for every sub-cell phase: a cyclic box filter
        cell_sums = folded.copy()
        for axis in (0, 1):
            acc = cell_sums.copy()
            for shift in range(1, bins):
                acc += np.roll(cell_sums, -shift, axis=axis)
            cell_sums = acc
        spectrum = np.fft.rfft2(cell_sums)
        spectrum_sq = np.fft.rfft2(cell_sums**2)
        sync_spectrum, mask_spectrum = self._sync_spectra
        # cyclic cross-correlation for every offset o: sum_i s_i * c[o + p_i]
        numerator = np.fft.irfft2(spectrum * sync_spectrum, s=(period, period))
        energy = np.fft.irfft2(spectrum_sq * mask_spectrum, s=(period, period))
        z_map = numerator / np.sqrt(np.maximum(energy, 1e-12))
        flat = int(np.argmax(z_map))
        offset_y, offset_x = divmod(flat, period)
        # every cell's sum at the winning offset, in tile order
        n = config.tile_cells
        ys = (offset_y + np.arange(n) * bins) % period
        xs = (offset_x + np.arange(n) * bins) % period
        cells = cell_sums[np.ix_(ys, xs)].ravel()
        return _Hypothesis(float(z_map[offset_y, offset_x]), cell_px / scale, cells)


def detect(frames: Iterable[np.ndarray], config: WatermarkConfig | None = None) -> Detection:
    """Accumulate RGB frames and search for the mark (see :class:`WatermarkDetector`)."""
    detector = WatermarkDetector(config)
    for rgb in frames:
        detector.add(rgb)
    return detector.result()
