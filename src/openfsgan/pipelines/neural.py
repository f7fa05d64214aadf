"""Face swapping and reenactment with the trained generators: FSGAN's inference, stage by stage.

``swap_frame`` follows Nirkin et al. (Sec. 3 and Fig. 2):

    align the target face -> pick source views on the appearance map -> reenact each view to
    the target's geometry with G_r, iteratively through intermediate landmarks -> barycentric
    blend -> segment the target with G_s -> complete the missing face with G_c -> blend with
    G_b -> paste back into the frame

The generators run through ONNX Runtime (:class:`openfsgan.inference.NeuralModels`). Images are
RGB uint8 ``[H, W, 3]`` at the edges and NCHW float32 in ``[-1, 1]`` for the networks. No file
I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openfsgan.errors import ConfigError
from openfsgan.face.align import (
    DEFAULT_FOREHEAD_SHIFT,
    DEFAULT_MARGIN,
    AlignTransform,
    estimate_alignment,
    paste_back,
    transform_points,
    warp_to_crop,
)
from openfsgan.face.heatmaps import landmark_heatmaps
from openfsgan.face.pose import fit_landmarks_3d, interpolate_landmarks, solve_pose
from openfsgan.geometry.color import match_color_lab, rgb_to_lab
from openfsgan.geometry.masks import (
    MaskSmoother,
    border_window,
    disk,
    inner_feather,
    skin_region,
)
from openfsgan.inference import NeuralModels
from openfsgan.pipelines.classic import ClassicConfig, SourceAppearance, SourceView
from openfsgan.types import BoundingBox, Face

FACE_CLASS = 1  # segmentation classes: background, face, hair


@dataclass(frozen=True)
class NeuralConfig:
    """Settings of the neural path.

    Attributes:
        reenactment_steps: G_r applications from the source pose to the target's (FSGAN's
            iterative reenactment; 1 = direct).
        min_view_weight: source views weighing less than this on the appearance map are skipped.
        min_view_distance_deg: appearance-map views closer than this (yaw/pitch) are fused.
        region_dilation: the face region G_s may claim, as a dilation of the landmark hull
            (fraction of the crop): keeps stray segmentation far from the face out of the swap.
        paste_feather: feather inside the pasted region's edge (fraction of the crop).
        mask_momentum: temporal smoothing of the face mask on video (0 = none).
        colour_transfer: match the completed face's colour statistics (cheeks, nose, chin) to
            the target's before G_b: the shipped G_b was trained on recolourings of up to
            ±20 % and leaves larger skin-tone differences visible.
        max_colour_gain: bound of the contrast change of that transfer.
    """

    reenactment_steps: int = 2
    min_view_weight: float = 0.05
    min_view_distance_deg: float = 3.0
    region_dilation: float = 0.04
    paste_feather: float = 0.008
    mask_momentum: float = 0.5
    colour_transfer: bool = True
    max_colour_gain: float = 1.2

    def __post_init__(self) -> None:
        if not 1 <= self.reenactment_steps <= 8:
            raise ConfigError(f"reenactment_steps must be in [1, 8], got {self.reenactment_steps}")
        if not 0.0 <= self.min_view_weight < 1.0 / 3.0:
            raise ConfigError("min_view_weight must be in [0, 1/3)")
        if not 0.0 <= self.region_dilation < 0.2 or not 0.0 <= self.paste_feather < 0.2:
            raise ConfigError("region_dilation and paste_feather must be in [0, 0.2)")
        if not 0.0 <= self.mask_momentum < 1.0:
            raise ConfigError("mask_momentum must be in [0, 1)")

    def source_config(self, resolution: int) -> ClassicConfig:
        """Crop settings of the source views: the alignment the generators were trained on
        (``openfsgan prepare``'s), at their resolution."""
        return ClassicConfig(crop_size=resolution, margin=DEFAULT_MARGIN,
                             forehead_shift=DEFAULT_FOREHEAD_SHIFT,
                             min_view_distance_deg=self.min_view_distance_deg,
                             min_view_weight=self.min_view_weight)


# -- conversions --------------------------------------------------------------------------------


def to_network(rgb: np.ndarray) -> np.ndarray:
    """``[S, S, 3]`` uint8 -> ``[1, 3, S, S]`` float32 in ``[-1, 1]``."""
    return (rgb.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0).astype(np.float32)


def from_network(image: np.ndarray) -> np.ndarray:
    """``[1, 3, S, S]`` in ``[-1, 1]`` -> ``[S, S, 3]`` uint8."""
    return np.clip((image[0].transpose(1, 2, 0) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities over axis 1 of ``[B, C, H, W]`` logits."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def crop_face(points: np.ndarray, size: int) -> Face:
    """A :class:`Face` in crop pixels (pose and 3D landmarks fitted in the crop, as
    ``openfsgan prepare`` does for the training data)."""
    points = np.asarray(points, dtype=np.float32)
    fit = solve_pose(points, size, size)
    points_3d, _ = fit_landmarks_3d(points, fit.rotation)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return Face(BoundingBox(float(x0), float(y0), float(x1), float(y1)), 1.0, points, points_3d,
                fit.euler)


# -- the stages ---------------------------------------------------------------------------------


def reenact(models: NeuralModels, image: np.ndarray, source: Face, target: Face,
            steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Iterative reenactment: ``I_j = G_r(I_{j-1}; H(p_j))``, ``I_0`` the source crop.

    ``p_1 .. p_{steps-1}`` interpolate the pose (Euler angles, centroid, scale) from source to
    target with the source's 3D shape; the last step uses the target's own landmarks.

    Args:
        image: ``[1, 3, S, S]`` source crop in ``[-1, 1]``.
        source, target: faces in crop pixels (:func:`crop_face`).

    Returns:
        ``[1, 3, S, S]`` reenacted image and ``[1, 3, S, S]`` segmentation probabilities.
    """
    size = models.resolution
    path = interpolate_landmarks(source, target, steps)[:-1] if steps > 1 else []
    path.append(target.landmarks)  # never empty: the loop sets ``logits``
    for points in path:
        heatmaps = landmark_heatmaps(np.asarray(points, np.float32), size)[None]
        image, logits = models.reenactment(image, heatmaps)
    return image, softmax(logits)


def reenact_views(models: NeuralModels, views: list[tuple[SourceView, float]], target: Face,
                  steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Reenact each appearance-map view to the target and blend them with their barycentric
    weights (the 3 views of the Delaunay triangle around the target pose)."""
    total_image = total_probs = None
    for view, weight in views:
        image, probs = reenact(models, to_network(view.crop),
                               crop_face(view.landmarks, models.resolution), target, steps)
        total_image = weight * image if total_image is None else total_image + weight * image
        total_probs = weight * probs if total_probs is None else total_probs + weight * probs
    assert total_image is not None and total_probs is not None
    return total_image.astype(np.float32), total_probs.astype(np.float32)


def face_region(points: np.ndarray, size: int, dilation: float) -> np.ndarray:
    """``[S, S]`` float32 {0, 1}: the landmark hull with the forehead, dilated."""
    points = np.asarray(points, np.float64)
    # the forehead: the brows mirrored above themselves by half the brow-to-nose-tip height
    brows = points[17:27]
    lift = 0.5 * (points[30, 1] - brows[:, 1].mean())
    forehead = brows - np.array([0.0, lift])
    hull = cv2.convexHull(np.round(np.concatenate([points, forehead]) * 16).astype(np.int32))
    region: np.ndarray = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(region, hull, 1, lineType=cv2.LINE_8, shift=4)
    return cv2.dilate(region, disk(max(1, round(dilation * size)))).astype(np.float32)


def segment_face(models: NeuralModels, image: np.ndarray) -> np.ndarray:
    """G_s face probability ``[1, 1, S, S]`` of a ``[1, 3, S, S]`` crop."""
    (logits,) = models.segmentation(image)
    return softmax(logits)[:, FACE_CLASS:FACE_CLASS + 1]


def inpaint(models: NeuralModels, reenacted: np.ndarray, reenacted_face: np.ndarray,
            target_face: np.ndarray) -> np.ndarray:
    """G_c completes the reenacted face where the target's face is not covered by it (e.g. the
    side of the head the source never showed)."""
    hole = ((target_face > 0.5) & (reenacted_face <= 0.5)).astype(np.float32)
    if not hole.any():
        return reenacted
    (completed,) = models.inpainting(reenacted, hole)
    return completed


def match_colour(completed: np.ndarray, target_crop: np.ndarray, target_points: np.ndarray,
                 max_gain: float) -> np.ndarray:
    """The completed face recoloured to the target's skin statistics (Lab mean/std on the
    cheeks, nose and chin of the target geometry); ``[1, 3, S, S]`` in ``[-1, 1]``."""
    skin = skin_region(target_points, target_crop.shape[:2])
    if not skin.any():
        return completed
    recoloured = match_color_lab(rgb_to_lab(from_network(completed)), rgb_to_lab(target_crop),
                                 skin, None, max_gain)
    return to_network(recoloured)


def blend(models: NeuralModels, completed: np.ndarray, target: np.ndarray,
          mask: np.ndarray) -> np.ndarray:
    """G_b: the completed face blended into the target crop inside ``mask`` (trained towards
    the Poisson blend; equal to the target outside the mask)."""
    (blended,) = models.blending(completed, target, mask)
    return blended


@dataclass(frozen=True, eq=False)
class NeuralCrop:
    """The neural swap in crop space (for inspection and tests); images ``[S, S, 3]`` uint8,
    masks ``[S, S]`` float32."""

    transform: AlignTransform
    target: np.ndarray
    reenacted: np.ndarray
    completed: np.ndarray
    blended: np.ndarray
    mask: np.ndarray
    paste_mask: np.ndarray


def swap_crop(models: NeuralModels, frame: np.ndarray, target_face: Face,
              source: SourceAppearance, config: NeuralConfig | None = None,
              smoother: MaskSmoother | None = None) -> NeuralCrop:
    """Every stage of the neural swap, in crop space (see :func:`swap_frame`)."""
    config = config or NeuralConfig()
    size = models.resolution
    transform = estimate_alignment(target_face.landmarks, size)
    target_crop = warp_to_crop(frame, transform)
    target_points = transform_points(target_face.landmarks, transform.matrix)
    target = crop_face(target_points, size)
    target_image = to_network(target_crop)
    # appearance map: the (up to 3) source views around the target's pose, with weights
    views = source.select(target_face.pose, config.min_view_weight)
    reenacted, reenacted_probs = reenact_views(models, views, target, config.reenactment_steps)
    region = face_region(target_points, size, config.region_dilation)[None, None]
    target_face_prob = segment_face(models, target_image) * region
    if smoother is not None:  # video: damp the segmentation's flicker along the face edge
        target_face_prob = smoother(target_face_prob[0, 0])[None, None]
    completed = inpaint(models, reenacted, reenacted_probs[:, FACE_CLASS:FACE_CLASS + 1],
                        target_face_prob)
    if config.colour_transfer:
        completed = match_colour(completed, target_crop, target_points, config.max_colour_gain)
    mask = (target_face_prob > 0.5).astype(np.float32)
    blended = blend(models, completed, target_image, mask)
    # feathered inside the blended region only: outside it the frame keeps its own (sharper)
    # pixels, and the region's pixel-stepped edge never shows; never up to the crop's edge
    paste_mask = inner_feather(mask[0, 0] > 0.5, max(config.paste_feather * size, 0.5)) \
        * border_window(size, 0.06)
    return NeuralCrop(transform, target_crop, from_network(reenacted), from_network(completed),
                      from_network(blended), mask[0, 0], paste_mask.astype(np.float32))


def swap_frame(models: NeuralModels, frame: np.ndarray, target_face: Face,
               source: SourceAppearance, config: NeuralConfig | None = None,
               smoother: MaskSmoother | None = None) -> np.ndarray:
    """Replace ``target_face`` in ``frame`` by the source identity with the trained generators.

    Args:
        models: the four generators (:meth:`NeuralModels.load`).
        frame: ``[H, W, 3]`` uint8 target frame (not modified).
        target_face: the face to replace (landmarks and pose from the analyzer).
        source: the source's appearance map, built with ``config.source_config(resolution)``.
        config: neural-path settings.
        smoother: temporal smoothing of the face mask on video (reset it when the face
            changes); None for a photo.

    Returns:
        ``[H, W, 3]`` uint8 swapped frame.
    """
    swapped = swap_crop(models, frame, target_face, source, config, smoother)
    return paste_back(frame, swapped.blended, swapped.paste_mask, swapped.transform)


@dataclass(frozen=True, eq=False)
class NeuralReenactSource:
    """The face to animate, aligned once at the generators' resolution."""

    frame: np.ndarray
    face: Face
    transform: AlignTransform
    image: np.ndarray
    crop_face: Face
    window: np.ndarray

    @staticmethod
    def prepare(models: NeuralModels, frame: np.ndarray, face: Face) -> NeuralReenactSource:
        size = models.resolution
        transform = estimate_alignment(face.landmarks, size)
        points = transform_points(face.landmarks, transform.matrix)
        return NeuralReenactSource(frame, face, transform,
                                   to_network(warp_to_crop(frame, transform)),
                                   crop_face(points, size), border_window(size))


def reenact_frame(models: NeuralModels, source: NeuralReenactSource,
                  driven_landmarks: np.ndarray, config: NeuralConfig | None = None
                  ) -> np.ndarray:
    """The source frame with its face moved to ``driven_landmarks`` (frame pixels) by G_r.

    Returns:
        ``[H, W, 3]`` uint8, the size of the source frame.
    """
    config = config or NeuralConfig()
    size = models.resolution
    driven = transform_points(np.asarray(driven_landmarks, np.float64), source.transform.matrix)
    image, _ = reenact(models, source.image, source.crop_face, crop_face(driven, size),
                       config.reenactment_steps)
    return paste_back(source.frame, from_network(image), source.window, source.transform)
