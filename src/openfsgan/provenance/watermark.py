"""Invisible, robust watermark: tile-periodic spread spectrum in low-frequency luma and chroma.

Design (details, measurements and the false-positive derivation: ``docs/provenance.md``).
Format 3 has two layers; the first is format 2's whole mark, so format 2 outputs still verify.
The second is embedded only with the ``robust`` profile (:data:`WATERMARK_PROFILES`): the
``standard`` default keeps the provenance target's PSNR >= 40 dB. The detector searches both.

* **Payload** (:class:`Payload`, 48 bits): tool id (8), format version (8), run id (32).
  :mod:`openfsgan.provenance.ecc` appends a CRC-16 and applies a rate-1/2 K=7 convolutional
  code: 140 coded bits.
* **Luma layer** (sync + payload): a keyed ``32 x 32`` grid of cells, each with one ±1 chip:
  500 cells are a fixed *synchronisation* pattern (payload independent); the other 524 are
  spread over the 140 coded bits (3-4 chips each) at keyed pseudo-random places with keyed
  signs. A cell is ``min(H, W) / 128`` pixels. The same offset on R, G and B (luma only), its
  amplitude following local texture (0.6x in flat areas to 1.6x in busy ones, less near black
  and white), RMS ``target_rms`` = 2.3 grey levels (as in format 2).
* **Chroma layer** (sync only, format 3): a second keyed ``24 x 24`` tile, every cell a sync
  chip, with cells of ``min(H, W) / 32`` pixels (4x the luma cells), added along the Cb axis
  (G and B move, luma does not), RMS ``chroma_rms`` = 2.1 grey levels of R, G, B. After a
  crop to half of each side and a 0.5x downscale its cells are still 11 px wide at 720p,
  where the luma cells are 2.8 px, which CRF 30 erases. PSNR of the luma layer alone about
  40.9 dB, of both about 38.3 dB.
* **Geometry**: both tiles repeat over the whole frame, so a resized frame carries the same
  pattern at the same relative place, a crop only shifts it, and a crop of the short side
  makes the cells larger than the cropped frame's nominal cell. Chips are bilinearly
  interpolated between cell centres: a smooth pattern in the band that H.264/JPEG keep.
* **Detection** (:class:`WatermarkDetector`): per layer, each frame's plane (luma; Cb) is
  band-passed for three bands of cell sizes and divided by its local RMS, then summed over
  frames. For each candidate cell size (the nominal one up to 2.08x: crops keeping down to
  48 % of the short side), the band's sum is resampled to 4 bins per cell and folded modulo
  the tile; all cyclic offsets are scored at once by FFT correlation with the sync chips
  (normalised correlation ``z``). The payload is despread and Viterbi-decoded at the
  best-scoring luma hypotheses.
* **Decision** (:class:`Detection`): found when the luma or the chroma ``z`` passes its
  threshold (Hoeffding's inequality and a union bound over that layer's hypotheses), or when
  a decoded payload passes its 32 check bits (CRC-16, tool id, version 2 or 3); together
  < 1e-6 false positives per window of unmarked footage, whatever the footage.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from openfsgan.provenance import ecc

FORMAT_VERSION = 3  # 3: a coarse chroma sync layer beside the luma layer of format 2
READABLE_FORMAT_VERSIONS = (2, 3)
"""Format versions the detector accepts in a payload: format 3's luma layer is format 2's
mark (same key, geometry and layout), so marks of both formats are read by one search."""
TOOL_ID_OPENFSGAN = 0xF5
PAYLOAD_BITS = 48
_KEY = b"openfsgan-watermark-v1"
_CHROMA_KEY = b"openfsgan-watermark-v3-chroma"

# RGB change of a unit change of Cb (BT.601): R 0, G -0.344, B +1.772; its RMS over the three
# channels converts the chroma layer's RGB RMS (the PSNR budget) into a Cb amplitude
_CB_TO_RGB = np.array([0.0, -0.344136, 1.772], dtype=np.float64)
_CB_RGB_RMS = float(np.sqrt(np.mean(_CB_TO_RGB**2)))


@dataclass(frozen=True)
class WatermarkConfig:
    """Parameters of the mark; embedder and detector must agree on every field but the last four.

    The mark has two layers (``docs/provenance.md``): a fine *luma* layer carrying the sync
    pattern and the payload (format 2's mark), and a coarse *chroma* layer (Cb), sync only,
    whose cells stay several pixels wide after a crop to half of each side and a 0.5x downscale,
    where H.264 keeps chroma at CRF 30 better than it keeps the fine luma cells.

    Attributes:
        cells_per_short_side: luma cells along the frame's shorter side (cell size in pixels is
            ``min(H, W) / cells_per_short_side``).
        tile_cells: the luma tile is ``tile_cells x tile_cells`` cells and repeats over the
            frame.
        sync_cells: luma cells of each tile carrying the payload-independent sync pattern.
        target_rms: RMS luma change of the luma layer in grey levels.
        strength_range: lowest and highest local amplitude of the luma layer relative to the
            mean (flat areas get the lower, textured areas the higher: perceptual shaping).
        chroma_rms: RMS change of R, G and B by the chroma layer, in grey levels (0: no chroma
            layer, which is format 2's mark). Together with ``target_rms`` it sets the PSNR:
            ``20 log10(255 / sqrt(target_rms^2 + chroma_rms^2))``.
        chroma_cells_per_short_side: chroma cells along the shorter side.
        chroma_tile_cells: the chroma tile is ``chroma_tile_cells`` square; every cell is sync.
        chroma_scale_step: relative step of the chroma layer's cell-size search (coarser than
            the luma one in proportion to its cells: a frame spans 4x fewer of them).
        max_crop: the detector searches cell sizes for crops removing up to this fraction of
            the shorter side (0.52: crops keeping half of each side, with room for rounding).
        scale_step: relative step of the luma cell-size search at the nominal size (it grows in
            proportion to the cell size: :meth:`scale_candidates`).
        whitening_bands: how many bands of cell sizes the detector whitens each frame for
            (the band-pass filter must follow the cell size; cost grows with the count).
        bins_per_cell: sub-cell resolution of the detector's offset search.
        decode_candidates: how many of the best-scoring cell sizes the detector decodes.
        false_positive_rate: target probability, per analysed window of unmarked footage, of a
            false detection; sets the thresholds.
    """

    cells_per_short_side: int = 128
    tile_cells: int = 32
    sync_cells: int = 500
    target_rms: float = 2.3
    strength_range: tuple[float, float] = (0.6, 1.6)
    chroma_rms: float = 2.1
    chroma_cells_per_short_side: int = 32
    chroma_tile_cells: int = 24
    chroma_scale_step: float = 0.012
    max_crop: float = 0.52
    scale_step: float = 0.003
    whitening_bands: int = 3
    bins_per_cell: int = 4
    decode_candidates: int = 8
    false_positive_rate: float = 1e-6

    def __post_init__(self) -> None:
        if min(self.cells_per_short_side, self.tile_cells, self.chroma_cells_per_short_side,
               self.chroma_tile_cells) < 8:
            raise ValueError("cells per short side and tile sizes must be >= 8")
        payload_cells = self.tile_cells**2 - self.sync_cells
        if payload_cells < ecc.coded_length(PAYLOAD_BITS + ecc.CRC_BITS):
            raise ValueError("too few payload cells per tile for the coded payload")
        if not 0 < self.target_rms < 8 or not 0 <= self.chroma_rms < 8:
            raise ValueError("target_rms must be in (0, 8) and chroma_rms in [0, 8) grey levels")
        if not 0 <= self.max_crop <= 0.6 or not 0 < self.scale_step < 0.05 \
                or not 0 < self.chroma_scale_step < 0.05:
            raise ValueError("max_crop must be in [0, 0.6] and the scale steps in (0, 0.05)")
        if self.whitening_bands < 1:
            raise ValueError("whitening_bands must be >= 1")
        if self.decode_candidates < 1:
            raise ValueError("decode_candidates must be >= 1")
        if not 0 < self.false_positive_rate < 1:
            raise ValueError("false_positive_rate must be in (0, 1)")

    @property
    def has_chroma_layer(self) -> bool:
        return self.chroma_rms > 0

    @property
    def tile_bins(self) -> int:
        return self.tile_cells * self.bins_per_cell

    @property
    def chroma_tile_bins(self) -> int:
        return self.chroma_tile_cells * self.bins_per_cell

    @property
    def max_relative_cell(self) -> float:
        """Largest cell size searched, relative to the nominal one: a crop keeping a fraction
        ``1 - max_crop`` of the short side makes the cells ``1 / (1 - max_crop)`` times larger
        than the cropped frame's nominal cell (any resize afterwards scales both alike)."""
        return 1.0 / (1.0 - self.max_crop)

    def cell_size_px(self, height: int, width: int) -> float:
        """Nominal luma cell size of a frame of that size (what the embedder uses)."""
        return min(height, width) / self.cells_per_short_side

    def chroma_cell_size_px(self, height: int, width: int) -> float:
        """Nominal chroma cell size of a frame of that size."""
        return min(height, width) / self.chroma_cells_per_short_side

    def scale_candidates(self, step: float | None = None) -> np.ndarray:
        """Relative cell sizes the detector tries, from 1 (no crop) to :attr:`max_relative_cell`.

        A scale error ``e`` misplaces cells by ``e x`` at ``x`` cells from where the fold is
        aligned; the frame spans ``cells_per_short_side / s`` cells at relative size ``s``, so
        the tolerable error grows like ``s``: the step is ``step * s`` in log scale (175 luma
        sizes up to a 52 % crop instead of 246 at a fixed step: fewer hypotheses, a lower
        threshold). ``step`` defaults to :attr:`scale_step` (the luma layer).
        """
        step = self.scale_step if step is None else step
        sizes = [1.0]
        log_top = math.log(self.max_relative_cell)
        log_size = 0.0
        while log_size < log_top:
            log_size = min(log_top, log_size + step * math.exp(log_size))
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
        """Number of (cell size, offset) hypotheses the luma sync search tries."""
        return len(self.scale_candidates()) * self.tile_bins**2

    @property
    def chroma_hypotheses(self) -> int:
        """Number of (cell size, offset) hypotheses the chroma sync search tries."""
        return len(self.scale_candidates(self.chroma_scale_step)) * self.chroma_tile_bins**2


WATERMARK_PROFILES: dict[str, str] = {
    "standard": "the luma layer alone (format 2's mark), PSNR about 40.9 dB",
    "robust": "the luma layer and the coarse chroma sync layer, PSNR about 38.3 dB: found more "
              "often after a crop combined with a downscale and strong compression",
}
"""What an output's mark is made of. The detector searches both layers whatever the profile,
so marks of either profile (and of format 2) are read by one ``verify``."""
DEFAULT_WATERMARK_PROFILE = "standard"
"""The provenance target's PSNR >= 40 dB holds for the luma layer alone; the chroma layer costs
2.6 dB more and is asked for (``--robust-watermark``), not imposed (``docs/provenance.md``)."""


def embedding_config(profile: str = DEFAULT_WATERMARK_PROFILE,
                     base: WatermarkConfig | None = None) -> WatermarkConfig:
    """The embedder's configuration of a profile: ``base`` (default: the detector's
    :class:`WatermarkConfig`, both layers) with the chroma layer off for ``standard``.

    Raises:
        ValueError: for a profile not in :data:`WATERMARK_PROFILES`.
    """
    if profile not in WATERMARK_PROFILES:
        raise ValueError(f"unknown watermark profile {profile!r}; valid: "
                         f"{', '.join(WATERMARK_PROFILES)}")
    config = base or WatermarkConfig()
    return config if profile == "robust" else replace(config, chroma_rms=0.0)


SYNC_SHARE_OF_FALSE_POSITIVES = 0.9
"""Part of the false-positive budget given to the sync statistics (split evenly between the
luma and the chroma layer when there is one); the rest goes to the payload check (which needs
far less: see :func:`payload_false_alarm_bound`)."""

PAYLOAD_CHECK_BITS = ecc.CRC_BITS + 16
"""Bits a decoding must match to pass the payload check: CRC-16, tool id, version (one of
:data:`READABLE_FORMAT_VERSIONS`, so a random decoding passes with probability
``len(READABLE_FORMAT_VERSIONS) * 2**-32``)."""


def sync_budget(config: WatermarkConfig) -> float:
    """False-positive budget of each sync test (luma, and chroma when the mark has it)."""
    layers = 2 if config.has_chroma_layer else 1
    return SYNC_SHARE_OF_FALSE_POSITIVES * config.false_positive_rate / layers


def payload_budget(config: WatermarkConfig) -> float:
    """False-positive budget of the payload check."""
    return (1.0 - SYNC_SHARE_OF_FALSE_POSITIVES) * config.false_positive_rate


def _threshold(hypotheses: int, budget: float) -> float:
    return math.sqrt(2.0 * math.log(hypotheses / budget))


def detection_threshold(config: WatermarkConfig) -> float:
    """Normalised-correlation threshold of the luma sync statistic.

    Each hypothesis' statistic obeys ``P(z >= t) <= exp(-t^2 / 2)`` on footage independent of
    the key (Hoeffding's inequality over the ±1 sync chips, conditioned on the image), so by
    the union bound over ``M`` hypotheses ``P(max z >= t) <= M exp(-t^2 / 2)``; solving
    ``M exp(-t^2/2) = a`` with ``a`` the test's budget (:func:`sync_budget`) gives
    ``t = sqrt(2 ln(M / a))``: 7.68 with the default configuration (175 cell sizes x 16,384
    offsets, a = 4.5e-7); 7.59 for format 2, whose single sync test had a = 9e-7.
    """
    return _threshold(config.hypotheses, sync_budget(config))


def chroma_detection_threshold(config: WatermarkConfig) -> float:
    """Threshold of the chroma sync statistic, derived like :func:`detection_threshold`
    (45 cell sizes x 9,216 offsets: 7.43 with the defaults); infinite without a chroma layer."""
    if not config.has_chroma_layer:
        return math.inf
    return _threshold(config.chroma_hypotheses, sync_budget(config))


def sync_false_alarm_bound(z: float, config: WatermarkConfig) -> float:
    """Upper bound on the probability that unmarked footage scores ``z`` or more (luma)."""
    return float(min(1.0, config.hypotheses * math.exp(-0.5 * z * z)))


def chroma_false_alarm_bound(z: float, config: WatermarkConfig) -> float:
    """Upper bound on the probability that unmarked footage scores ``z`` or more (chroma)."""
    return float(min(1.0, config.chroma_hypotheses * math.exp(-0.5 * z * z)))


def payload_false_alarm_bound(config: WatermarkConfig) -> float:
    """Upper bound on the probability that unmarked footage passes the payload check.

    On footage independent of the key, the keyed ±1 spreading signs make every coded bit's soft
    value symmetric, and the code is linear, so the Viterbi output is uniform over all messages:
    one decoding passes CRC-16 + tool id + one of the readable versions with probability
    ``len(READABLE_FORMAT_VERSIONS) * 2**-32``; the detector decodes ``decode_candidates``
    hypotheses.
    """
    return float(config.decode_candidates * len(READABLE_FORMAT_VERSIONS)
                 * 2.0**-PAYLOAD_CHECK_BITS)


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


def _keyed_rng(key: bytes) -> np.random.Generator:
    """The generator of a layer's keyed chip layout (the same for embedder and detector)."""
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))


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
        rng = _keyed_rng(_KEY)
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


@dataclass(frozen=True, eq=False)
class ChromaLayout:
    """Keyed chips of the chroma layer's tile: every cell is a sync chip (no payload: the
    layer exists to be *found* where the fine luma cells are lost).

    Attributes:
        sync_index: ``[N*N]`` flat cell indices (all cells).
        sync_sign: ``[N*N]`` their keyed ±1 values.
    """

    tile_cells: int
    sync_index: np.ndarray
    sync_sign: np.ndarray

    @staticmethod
    def build(config: WatermarkConfig) -> ChromaLayout:
        rng = _keyed_rng(_CHROMA_KEY)
        cells = config.chroma_tile_cells**2
        return ChromaLayout(tile_cells=config.chroma_tile_cells, sync_index=np.arange(cells),
                            sync_sign=rng.choice(np.array([-1.0, 1.0]), size=cells))

    def tile(self) -> np.ndarray:
        """``[N, N]`` ±1 chips of the chroma tile."""
        return self.sync_sign.astype(np.float32).reshape(self.tile_cells, self.tile_cells)


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


def _positive_u8(values: np.ndarray, scale: float) -> np.ndarray:
    """``round(max(values, 0) * scale)`` as uint8 (saturating)."""
    # C order: OpenCV's saturating arithmetic is several times slower on strided arrays
    return np.ascontiguousarray(np.clip(np.rint(np.maximum(values, 0.0) * scale), 0, 255),
                                dtype=np.uint8)


class WatermarkEmbedder:
    """Adds the mark carrying ``payload`` to RGB frames; the patterns are cached per frame size.

    Cost per 720p frame: a coarse luma for the texture map, one uint8 upsampling of that map,
    two uint8 multiplies by the precomputed luma pattern, and saturating adds of the luma layer
    and of the precomputed chroma layer when the configuration has one (``benchmarks/
    watermark.py``). Without ``config`` it embeds the default profile
    (:func:`embedding_config`). One embedder serves one stream of frames: it is not safe to
    share between threads.
    """

    # fixed-point scales of the uint8 luma path: the strength map is stored as
    # strength * _STRENGTH_LEVELS / its maximum, the pattern's parts as part * 255 / peak
    _STRENGTH_LEVELS = 255.0

    def __init__(self, payload: Payload, config: WatermarkConfig | None = None) -> None:
        self.payload = payload
        self.config = config or embedding_config()
        self.layout = TileLayout.build(self.config)
        self.chroma_layout = ChromaLayout.build(self.config)
        self.coded_bits = ecc.encode_payload(payload.to_bits())
        self._tile = self.layout.tile(self.coded_bits)
        self._size: tuple[int, int] | None = None
        self._pattern_rms = 1.0
        self._pattern_peak = 1.0
        self._luma_up = np.zeros((0, 0), np.uint8)
        self._luma_down = np.zeros((0, 0), np.uint8)
        self._strength = np.zeros((0, 0), np.uint8)
        self._raise = np.zeros((0, 0), np.uint8)
        self._lower = np.zeros((0, 0), np.uint8)
        self._chroma_up: np.ndarray | None = None
        self._chroma_down: np.ndarray | None = None

    def _prepare(self, height: int, width: int) -> None:
        """Patterns and work buffers for one frame size (reused: no per-frame allocations)."""
        if self._size == (height, width):
            return
        config = self.config
        pattern = chip_pattern(self._tile, height, width, config.cell_size_px(height, width))
        self._pattern_rms = float(np.sqrt(np.mean(pattern**2)))
        self._pattern_peak = float(np.max(np.abs(pattern))) + 1e-12
        # the luma pattern's positive and negative parts at full uint8 resolution
        self._luma_up = _positive_u8(pattern, 255.0 / self._pattern_peak)
        self._luma_down = _positive_u8(-pattern, 255.0 / self._pattern_peak)
        self._strength = np.empty((height, width), np.uint8)
        self._raise = np.empty((height, width), np.uint8)
        self._lower = np.empty((height, width), np.uint8)
        if config.has_chroma_layer:
            # the chroma layer is the same on every frame: its RGB change is precomputed
            chroma = chip_pattern(self.chroma_layout.tile(), height, width,
                                  config.chroma_cell_size_px(height, width))
            chroma *= config.chroma_rms / (_CB_RGB_RMS * float(np.sqrt(np.mean(chroma**2))))
            rgb_change = chroma[:, :, None] * _CB_TO_RGB.astype(np.float32)
            self._chroma_up = _positive_u8(rgb_change, 1.0)
            self._chroma_down = _positive_u8(-rgb_change, 1.0)
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
        # grey levels per unit of the pattern, region by region
        amplitude = self.strength_map(rgb, grid) * (self.config.target_rms / self._pattern_rms)
        top = float(amplitude.max()) + 1e-12
        levels = np.rint(amplitude * (self._STRENGTH_LEVELS / top)).astype(np.uint8)
        strength = cv2.resize(levels, (width, height), dst=self._strength,
                              interpolation=cv2.INTER_LINEAR)
        # change = strength * pattern part, rounded: two uint8 multiplies (fixed point)
        scale = top * self._pattern_peak / (self._STRENGTH_LEVELS * 255.0)
        raise_by = cv2.multiply(strength, self._luma_up, dst=self._raise, scale=scale)
        lower_by = cv2.multiply(strength, self._luma_down, dst=self._lower, scale=scale)
        # the same offset on R, G and B changes luma only (BT.601/709 weights sum to 1)
        out = cv2.add(rgb, cv2.cvtColor(raise_by, cv2.COLOR_GRAY2RGB))
        cv2.subtract(out, cv2.cvtColor(lower_by, cv2.COLOR_GRAY2RGB), dst=out)
        if self._chroma_up is not None and self._chroma_down is not None:
            # the chroma layer moves G and B in the Cb direction, leaving luma unchanged
            cv2.add(out, self._chroma_up, dst=out)
            cv2.subtract(out, self._chroma_down, dst=out)
        return out


@dataclass(frozen=True)
class Detection:
    """What the detector found in a window of frames.

    The mark is *found* when any test passes (each bounded on unmarked footage; together
    below ``false_positive_rate`` per window):

    * luma sync: the best normalised luma sync correlation ``z`` reaches ``threshold``;
    * chroma sync: the best normalised chroma sync correlation ``chroma_z`` reaches
      ``chroma_threshold`` (format 3);
    * payload: the payload decoded at one of the best luma hypotheses passes CRC-16 and
      carries this tool's id and a readable format version (32 check bits).

    Attributes:
        found: any test passed.
        sync_found: ``z >= threshold``.
        chroma_found: ``chroma_z >= chroma_threshold``.
        payload_verified: the payload check passed (``payload`` is then exact).
        z: the best normalised luma sync correlation (about N(0, 1) per hypothesis when
            unmarked).
        threshold: the luma sync threshold (:func:`detection_threshold`).
        chroma_z: the best normalised chroma sync correlation (0 when not searched).
        chroma_threshold: the chroma sync threshold (:func:`chroma_detection_threshold`).
        false_alarm_bound: upper bound on the chance that unmarked footage looks at least this
            marked to the whole decision rule: the smallest over the passed tests of the test's
            own bound divided by its share of the budget (1.0 when nothing was found).
        payload: the decoded payload when it passed the check, else None.
        coded_bits: hard decisions on the coded bits at the chosen hypothesis.
        payload_bits: the Viterbi-decoded payload bits there (even if the check failed).
        bit_margin: mean |soft value| / RMS soft value of the coded bits (1 = perfectly clean).
        cell_px: luma cell size (pixels of the analysed frames) of the chosen hypothesis.
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
    chroma_found: bool = False
    chroma_z: float = 0.0
    chroma_threshold: float = math.inf

    @property
    def confidence(self) -> float:
        """1 - false_alarm_bound: how sure we are the footage carries the mark."""
        return 1.0 - self.false_alarm_bound

    def to_dict(self) -> dict[str, object]:
        return {
            "found": self.found,
            "sync_found": self.sync_found,
            "chroma_found": self.chroma_found,
            "payload_verified": self.payload_verified,
            "z": round(self.z, 3),
            "threshold": round(self.threshold, 3),
            "chroma_z": round(self.chroma_z, 3),
            "chroma_threshold": (round(self.chroma_threshold, 3)
                                 if math.isfinite(self.chroma_threshold) else None),
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
    """``[H, W]`` uint8 plane (luma or chroma) -> band-passed, divided by its local RMS,
    clipped: the detector's input.

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


def _cb_plane(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[:, :, 2]


class _LayerSearch:
    """One layer's detector: per-band sums of whitened frames, then the (cell size, offset)
    search of its sync chips.

    A crop makes the cells larger than the cropped frame's nominal cell (up to 2x for a crop
    keeping half of each side), and the whitening filter must follow the cell size, so each
    frame is whitened for a few *bands* of cell sizes, each at about ``ANALYSIS_CELL_PX``
    pixels per cell of its band, into one sum per band. Every searched cell size is read from
    the band nearest to it.
    """

    ANALYSIS_CELL_PX = 4.0

    def __init__(self, config: WatermarkConfig, cells_per_short_side: int, tile_cells: int,
                 sync_index: np.ndarray, sync_sign: np.ndarray, scale_step: float,
                 chroma: bool) -> None:
        self.config = config
        self.cells_per_short_side = cells_per_short_side
        self.tile_cells = tile_cells
        self.period = tile_cells * config.bins_per_cell
        self.sync_index = sync_index
        self.sync_sign = sync_sign
        self.candidates = config.scale_candidates(scale_step)
        self.chroma = chroma
        self.bands = config.band_centres()
        self.spectra = self._sync_grid_spectra()
        self.sums: list[np.ndarray] = []
        self.scales: list[float] = []
        self.nominal = 1.0

    def add(self, rgb: np.ndarray, luma: np.ndarray) -> None:
        height, width = rgb.shape[:2]
        if not self.scales:
            self.nominal = min(height, width) / self.cells_per_short_side
            # analyse each band at ~4 px per cell: enough resolution, bounded cost
            self.scales = [min(1.0, self.ANALYSIS_CELL_PX / (self.nominal * band))
                           for band in self.bands]
        reduced: dict[float, np.ndarray] = {}
        for index, (band, scale) in enumerate(zip(self.bands, self.scales, strict=True)):
            if scale not in reduced:
                size = (max(8, round(width * scale)), max(8, round(height * scale)))
                if self.chroma:  # reduce first: chroma cells are large, the frame small
                    small = rgb if scale >= 1.0 else cv2.resize(rgb, size,
                                                                interpolation=cv2.INTER_AREA)
                    reduced[scale] = _cb_plane(small)
                else:
                    reduced[scale] = luma if scale >= 1.0 else cv2.resize(
                        luma, size, interpolation=cv2.INTER_AREA)
            residual = whitened_luma(reduced[scale], self.nominal * band * scale)
            if len(self.sums) <= index:
                self.sums.append(residual)
            else:
                self.sums[index] += residual

    def hypotheses(self) -> list[_Hypothesis]:
        """The best offset at every searched cell size, best first."""
        log_bands = np.log(self.bands)
        found = []
        for relative in self.candidates:
            band = int(np.argmin(np.abs(log_bands - math.log(relative))))
            scale = self.scales[band]
            found.append(self._search(self.sums[band], self.nominal * relative * scale, scale))
        found.sort(key=lambda h: h.z, reverse=True)
        return found

    def _sync_grid_spectra(self) -> tuple[np.ndarray, np.ndarray]:
        """Conjugate spectra of the sync chips and of their mask on the tile's bin grid (one
        bin per cell: the cell's first bin), shared by every searched cell size."""
        bins, period = self.config.bins_per_cell, self.period
        sync_grid = np.zeros((period, period))
        mask_grid = np.zeros((period, period))
        rows_idx, cols_idx = np.divmod(self.sync_index, self.tile_cells)
        sync_grid[rows_idx * bins, cols_idx * bins] = self.sync_sign
        mask_grid[rows_idx * bins, cols_idx * bins] = 1.0
        return np.conj(np.fft.rfft2(sync_grid)), np.conj(np.fft.rfft2(mask_grid))

    def _search(self, whitened: np.ndarray, cell_px: float, scale: float) -> _Hypothesis:
        """The best cyclic offset of the tile at one cell size (``cell_px`` in the pixels of
        ``whitened``, a band's sum analysed at ``scale`` times the frame size)."""
        bins = self.config.bins_per_cell
        period = self.period
        factor = bins / cell_px
        height, width = whitened.shape
        # a frame smaller than one tile is zero-padded, never stretched (that would change
        # the cell size): unseen cells add nothing to either sum of z
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
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
        sync_spectrum, mask_spectrum = self.spectra
        # cyclic cross-correlation for every offset o: sum_i s_i * c[o + p_i]
        numerator = np.fft.irfft2(spectrum * sync_spectrum, s=(period, period))
        energy = np.fft.irfft2(spectrum_sq * mask_spectrum, s=(period, period))
        z_map = numerator / np.sqrt(np.maximum(energy, 1e-12))
        flat = int(np.argmax(z_map))
        offset_y, offset_x = divmod(flat, period)
        # every cell's sum at the winning offset, in tile order
        n = self.tile_cells
        ys = (offset_y + np.arange(n) * bins) % period
        xs = (offset_x + np.arange(n) * bins) % period
        cells = cell_sums[np.ix_(ys, xs)].ravel()
        return _Hypothesis(float(z_map[offset_y, offset_x]), cell_px / scale, cells)


class WatermarkDetector:
    """Accumulates frames of one video (or one image), then searches for the mark.

    Usage: ``detector.add(rgb)`` per frame, then ``detector.result()``. Frames must share one
    size; the mark is assumed static in frame coordinates (as the embedder makes it). The luma
    layer (sync + payload) and, when the configuration has one, the chroma layer (sync) are
    searched independently, each over its cell sizes and offsets (:class:`_LayerSearch`).
    """

    ANALYSIS_CELL_PX = _LayerSearch.ANALYSIS_CELL_PX

    def __init__(self, config: WatermarkConfig | None = None) -> None:
        self.config = config or WatermarkConfig()
        config = self.config
        self.layout = TileLayout.build(config)
        self._luma_search = _LayerSearch(config, config.cells_per_short_side,
                                         config.tile_cells, self.layout.sync_index,
                                         self.layout.sync_sign, config.scale_step, False)
        self._chroma_search: _LayerSearch | None = None
        if config.has_chroma_layer:
            chroma = ChromaLayout.build(config)
            self._chroma_search = _LayerSearch(
                config, config.chroma_cells_per_short_side, config.chroma_tile_cells,
                chroma.sync_index, chroma.sync_sign, config.chroma_scale_step, True)
        self._shape: tuple[int, int] | None = None
        self.frames = 0

    def add(self, rgb: np.ndarray) -> None:
        """Accumulate one ``[H, W, 3]`` uint8 RGB frame."""
        height, width = rgb.shape[:2]
        if self._shape is None:
            self._shape = (height, width)
        elif self._shape != (height, width):
            raise ValueError(f"frame size changed from {self._shape} to {(height, width)}")
        luma = _luma(rgb)
        self._luma_search.add(rgb, luma)
        if self._chroma_search is not None:
            self._chroma_search.add(rgb, luma)
        self.frames += 1

    def result(self) -> Detection:
        """Search every hypothesis and decide (see :class:`Detection`)."""
        if not self._luma_search.sums or self._shape is None:
            raise ValueError("no frames were added")
        config = self.config
        hypotheses = self._luma_search.hypotheses()
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
        chroma_z = 0.0
        chroma_threshold = chroma_detection_threshold(config)
        if self._chroma_search is not None:
            chroma_z = self._chroma_search.hypotheses()[0].z
        chroma_found = chroma_z >= chroma_threshold
        # each passed test's bound, divided by its share of the budget: the level at which
        # the whole decision rule (any test) would still have fired
        rate = config.false_positive_rate
        bounds = [1.0]
        if sync_found:
            bounds.append(sync_false_alarm_bound(best.z, config) * rate / sync_budget(config))
        if chroma_found:
            bounds.append(chroma_false_alarm_bound(chroma_z, config) * rate
                          / sync_budget(config))
        if verified:
            bounds.append(payload_false_alarm_bound(config) * rate / payload_budget(config))
        rms = float(np.sqrt(np.mean(soft**2))) + 1e-12
        return Detection(
            found=sync_found or chroma_found or verified,
            sync_found=sync_found,
            payload_verified=verified,
            z=best.z,
            threshold=threshold,
            false_alarm_bound=min(1.0, *bounds),
            payload=Payload.from_bits(bits) if verified else None,
            coded_bits=(soft < 0).astype(np.uint8),
            payload_bits=bits,
            bit_margin=float(np.mean(np.abs(soft))) / rms,
            cell_px=chosen.cell_px,
            frames=self.frames,
            chroma_found=chroma_found,
            chroma_z=chroma_z,
            chroma_threshold=chroma_threshold,
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
        return (payload.tool_id == TOOL_ID_OPENFSGAN
                and payload.format_version in READABLE_FORMAT_VERSIONS)


def detect(frames: Iterable[np.ndarray], config: WatermarkConfig | None = None) -> Detection:
    """Accumulate RGB frames and search for the mark (see :class:`WatermarkDetector`)."""
    detector = WatermarkDetector(config)
    for rgb in frames:
        detector.add(rgb)
    return detector.result()
