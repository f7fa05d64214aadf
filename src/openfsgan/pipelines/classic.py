"""The classic path's configuration, source model and per-video state.

The classic path is FSGAN's pipeline with every learned stage replaced by geometry: the source
views of an appearance map are brought to the target's landmarks by a Delaunay mesh warp instead
of the reenactment generator, and Poisson blending replaces the blending generator. It needs no
weights and is the baseline the neural path must beat.

This module holds what :mod:`openfsgan.pipelines.swap` and :mod:`openfsgan.pipelines.reenact`
share: :class:`ClassicConfig`, the source's views (:class:`SourceView`,
:class:`SourceAppearance`) and the temporal state of a video (:class:`TemporalState`).
No file I/O here (that lives in :mod:`openfsgan.jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, Protocol

import cv2
import numpy as np

from openfsgan.errors import ConfigError
from openfsgan.face.align import AlignTransform, estimate_alignment, transform_points, warp_to_crop
from openfsgan.geometry.appearance_map import AppearanceMap, pose_points
from openfsgan.geometry.color import ColorStats, ColorStatsSmoother
from openfsgan.geometry.masks import MaskConfig, MaskSmoother
from openfsgan.geometry.mesh_warp import MeshWarpConfig
from openfsgan.pipelines.identity import DEFAULT_IDENTITY_STRENGTH, TrackIdentity, views_identity
from openfsgan.types import EulerAngles, Face

BlendMethod = Literal["poisson", "seamless_clone", "alpha"]
BLEND_METHODS: tuple[str, ...] = ("poisson", "seamless_clone", "alpha")


@dataclass(frozen=True)
class ClassicConfig:
    """Settings of the classic swap and reenactment.

    Attributes:
        crop_size: side of the aligned face crop every stage works on (pixels).
        margin: fraction of the crop around the 68-point template on each side.
        forehead_shift: fraction of the crop the face is moved down to fit the forehead.
        min_view_distance_deg: appearance-map fusion radius on the (yaw, pitch) plane.
        min_view_weight: views with a smaller barycentric weight are skipped (the others are
            renormalised): a 2 % view is invisible but costs a full warp.
        blend: ``"poisson"`` (own multigrid solver), ``"seamless_clone"`` (OpenCV) or
            ``"alpha"`` (feathered mask only).
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
        max_color_gain: bound of the contrast change of the colour correction (above ~1.2 the
            shading of a softly lit source gets exaggerated).
        color_momentum: temporal smoothing of the colour statistics on video (0 = none).
        mask_momentum: temporal smoothing of the crop-space mask on video (0 = none).
        mesh: mesh-warp settings (forehead, border points).
        mask: face-mask settings.
        identity_strength: share of the source's face shape in the geometry the source views
            are warped to (0: the target's landmarks; 1: the source's shape under the target's
            pose and expression, through the 3D morphable model; see
            :mod:`openfsgan.pipelines.identity`).
    """

    crop_size: int = 256
    margin: float = 0.15
    forehead_shift: float = 0.06
    min_view_distance_deg: float = 3.0
    min_view_weight: float = 0.05
    blend: BlendMethod = "poisson"
    poisson_cycles: int = 2
    boundary_clip: float | None = 2.5
    skin_gated_mask: bool = True
    skin_trusted_boundary: bool = True
    max_color_gain: float = 1.2
    color_momentum: float = 0.8
    mask_momentum: float = 0.5
    mesh: MeshWarpConfig = field(default_factory=MeshWarpConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    identity_strength: float = DEFAULT_IDENTITY_STRENGTH

    def __post_init__(self) -> None:
        if not 0.0 <= self.identity_strength <= 1.0:
            raise ConfigError(f"identity_strength must be in [0, 1], got "
                              f"{self.identity_strength}")
        if not 64 <= self.crop_size <= 1024:
            raise ConfigError(f"crop_size must be in [64, 1024], got {self.crop_size}")
        if not 0.0 <= self.margin < 0.4:
            raise ConfigError(f"margin must be in [0, 0.4), got {self.margin}")
        if self.blend not in BLEND_METHODS:
            raise ConfigError(f"blend must be one of {', '.join(BLEND_METHODS)}, "
                              f"got {self.blend!r}")
        if not 0.0 <= self.min_view_weight < 1.0 / 3.0:
            raise ConfigError("min_view_weight must be in [0, 1/3)")
        if self.poisson_cycles < 1:
            raise ConfigError("poisson_cycles must be >= 1")
        if self.boundary_clip is not None and self.boundary_clip <= 0:
            raise ConfigError("boundary_clip must be positive (or None)")
        if not 1.0 <= self.max_color_gain <= 4.0:
            raise ConfigError("max_color_gain must be in [1, 4]")
        for name in ("color_momentum", "mask_momentum"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1)")

    def align(self, landmarks: np.ndarray) -> AlignTransform:
        """The frame -> crop similarity of a face with these landmarks."""
        return estimate_alignment(landmarks, self.crop_size, self.margin, self.forehead_shift)


@dataclass(frozen=True, eq=False)
class SourceView:
    """One view of the source face, aligned to the canonical crop.

    Attributes:
        crop: ``[S, S, 3]`` uint8 aligned crop.
        landmarks: ``[68, 2]`` the face's landmarks in crop pixels.
        pose: head pose of the view (degrees).
        frame_index: where the view came from (frame of the source video, or photo number).
    """

    crop: np.ndarray
    landmarks: np.ndarray
    pose: EulerAngles
    frame_index: int = 0


def make_source_view(rgb: np.ndarray, face: Face, config: ClassicConfig,
                     frame_index: int = 0) -> SourceView:
    """Cut the aligned crop of ``face`` out of ``rgb`` ``[H, W, 3]``."""
    transform = config.align(face.landmarks)
    crop = warp_to_crop(rgb, transform)
    crop.flags.writeable = False
    return SourceView(crop, transform_points(face.landmarks, transform.matrix).astype(np.float32),
                      face.pose, frame_index)


def eye_openness(landmarks: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes (lid gap over eye width; ~0.3 open, < 0.15 shut)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    ratios = []
    for eye in (pts[36:42], pts[42:48]):
        gap = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
        ratios.append(gap / max(2.0 * float(np.linalg.norm(eye[0] - eye[3])), 1e-6))
    return float(np.mean(ratios))


def open_eyed(landmarks: list[np.ndarray] | np.ndarray, relative: float = 0.75) -> np.ndarray:
    """Boolean per view: eyes at least ``relative`` times as open as the views' median.

    Blinks make poor source views (averaged with open-eyed ones they leave ghost lids); the
    threshold is relative because eye shapes differ between people.
    """
    openness = np.array([eye_openness(points) for points in landmarks])
    if len(openness) == 0:
        return np.zeros(0, dtype=bool)
    return openness >= relative * float(np.median(openness))


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the crop's grey levels (higher: sharper, less motion blur)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


@dataclass(frozen=True, eq=False)
class SourceAppearance:
    """The source's appearance map: its views and their triangulated (yaw, pitch) positions."""

    views: tuple[SourceView, ...]
    appearance_map: AppearanceMap

    @staticmethod
    def from_views(views: list[SourceView] | tuple[SourceView, ...],
                   min_view_distance_deg: float = 3.0,
                   priority: np.ndarray | None = None) -> SourceAppearance:
        """Fuse near-duplicate views (keeping the highest ``priority``) and triangulate.

        Only the kept views are stored.
        """
        if not views:
            raise ValueError("a source needs at least one view")
        points = pose_points(np.array([v.pose.yaw for v in views]),
                             np.array([v.pose.pitch for v in views]))
        full = AppearanceMap.from_poses(points, min_view_distance_deg, priority)
        kept = tuple(views[i] for i in full.view_indices)
        # rebuild on the kept views only, so ids index ``kept`` directly
        amap = AppearanceMap.from_poses(points[full.view_indices], 0.0)
        return SourceAppearance(kept, amap)

    @cached_property
    def identity(self) -> np.ndarray:
        """``[Ki]`` the source's morphable-model identity, pooled over its views."""
        size = self.views[0].crop.shape[0]
        return views_identity([view.landmarks for view in self.views], size)

    def select(self, pose: EulerAngles, min_weight: float = 0.0) -> list[tuple[SourceView, float]]:
        """The views (at most 3) to blend for a target pose and their weights (sum 1)."""
        ids, weights = self.appearance_map.barycentric_weights(np.array([pose.yaw, pose.pitch]))
        merged: dict[int, float] = {}
        for view_id, weight in zip(ids.tolist(), weights.tolist(), strict=True):
            merged[view_id] = merged.get(view_id, 0.0) + weight
        chosen = {i: w for i, w in merged.items() if w > min_weight}
        if not chosen:
            best = max(merged, key=lambda i: merged[i])
            chosen = {best: 1.0}
        total = sum(chosen.values())
        return [(self.views[i], w / total) for i, w in sorted(chosen.items())]


class SmoothingSettings(Protocol):
    """What :meth:`TemporalState.for_video` reads of a path's settings (classic or neural)."""

    @property
    def color_momentum(self) -> float: ...

    @property
    def mask_momentum(self) -> float: ...


@dataclass
class TemporalState:
    """What a video carries from frame to frame: smoothed colour statistics and mask.

    Reset when the swapped face changes (a new track): its statistics do not carry over.
    """

    color: ColorStatsSmoother
    mask: MaskSmoother
    track_id: int | None = None
    identity: TrackIdentity = field(default_factory=TrackIdentity)

    @staticmethod
    def for_video(config: SmoothingSettings) -> TemporalState:
        return TemporalState(ColorStatsSmoother(config.color_momentum),
                             MaskSmoother(config.mask_momentum))

    def follow(self, track_id: int) -> None:
        """Reset the smoothers when the face being swapped changes."""
        if track_id != self.track_id:
            self.color.reset()
            self.mask.reset()
            self.track_id = track_id

    def to_dict(self) -> dict[str, Any]:
        """The colour statistics (JSON-ready), so a resumed job continues smoothly."""
        state = self.color.state
        return {"track_id": self.track_id,
                "color": None if state is None else [
                    {"mean": s.mean.tolist(), "std": s.std.tolist()} for s in state]}

    def load_dict(self, data: dict[str, Any]) -> None:
        self.track_id = data.get("track_id")
        color = data.get("color")
        if color:
            source, target = (ColorStats(np.asarray(c["mean"]), np.asarray(c["std"]))
                              for c in color)
            self.color.state = (source, target)
