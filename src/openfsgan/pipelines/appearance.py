"""The source's appearance and a video's temporal state: what every swap shares, whatever its
stage implementations.

* :class:`ViewGeometry`: how source views are cut (the crop the reenactment stage works on) and
  how close two views may be on the appearance map before they are fused;
* :class:`SourceView`, :class:`SourceAppearance`: FSGAN's appearance map (Nirkin et al.,
  Sec. 3.3): the source's views placed by head pose (yaw, pitch), Delaunay-triangulated, the
  (up to) 3 views around a target pose picked with barycentric weights;
* :class:`AppearanceConfig`: the settings of the shared steps (view selection, colour transfer,
  temporal smoothing);
* :class:`TemporalState`: the smoothed colour statistics and mask a video carries from frame to
  frame.

No file I/O here (that lives in :mod:`openfsgan.jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import cv2
import numpy as np

from openfsgan.config import Config
from openfsgan.errors import ConfigError
from openfsgan.face.align import AlignTransform, estimate_alignment, transform_points, warp_to_crop
from openfsgan.geometry.appearance_map import AppearanceMap, pose_points
from openfsgan.geometry.color import ColorStats, ColorStatsSmoother
from openfsgan.geometry.masks import MaskSmoother
from openfsgan.pipelines.identity import (
    DEFAULT_IDENTITY_STRENGTH,
    PersonShape,
    TrackIdentity,
    views_identity,
)
from openfsgan.types import EulerAngles, Face


@dataclass(frozen=True)
class AppearanceConfig(Config):
    """Settings of the steps every swap shares (whatever its stage implementations).

    Attributes:
        min_view_distance_deg: appearance-map fusion radius on the (yaw, pitch) plane.
        min_view_weight: views with a smaller barycentric weight are skipped (the others are
            renormalised): a 2 % view is invisible but costs a full reenactment.
        color_transfer: match the swapped face's colour statistics (Lab mean and deviation on
            the cheeks, nose and chin) to the target's before blending.
        max_color_gain: bound of the contrast change of that transfer (above ~1.2 the shading
            of a softly lit source gets exaggerated).
        relight_sigma: after that transfer, the swapped face's light and tint at this scale
            (a fraction of the crop; 0 = off) are replaced by the target's, so a source lit
            from one side brings no dark band into a target lit from the front.
        color_momentum: temporal smoothing of the colour statistics on video (0 = none).
        mask_momentum: temporal smoothing of the face mask on video (0 = none).
        identity_strength: share of the source's face shape in the target geometry (the
            landmarks the reenactment stage brings the source to): 0 keeps the target's
            landmarks (FSGAN's original swap), 1 gives the source's eye spacing, nose, mouth
            and jaw under the target's pose and expression (3D morphable model,
            :mod:`openfsgan.pipelines.identity`).
        remove_glasses: paint a target's glasses out before the swap
            (:mod:`openfsgan.pipelines.occluders`) instead of leaving half a frame.
    """

    min_view_distance_deg: float = 3.0
    min_view_weight: float = 0.05
    color_transfer: bool = True
    max_color_gain: float = 1.2
    relight_sigma: float = 0.12
    color_momentum: float = 0.8
    mask_momentum: float = 0.5
    identity_strength: float = DEFAULT_IDENTITY_STRENGTH
    remove_glasses: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.identity_strength <= 1.0:
            raise ConfigError(f"identity_strength must be in [0, 1], got "
                              f"{self.identity_strength}")
        if self.min_view_distance_deg < 0:
            raise ConfigError("min_view_distance_deg must be >= 0")
        if not 0.0 <= self.min_view_weight < 1.0 / 3.0:
            raise ConfigError("min_view_weight must be in [0, 1/3)")
        if not 0.0 <= self.relight_sigma <= 0.5:
            raise ConfigError("relight_sigma must be in [0, 0.5]")
        if not 1.0 <= self.max_color_gain <= 4.0:
            raise ConfigError("max_color_gain must be in [1, 4]")
        for name in ("color_momentum", "mask_momentum"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1)")


@dataclass(frozen=True)
class ViewGeometry:
    """How the source's views are cut: an aligned square crop (the reenactment stage's own
    geometry), and the fusion radius of the appearance map.

    Attributes:
        crop_size: side of a view's crop (pixels).
        margin: fraction of the crop around the 68-point template on each side.
        forehead_shift: fraction of the crop the face is moved down to fit the forehead.
        min_view_distance_deg: views closer than this on the (yaw, pitch) plane are fused.
    """

    crop_size: int
    margin: float
    forehead_shift: float
    min_view_distance_deg: float = 3.0

    def align(self, landmarks: np.ndarray) -> AlignTransform:
        """The frame -> crop similarity of a face with these landmarks."""
        return estimate_alignment(landmarks, self.crop_size, self.margin, self.forehead_shift)


class CropAligner(Protocol):
    """Anything that aligns a face to a crop (a :class:`ViewGeometry`, a classic config)."""

    def align(self, landmarks: np.ndarray) -> AlignTransform: ...


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


def make_source_view(rgb: np.ndarray, face: Face, config: CropAligner,
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
    def identity(self) -> PersonShape:
        """The source's face shape (morphable-model identity), pooled over its views."""
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
    """What :meth:`TemporalState.for_video` reads (an :class:`AppearanceConfig`)."""

    @property
    def color_momentum(self) -> float: ...

    @property
    def mask_momentum(self) -> float: ...


@dataclass
class TemporalState:
    """What a video carries from frame to frame: smoothed colour statistics and mask, and the
    target track's running identity (:class:`openfsgan.pipelines.identity.TrackIdentity`).

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
