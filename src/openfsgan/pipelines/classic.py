"""The classic implementations of the method's stages: geometry instead of generators.

* reenactment ``warp`` (:class:`MeshWarpReenactor`): the source views are brought to the target's
  landmarks by a Delaunay mesh warp (landmarks + forehead + crop border) instead of G_r; in
  reenact mode the source crop is warped onto the driven landmarks, and a mouth that opens
  wider than the source's gets the driver's mouth interior;
* segmentation ``landmarks`` (:class:`LandmarkSegmenter`): the landmark face mask, its forehead
  and outline gated by skin likelihood, the target's open mouth kept;
* inpainting ``none`` (:class:`NoInpainter`);
* blending ``poisson`` (:class:`PoissonBlender`, robust multigrid Poisson or OpenCV's seamless
  clone) and ``alpha`` (:class:`AlphaBlender`, the soft mask only).

They need no weights; with all four the swap is the baseline the neural path must beat. No file
I/O here (that lives in :mod:`openfsgan.jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from openfsgan.config import Config
from openfsgan.errors import ConfigError
from openfsgan.face.align import (
    AlignTransform,
    estimate_alignment,
    similarity_transform,
    transform_points,
    warp_to_crop,
)
from openfsgan.geometry.masks import (
    MaskConfig,
    border_window,
    face_mask,
    hard_face_mask,
    inner_feather,
    skin_likelihood,
)
from openfsgan.geometry.mesh_warp import MeshWarpConfig, extend_landmarks, face_mesh
from openfsgan.geometry.poisson import poisson_blend

# re-exported: these lived here before the shared steps got their own module
from openfsgan.pipelines.appearance import (  # noqa: F401
    SourceAppearance,
    SourceView,
    TemporalState,
    ViewGeometry,
    eye_openness,
    make_source_view,
    open_eyed,
    sharpness,
)
from openfsgan.pipelines.reenact import ReenactConfig
from openfsgan.pipelines.stages import Blend, CropImage, Reenacted, TargetCrop
from openfsgan.types import Face

PoissonSolver = Literal["multigrid", "opencv"]
INNER_MOUTH = np.arange(60, 68)
SHADING_TOLERANT_STD = (12.0, 2.0, 2.0)
"""Floors of the Lab deviations of the skin model that decides which Poisson boundary pixels
are trusted (L tolerant: lit and shaded skin alike; a, b strict: hair, background, lips)."""


@dataclass(frozen=True)
class ClassicConfig(Config):
    """Settings of the classic stages.

    Attributes:
        crop_size: side of the aligned face crop the mesh warp (and with it every stage of a
            swap) works on (pixels).
        margin: fraction of the crop around the 68-point template on each side.
        forehead_shift: fraction of the crop the face is moved down to fit the forehead.
        poisson_solver: ``"multigrid"`` (own robust solver) or ``"opencv"`` (seamless clone).
        poisson_cycles: multigrid V-cycles of the Poisson solve.
        boundary_clip: robust Poisson boundary (see :func:`openfsgan.geometry.poisson.
            poisson_blend`): outlying boundary differences (hair, glasses on the face's
            outline) are clipped to this many robust deviations; None for plain Poisson.
        skin_gated_mask: keep the forehead part of the mask only where both faces show skin
            (no fringe of hair pasted, none painted over), and the outline band only where the
            target shows skin (background or hair inside the jaw line stays and never becomes
            the blending boundary); "skin" on the outline means skin on both the target and
            the warped source (whose narrower face may bring its background inside the jaw).
        skin_trusted_boundary: the Poisson boundary's colour differences act only where both
            faces show skin; elsewhere on the boundary (hair at a temple, the target's teeth
            round an open mouth, source background) the robust median difference stands in,
            so no foreign colour is diffused into the face as a blotch. Applies with
            ``boundary_clip`` only (None means plain Poisson).
        paste_feather: feather inside the Poisson-blended region's edge when pasting back
            (fraction of the crop; about 2 px at 256).
        mesh: mesh-warp settings (forehead, border points).
        mask: landmark face-mask settings.
    """

    crop_size: int = 256
    margin: float = 0.15
    forehead_shift: float = 0.06
    poisson_solver: PoissonSolver = "multigrid"
    poisson_cycles: int = 2
    boundary_clip: float | None = 2.5
    skin_gated_mask: bool = True
    skin_trusted_boundary: bool = True
    paste_feather: float = 0.008
    mesh: MeshWarpConfig = field(default_factory=MeshWarpConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)

    def __post_init__(self) -> None:
        if not 64 <= self.crop_size <= 1024:
            raise ConfigError(f"crop_size must be in [64, 1024], got {self.crop_size}")
        if not 0.0 <= self.margin < 0.4:
            raise ConfigError(f"margin must be in [0, 0.4), got {self.margin}")
        if self.poisson_solver not in ("multigrid", "opencv"):
            raise ConfigError(f"poisson_solver must be one of multigrid, opencv, "
                              f"got {self.poisson_solver!r}")
        if self.poisson_cycles < 1:
            raise ConfigError("poisson_cycles must be >= 1")
        if self.boundary_clip is not None and self.boundary_clip <= 0:
            raise ConfigError("boundary_clip must be positive (or None)")
        if not 0.0 <= self.paste_feather < 0.2:
            raise ConfigError("paste_feather must be in [0, 0.2)")

    def align(self, landmarks: np.ndarray) -> AlignTransform:
        """The frame -> crop similarity of a face with these landmarks."""
        return estimate_alignment(landmarks, self.crop_size, self.margin, self.forehead_shift)


# -- reenactment: mesh warp ---------------------------------------------------------------------


def warp_views(views: list[tuple[SourceView, float]], target_points: np.ndarray, size: int,
               mesh_config: MeshWarpConfig) -> np.ndarray:
    """Mesh-warp each source view to the target landmarks and blend them barycentrically.

    Args:
        views: (view, weight) pairs from :meth:`SourceAppearance.select` (weights sum to 1),
            cut at ``size``.
        target_points: ``[68, 2]`` target landmarks in crop pixels.

    Returns:
        ``[S, S, 3]`` uint8.
    """
    # one triangulation of the target for all views (the appearance map's up to 3 views)
    mesh = face_mesh(target_points, (size, size), mesh_config)
    if len(views) == 1:
        view = views[0][0]
        return mesh.warp(view.crop, extend_landmarks(view.landmarks, size, size, mesh_config))
    total = np.zeros((size, size, 3), np.float32)
    for view, weight in views:
        warped = mesh.warp(view.crop, extend_landmarks(view.landmarks, size, size, mesh_config))
        total += np.float32(weight) * warped
    return np.clip(total + 0.5, 0, 255).astype(np.uint8)


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap (landmarks 61-63 vs 67-65) relative to the mouth width."""
    gap = np.linalg.norm(points[[61, 62, 63]] - points[[67, 66, 65]], axis=1).mean()
    width = float(np.linalg.norm(points[54] - points[48]))
    return float(gap) / max(width, 1e-6)


def _cavity_alpha(crop_shape: tuple[int, ...], source_points: np.ndarray,
                  driven_points: np.ndarray) -> np.ndarray | None:
    """``[S, S, 1]`` weight of the new mouth opening (None when the mouth opens no wider)."""
    extra = mouth_opening(driven_points) - mouth_opening(source_points)
    if extra <= 0.04:
        return None
    size = crop_shape[0]
    cavity: np.ndarray = np.zeros(crop_shape[:2], np.float32)
    cv2.fillPoly(cavity, [np.round(driven_points[INNER_MOUTH] * 16).astype(np.int32)], 1.0,
                 lineType=cv2.LINE_AA, shift=4)
    cavity = cv2.GaussianBlur(cavity, (0, 0), 0.006 * size)
    return np.float32(min(1.0, extra / 0.12)) * cavity[..., None]


def _lip_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    xs = np.clip(np.round(points[48:60, 0]).astype(int), 0, width - 1)
    ys = np.clip(np.round(points[48:60, 1]).astype(int), 0, height - 1)
    return image[ys, xs].reshape(-1, 3).astype(np.float32).mean(axis=0)


def fill_mouth_cavity(crop: np.ndarray, source_points: np.ndarray, driven_points: np.ndarray,
                      driver_rgb: np.ndarray | None = None,
                      driver_points: np.ndarray | None = None) -> np.ndarray:
    """Fill the mouth where the driven mouth opens wider than the source's.

    With the driver's frame and landmarks, the driver's own mouth interior (teeth, tongue) is
    moved onto the driven inner-lip polygon by a similarity transform of the lips and relit by
    the ratio of the two faces' lip brightness; otherwise the opening is painted a dark,
    lip-tinted red.
    """
    alpha = _cavity_alpha(crop.shape, source_points, driven_points)
    if alpha is None:
        return crop
    lips = _lip_colour(crop, driven_points)
    if driver_rgb is not None and driver_points is not None:
        size = crop.shape[0]
        matrix = similarity_transform(driver_points[48:68], driven_points[48:68])
        interior = cv2.warpAffine(driver_rgb, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        # relit by brightness only (lipstick must not tint the teeth)
        gain = float(lips.mean()) / max(float(_lip_colour(driver_rgb, driver_points).mean()), 1.0)
        interior *= np.float32(np.clip(gain, 0.5, 2.0))
    else:
        interior = np.broadcast_to(0.3 * lips, crop.shape)
    out = crop.astype(np.float32) * (1.0 - alpha) + interior * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class WarpReenactSource:
    """The source photo prepared once for the mesh warp: its aligned crop (at the face's own
    resolution) and landmarks in crop pixels."""

    frame: np.ndarray
    face: Face
    transform: AlignTransform
    crop: np.ndarray
    points: np.ndarray
    window: np.ndarray

    @staticmethod
    def prepare(frame: np.ndarray, face: Face,
                config: ReenactConfig | None = None) -> WarpReenactSource:
        config = config or ReenactConfig()
        # the crop size at which the face keeps its resolution (alignment scale 1)
        probe = estimate_alignment(face.landmarks, 1000, config.margin, config.forehead_shift)
        native = 1000.0 / max(probe.scale, 1e-6)
        size = int(np.clip(8 * round(native / 8), 64, config.max_crop_size))
        transform = estimate_alignment(face.landmarks, size, config.margin,
                                       config.forehead_shift)
        return WarpReenactSource(frame, face, transform, warp_to_crop(frame, transform),
                                 transform_points(face.landmarks, transform.matrix),
                                 border_window(size))


class MeshWarpReenactor:
    """Reenactment by Delaunay mesh warp (the classic stand-in for G_r)."""

    name = "warp"

    def __init__(self, config: ClassicConfig | None = None,
                 reenact: ReenactConfig | None = None) -> None:
        self.config = config or ClassicConfig()
        self.reenact_config = reenact or ReenactConfig()

    def view_geometry(self, min_view_distance_deg: float) -> ViewGeometry:
        return ViewGeometry(self.config.crop_size, self.config.margin,
                            self.config.forehead_shift, min_view_distance_deg)

    def crop_transform(self, landmarks: np.ndarray) -> AlignTransform:
        return self.config.align(landmarks)

    def reenact(self, views: list[tuple[SourceView, float]], geometry: np.ndarray,
                target: TargetCrop) -> Reenacted:
        image = warp_views(views, geometry, target.size, self.config.mesh)
        # the warped source face covers the landmark hull of the geometry it was warped to
        hull = hard_face_mask(geometry, (target.size, target.size)).astype(np.float32) / 255.0
        return Reenacted(CropImage(rgb=image), hull)

    def prepare(self, frame: np.ndarray, face: Face) -> WarpReenactSource:
        return WarpReenactSource.prepare(frame, face, self.reenact_config)

    def drive(self, source: object, driven: np.ndarray, driver_rgb: np.ndarray | None,
              driver_landmarks: np.ndarray | None) -> np.ndarray:
        assert isinstance(source, WarpReenactSource)
        config = self.reenact_config
        size = source.transform.crop_size
        points = transform_points(np.asarray(driven, np.float64), source.transform.matrix)
        mesh = face_mesh(points, (size, size), config.mesh)
        warped = mesh.warp(source.crop, extend_landmarks(source.points, size, size, config.mesh))
        if config.fill_mouth:
            warped = fill_mouth_cavity(warped, source.points, points, driver_rgb,
                                       None if driver_landmarks is None
                                       else np.asarray(driver_landmarks, np.float64))
        return warped


# -- segmentation: landmark mask ----------------------------------------------------------------


def swap_mask(target_points: np.ndarray, size: int, config: MaskConfig,
              state: TemporalState | None = None,
              forehead_gate: np.ndarray | None = None,
              outline_gate: np.ndarray | None = None) -> np.ndarray:
    """Soft ``[S, S]`` mask of the region the source face replaces.

    The landmark face mask (forehead and outline bands gated, see
    :func:`openfsgan.geometry.masks.face_mask`), minus the target's
    open mouth (its teeth and tongue stay: a warped closed source mouth would be stretched
    across the gap), kept off the crop's edge, smoothed over time on video.
    """
    mask = face_mask(target_points, (size, size), config, forehead_gate, outline_gate)
    if mouth_opening(target_points) > 0.08:
        mouth: np.ndarray = np.zeros((size, size), np.float32)
        cv2.fillPoly(mouth, [np.round(target_points[INNER_MOUTH] * 16).astype(np.int32)], 1.0,
                     lineType=cv2.LINE_AA, shift=4)
        sigma = 0.01 * size
        mouth = cv2.GaussianBlur(mouth, (0, 0), sigma)
        mask = mask * (1.0 - np.clip(mouth, 0.0, 1.0))
    # never up to the crop's edge (a steep pitch can push the forehead there)
    mask = mask * border_window(size, 0.06)
    if state is not None:
        mask = state.mask(mask)
    return mask


class LandmarkSegmenter:
    """The landmark face mask (the classic stand-in for G_s)."""

    name = "landmarks"

    def __init__(self, config: ClassicConfig | None = None) -> None:
        self.config = config or ClassicConfig()

    def segment(self, target: TargetCrop, reenacted: Reenacted,
                state: TemporalState | None) -> np.ndarray:
        gate = None
        if self.config.skin_gated_mask:
            # where both faces show skin: the target's (hair, background and teeth are not)
            # times the warped source's (a narrower source face brings its own background
            # inside the jaw line)
            gate = (skin_likelihood(target.image.lab, target.skin)
                    * skin_likelihood(reenacted.image.lab, target.skin))
        return swap_mask(target.points, target.size, self.config.mask, state, gate, gate)


# -- inpainting: none ---------------------------------------------------------------------------


class NoInpainter:
    """No completion: the reenacted face as it is (the mask decides what is pasted)."""

    name = "none"

    def inpaint(self, reenacted: Reenacted, mask: np.ndarray, target: TargetCrop) -> CropImage:
        return reenacted.image


# -- blending: Poisson, alpha -------------------------------------------------------------------


class PoissonBlender:
    """Seamless (gradient-domain) blending of the face into the target crop."""

    name = "poisson"

    def __init__(self, config: ClassicConfig | None = None) -> None:
        self.config = config or ClassicConfig()

    def blend(self, face: CropImage, target: TargetCrop, mask: np.ndarray) -> Blend:
        config = self.config
        region = mask > 0.5
        paste_mask = inner_feather(region, config.paste_feather * target.size)
        if not region.any():
            return Blend(target.image.rgb.copy(), paste_mask)
        if config.poisson_solver == "opencv":
            region_u8 = region.astype(np.uint8) * 255
            x, y, w, h = cv2.boundingRect(region_u8)
            # OpenCV writes into its inputs: hand it copies
            return Blend(cv2.seamlessClone(face.rgb.copy(), target.image.rgb.copy(), region_u8,
                                           (x + w // 2, y + h // 2), cv2.NORMAL_CLONE),
                         paste_mask)
        trust = None
        if config.skin_trusted_boundary and config.boundary_clip is not None:
            # the target's skin, lenient in lightness (shading is no reason to distrust the
            # boundary, colour is). Source hair or background on the boundary stays trusted:
            # the Poisson correction painting it over with the target's skin is what we want.
            trust = skin_likelihood(target.image.lab, target.skin, min_std=SHADING_TOLERANT_STD)
        blended = poisson_blend(face.rgb, target.image.rgb, region, cycles=config.poisson_cycles,
                                boundary_clip=config.boundary_clip, boundary_trust=trust)
        return Blend(blended, paste_mask)


class AlphaBlender:
    """The face pasted through the soft mask only (no colour correction at the seam)."""

    name = "alpha"

    def blend(self, face: CropImage, target: TargetCrop, mask: np.ndarray) -> Blend:
        return Blend(face.rgb.copy(), np.asarray(mask, np.float32))
