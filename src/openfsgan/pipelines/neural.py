"""Face swapping and reenactment with the trained generators: FSGAN's inference, stage by stage.

``swap_frame`` follows Nirkin et al. (Sec. 3 and Fig. 2):

    align the target face -> pick source views on the appearance map -> reenact each view to
    the target's geometry with G_r, iteratively through intermediate landmarks -> barycentric
    blend -> segment the target with G_s -> complete the missing face with G_c -> blend with
    G_b -> paste back into the frame

Two steps of ours sit between those stages, both there because the shipped generators are
small and trained for hours on a CPU rather than days on a GPU:

* **landmark refinement** (:func:`refine_geometry`): G_r's result misses the target's
  landmarks by about 5 % of the eye distance; a mesh warp removes most of the miss;
* **detail layer** (:mod:`openfsgan.pipelines.detail`): the source's fine detail, moved along
  G_r's motion at the size the face has in the frame, is put back into the result, so the face
  keeps its pores, lashes and hair strands instead of an upscaled 128-px blur.

The generators run through ONNX Runtime (:class:`openfsgan.inference.NeuralModels`). Images are
RGB uint8 ``[H, W, 3]`` at the edges and NCHW float32 in ``[-1, 1]`` for the networks. No file
I/O.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from openfsgan.errors import ConfigError
from openfsgan.face.align import (
    DEFAULT_FOREHEAD_SHIFT,
    DEFAULT_MARGIN,
    AlignTransform,
    estimate_alignment,
    paste_back,
    rescale_points,
    transform_points,
    warp_to_crop,
)
from openfsgan.face.heatmaps import landmark_heatmaps
from openfsgan.face.landmarks import LandmarkPredictor
from openfsgan.face.pose import fit_landmarks_3d, interpolate_landmarks, solve_pose
from openfsgan.geometry.color import ColorStatsSmoother, match_color_lab, rgb_to_lab
from openfsgan.geometry.masks import (
    border_window,
    disk,
    hard_face_mask,
    inner_feather,
    skin_region,
)
from openfsgan.geometry.mesh_warp import extend_landmarks, face_mesh
from openfsgan.inference import NeuralModels
from openfsgan.pipelines.classic import (
    ClassicConfig,
    SourceAppearance,
    SourceView,
    TemporalState,
)
from openfsgan.pipelines.detail import (
    DetailTrack,
    add_detail,
    detail_factor,
    enlarge_maps,
    resize,
)
from openfsgan.pipelines.identity import DEFAULT_IDENTITY_STRENGTH, target_geometry
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
        region_dilation: the face region G_s may claim, as a dilation of the face hull
            (fraction of the crop): keeps stray segmentation far from the face out of the swap.
        paste_feather: feather inside the pasted region's edge (fraction of the crop).
        mask_momentum: temporal smoothing of the face mask on video (0 = none).
        color_momentum: temporal smoothing of the colour statistics of the colour transfer on
            video (0 = none).
        colour_transfer: match the completed face's colour statistics (cheeks, nose, chin) to
            the target's before G_b: the shipped G_b was trained on recolourings of up to
            ±20 % and leaves larger skin-tone differences visible.
        max_colour_gain: bound of the contrast change of that transfer.
        fill_smoothing: Gaussian sigma (generator pixels) applied to what G_c paints
            (:func:`inpaint`); 0 = as painted.
        detail_factor: largest enlargement of the generators' crop at which the detail layer
            is computed (source views are kept that much larger); the enlargement used for a
            face is the one that matches its size in the frame, 1 = no detail layer.
        refine_geometry: correct G_r's landmark misses with a mesh warp
            (:func:`refine_geometry`).
        landmark_tolerance: landmark misses are corrected down to this fraction of the eye
            distance (smaller ones are left: they carry the source's face shape).
        max_landmark_error: a larger mean landmark miss (fraction of the eye distance) is a
            failed detection or G_r failing outright, and is left uncorrected.
        detail_cutoff: the detail layer carries the source's frequencies above this fraction
            of the generators' crop size (0.5: above 64 px of a 128 px crop), and replaces the
            result's own there wherever the result shows the (warped) source face: the
            networks' outputs are softer than their inputs.
        identity_strength: share of the source's face shape in the landmarks G_r is driven
            to (0: the target's; 1: the source's shape under the target's pose and expression,
            see :mod:`openfsgan.pipelines.identity`).
    """

    reenactment_steps: int = 2
    min_view_weight: float = 0.05
    min_view_distance_deg: float = 3.0
    region_dilation: float = 0.04
    paste_feather: float = 0.02
    mask_momentum: float = 0.5
    color_momentum: float = 0.8
    colour_transfer: bool = True
    max_colour_gain: float = 1.2
    fill_smoothing: float = 1.0
    detail_factor: int = 3
    detail_cutoff: float = 0.5
    refine_geometry: bool = True
    landmark_tolerance: float = 0.03
    max_landmark_error: float = 0.15
    identity_strength: float = DEFAULT_IDENTITY_STRENGTH

    def __post_init__(self) -> None:
        if not 0.0 <= self.identity_strength <= 1.0:
            raise ConfigError(f"identity_strength must be in [0, 1], got "
                              f"{self.identity_strength}")
        if not 1 <= self.reenactment_steps <= 8:
            raise ConfigError(f"reenactment_steps must be in [1, 8], got {self.reenactment_steps}")
        if not 0.0 <= self.min_view_weight < 1.0 / 3.0:
            raise ConfigError("min_view_weight must be in [0, 1/3)")
        if not 0.0 <= self.region_dilation < 0.2 or not 0.0 <= self.paste_feather < 0.2:
            raise ConfigError("region_dilation and paste_feather must be in [0, 0.2)")
        if not 0.0 <= self.mask_momentum < 1.0 or not 0.0 <= self.color_momentum < 1.0:
            raise ConfigError("mask_momentum and color_momentum must be in [0, 1)")
        if not 0.0 <= self.fill_smoothing <= 4.0:
            raise ConfigError(f"fill_smoothing must be in [0, 4], got {self.fill_smoothing}")
        if not 1 <= self.detail_factor <= 8:
            raise ConfigError(f"detail_factor must be in [1, 8], got {self.detail_factor}")
        if not 0.0 <= self.landmark_tolerance < self.max_landmark_error:
            raise ConfigError("landmark_tolerance must be in [0, max_landmark_error)")
        if not 0.125 <= self.detail_cutoff <= 1.0:
            raise ConfigError(f"detail_cutoff must be in [0.125, 1], got {self.detail_cutoff}")

    def source_config(self, resolution: int) -> ClassicConfig:
        """Crop settings of the source views: the alignment the generators were trained on
        (``openfsgan prepare``'s), ``detail_factor`` times their resolution (the networks get
        the views shrunk to theirs)."""
        return ClassicConfig(crop_size=resolution * self.detail_factor, margin=DEFAULT_MARGIN,
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


class Reenactment(NamedTuple):
    """What :func:`reenact` returns.

    Attributes:
        image: ``[1, 3, s, s]`` in ``[-1, 1]``, the source with the target's geometry.
        probs: ``[1, 3, s, s]`` its segmentation probabilities (background, face, hair).
        detail: ``[S, S, 3]`` float32, the source's detail layer moved along
            (:attr:`DetailTrack.detail`; None when none was asked for).
    """

    image: np.ndarray
    probs: np.ndarray
    detail: np.ndarray | None = None


def reenact(models: NeuralModels, image: np.ndarray, source: Face, target: Face,
            steps: int, track: DetailTrack | None = None) -> Reenactment:
    """Iterative reenactment: ``I_j = G_r(I_{j-1}; H(p_j))``, ``I_0`` the source crop.

    ``p_1 .. p_{steps-1}`` interpolate the pose (Euler angles, centroid, scale) from source to
    target with the source's 3D shape; the last step uses the target's own landmarks.

    Args:
        image: ``[1, 3, s, s]`` source crop in ``[-1, 1]``.
        source, target: faces in crop pixels (:func:`crop_face`).
        track: the source crop at a larger size, moved with every step (:class:`DetailTrack`).
    """
    size = models.resolution
    path = interpolate_landmarks(source, target, steps)[:-1] if steps > 1 else []
    path.append(target.landmarks)  # never empty: the loop sets ``logits``
    for points in path:
        heatmaps = landmark_heatmaps(np.asarray(points, np.float32), size)[None]
        image, logits, flow, occlusion_mask = models.reenactment(image, heatmaps)
        if track is not None:
            track.follow(flow, occlusion_mask)
    if track is None:
        return Reenactment(image, softmax(logits))
    return Reenactment(image, softmax(logits), track.detail)


def reenact_views(models: NeuralModels, views: list[tuple[SourceView, float]], target: Face,
                  steps: int, detail_size: int = 0,
                  detail_cutoff: int | None = None) -> Reenactment:
    """Reenact each appearance-map view to the target and blend them with their barycentric
    weights (the 3 views of the Delaunay triangle around the target pose).

    Views may be larger than the generators' crop; with ``detail_size`` > 0 each view also
    moves a :class:`DetailTrack` of that size (frequencies above ``detail_cutoff`` pixels,
    default half the generators' crop) and the blend of their layers is returned.
    """
    size = models.resolution
    cutoff = detail_cutoff or size // 2
    parts = []
    for view, weight in views:
        view_size = view.crop.shape[0]
        track = DetailTrack(resize(view.crop, detail_size), cutoff) if detail_size else None
        done = reenact(models, to_network(resize(view.crop, size)),
                       crop_face(rescale_points(view.landmarks, view_size, size), size),
                       target, steps, track)
        parts.append((done, weight))

    def blend_of(field: str) -> np.ndarray | None:
        arrays = [(getattr(done, field), weight) for done, weight in parts]
        if arrays[0][0] is None:
            return None
        total = arrays[0][1] * arrays[0][0]
        for array, weight in arrays[1:]:
            total = total + weight * array
        return np.asarray(total, np.float32)

    image, probs = blend_of("image"), blend_of("probs")
    assert image is not None and probs is not None
    return Reenactment(image, probs, blend_of("detail"))


@functools.cache
def _landmark_predictor() -> LandmarkPredictor:
    return LandmarkPredictor()


def reached_landmarks(image: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Where a reenacted crop's 68 landmarks actually are: dlib's predictor on the crop
    (``[s, s, 3]`` uint8, enlarged 2x, nearer the face sizes dlib was trained on), started
    from the box of the ``wanted`` landmarks. Returns ``[68, 2]`` float32 crop pixels."""
    big = np.ascontiguousarray(resize(image, 2 * image.shape[0]))
    points = rescale_points(np.asarray(wanted, np.float32), image.shape[0], big.shape[0])
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    found = _landmark_predictor().predict(big, BoundingBox(float(x0), float(y0), float(x1),
                                                           float(y1)))
    return rescale_points(found, big.shape[0], image.shape[0])


def landmark_goal(reached: np.ndarray, wanted: np.ndarray, tolerance: float,
                  max_error: float) -> np.ndarray | None:
    """Where the reached landmarks should go: ``wanted``, except that each landmark keeps up
    to ``tolerance`` (fraction of the eye distance) of its miss; None when the mean miss is
    over ``max_error`` (a failed detection, or G_r failing; nothing should move)."""
    wanted = np.asarray(wanted, np.float32)
    eyes = max(float(np.linalg.norm(wanted[36:42].mean(axis=0) - wanted[42:48].mean(axis=0))),
               1.0)
    miss = np.asarray(reached, np.float32) - wanted
    distance = np.linalg.norm(miss, axis=1, keepdims=True)
    if distance.mean() > max_error * eyes:
        return None
    return wanted + miss * np.minimum(1.0, tolerance * eyes / np.maximum(distance, 1e-6))


def refine_geometry(done: Reenactment, target_points: np.ndarray, max_error: float,
                    tolerance: float = 0.0) -> Reenactment:
    """G_r's result moved so that its landmarks land on (or near) the target's.

    G_r (trained for hours on a CPU, 128 px) leaves its landmarks about 5 % of the eye
    distance from the ones asked for; the miss is measured on its output
    (:func:`reached_landmarks`) and removed with the classic path's piecewise-affine mesh
    warp (landmarks + forehead + crop border), applied alike to the image, the segmentation
    and the detail layer. Each landmark's miss is only brought down to ``tolerance`` (a
    fraction of the eye distance): a small miss is as much the source's own face shape (part
    of its identity) as G_r's error. A mean miss above ``max_error`` is left alone: it is a
    failed detection, or G_r failing outright (a head turned further than it learnt to turn),
    and a warp that large distorts the face.
    """
    image = from_network(done.image)
    size = image.shape[0]
    reached = reached_landmarks(image, target_points)
    goal = landmark_goal(reached, target_points, tolerance, max_error)
    if goal is None:
        return done
    mesh = face_mesh(goal, (size, size))
    map_x, map_y = mesh.maps_from(extend_landmarks(reached, size, size))

    def moved(batch: np.ndarray) -> np.ndarray:  # [1, C, s, s]
        channels_last = np.ascontiguousarray(batch[0].transpose(1, 2, 0))
        warped = cv2.remap(channels_last, map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(warped.transpose(2, 0, 1)[None])

    detail = done.detail
    if detail is not None:
        big_x, big_y = enlarge_maps(map_x, map_y, detail.shape[0])
        detail = np.asarray(cv2.remap(detail, big_x, big_y, cv2.INTER_CUBIC,
                                      borderMode=cv2.BORDER_REPLICATE))
    return Reenactment(moved(done.image), moved(done.probs), detail)


def face_region(points: np.ndarray, size: int, dilation: float) -> np.ndarray:
    """``[S, S]`` float32 {0, 1}: the face hull of the classic path (jaw and raised brows,
    :func:`hard_face_mask`), dilated."""
    hull = (hard_face_mask(points, (size, size)) > 0).astype(np.uint8)
    return cv2.dilate(hull, disk(max(1, round(dilation * size)))).astype(np.float32)


def segment_face(models: NeuralModels, image: np.ndarray) -> np.ndarray:
    """G_s face probability ``[1, 1, S, S]`` of a ``[1, 3, S, S]`` crop."""
    (logits,) = models.segmentation(image)
    return softmax(logits)[:, FACE_CLASS:FACE_CLASS + 1]


def inpaint(models: NeuralModels, reenacted: np.ndarray, reenacted_face: np.ndarray,
            target_face: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """G_c completes the reenacted face where the target's face is not covered by it (e.g. the
    side of the head the source never showed).

    ``smoothing`` > 0 blurs what G_c painted (Gaussian sigma in pixels): a hole is filled
    with smooth skin or hair colour, and the shipped G_c overlays it with its pixel-shuffle
    checkerboard, which a 1-pixel blur removes.
    """
    hole = ((target_face > 0.5) & (reenacted_face <= 0.5)).astype(np.float32)
    if not hole.any():
        return reenacted
    (completed,) = models.inpainting(reenacted, hole)
    if smoothing > 0:
        pixels = np.ascontiguousarray(completed[0].transpose(1, 2, 0))
        blurred = cv2.GaussianBlur(pixels, (0, 0), smoothing).transpose(2, 0, 1)[None]
        completed = completed + hole * (blurred - completed)
    return np.asarray(completed, np.float32)


def match_colour(completed: np.ndarray, target_crop: np.ndarray, target_points: np.ndarray,
                 max_gain: float, smoother: ColorStatsSmoother | None = None) -> np.ndarray:
    """The completed face recoloured to the target's skin statistics (Lab mean/std on the
    cheeks, nose and chin of the target geometry, smoothed over a video's frames by
    ``smoother``); ``[1, 3, S, S]`` in ``[-1, 1]``."""
    skin = skin_region(target_points, target_crop.shape[:2])
    if not skin.any():
        return completed
    recoloured = match_color_lab(rgb_to_lab(from_network(completed)), rgb_to_lab(target_crop),
                                 skin, smoother, max_gain)
    return to_network(recoloured)


def blend(models: NeuralModels, completed: np.ndarray, target: np.ndarray,
          mask: np.ndarray) -> np.ndarray:
    """G_b: the completed face blended into the target crop inside ``mask`` (trained towards
    the Poisson blend; equal to the target outside the mask)."""
    (blended,) = models.blending(completed, target, mask)
    return blended


@dataclass(frozen=True, eq=False)
class NeuralCrop:
    """The neural swap in crop space (for inspection and tests); images ``[s, s, 3]`` uint8 and
    masks ``[s, s]`` float32 at the generators' size ``s``, except ``output`` and
    ``output_mask``, the pasted result at the detail layer's size (``output_transform``'s)."""

    transform: AlignTransform
    target: np.ndarray
    reenacted: np.ndarray
    completed: np.ndarray
    blended: np.ndarray
    mask: np.ndarray
    paste_mask: np.ndarray
    output: np.ndarray
    output_mask: np.ndarray
    output_transform: AlignTransform


def swap_crop(models: NeuralModels, frame: np.ndarray, target_face: Face,
              source: SourceAppearance, config: NeuralConfig | None = None,
              state: TemporalState | None = None) -> NeuralCrop:
    """Every stage of the neural swap, in crop space (see :func:`swap_frame`)."""
    config = config or NeuralConfig()
    if state is not None:
        state.follow(target_face.track_id)
    size = models.resolution
    transform = estimate_alignment(target_face.landmarks, size)
    target_crop = warp_to_crop(frame, transform)
    # the target's pose and expression with the source's face shape (3D morphable model):
    # what every G_r step is driven to and what the refinement, region and colours follow
    geometry = target_geometry(target_face,
                               source.identity if config.identity_strength > 0 else None,
                               config.identity_strength,
                               state.identity if state is not None else None)
    target_points = transform_points(geometry, transform.matrix)
    target = crop_face(target_points, size)
    target_image = to_network(target_crop)
    # the detail layer's size: the face's size in the frame, at most what the views hold
    largest = min(config.detail_factor, source.views[0].crop.shape[0] // size)
    factor = detail_factor(transform, largest)
    # appearance map: the (up to 3) source views around the target's pose, with weights
    views = source.select(target_face.pose, config.min_view_weight)
    cutoff = round(size * config.detail_cutoff)
    done = reenact_views(models, views, target, config.reenactment_steps,
                         size * factor if factor > 1 else 0, cutoff)
    if config.refine_geometry:
        done = refine_geometry(done, target_points, config.max_landmark_error,
                               config.landmark_tolerance)
    reenacted, reenacted_probs, detail = done
    region = face_region(target_points, size, config.region_dilation)[None, None]
    target_face_prob = segment_face(models, target_image) * region
    if state is not None:  # video: damp the segmentation's flicker along the face edge
        target_face_prob = state.mask(target_face_prob[0, 0])[None, None]
    reenacted_face = reenacted_probs[:, FACE_CLASS:FACE_CLASS + 1]
    completed = inpaint(models, reenacted, reenacted_face, target_face_prob,
                        config.fill_smoothing)
    if config.colour_transfer:
        completed = match_colour(completed, target_crop, target_points, config.max_colour_gain,
                                 None if state is None else state.color)
    mask = (target_face_prob > 0.5).astype(np.float32)
    blended = from_network(blend(models, completed, target_image, mask))
    # feathered inside the blended region only: outside it the frame keeps its own (sharper)
    # pixels, and the region's pixel-stepped edge never shows; never up to the crop's edge
    paste_mask = (inner_feather(mask[0, 0] > 0.5, max(config.paste_feather * size, 0.5))
                  * border_window(size, 0.06)).astype(np.float32)
    if detail is None:
        output, output_mask, output_transform = blended, paste_mask, transform
    else:  # the source's detail where the result shows the reenacted source face
        output = add_detail(blended, detail, reenacted_face[0, 0] * mask[0, 0], cutoff)
        output_mask = resize(paste_mask, detail.shape[0])
        output_transform = estimate_alignment(target_face.landmarks, detail.shape[0])
    return NeuralCrop(transform, target_crop, from_network(reenacted), from_network(completed),
                      blended, mask[0, 0], paste_mask, output, output_mask, output_transform)


def swap_frame(models: NeuralModels, frame: np.ndarray, target_face: Face,
               source: SourceAppearance, config: NeuralConfig | None = None,
               state: TemporalState | None = None) -> np.ndarray:
    """Replace ``target_face`` in ``frame`` by the source identity with the trained generators.

    Args:
        models: the four generators (:meth:`NeuralModels.load`).
        frame: ``[H, W, 3]`` uint8 target frame (not modified).
        target_face: the face to replace (landmarks and pose from the analyzer).
        source: the source's appearance map, built with ``config.source_config(resolution)``.
        config: neural-path settings.
        state: temporal smoothing of a video's face mask and colour statistics
            (``TemporalState.for_video(config)``; reset when the face's track changes); None
            for a photo.

    Returns:
        ``[H, W, 3]`` uint8 swapped frame.
    """
    swapped = swap_crop(models, frame, target_face, source, config, state)
    return paste_back(frame, swapped.output, swapped.output_mask, swapped.output_transform)


@dataclass(frozen=True, eq=False)
class NeuralReenactSource:
    """The face to animate, aligned once at the generators' resolution (``image``,
    ``crop_face``) and at the detail layer's (``detail_crop``, ``transform``, ``window``)."""

    frame: np.ndarray
    face: Face
    transform: AlignTransform
    image: np.ndarray
    crop_face: Face
    detail_crop: np.ndarray | None
    window: np.ndarray

    @staticmethod
    def prepare(models: NeuralModels, frame: np.ndarray, face: Face,
                config: NeuralConfig | None = None) -> NeuralReenactSource:
        config = config or NeuralConfig()
        size = models.resolution
        small = estimate_alignment(face.landmarks, size)
        factor = detail_factor(small, config.detail_factor)
        transform = estimate_alignment(face.landmarks, size * factor) if factor > 1 else small
        crop = warp_to_crop(frame, transform)
        points = transform_points(face.landmarks, small.matrix)
        return NeuralReenactSource(frame, face, transform, to_network(resize(crop, size)),
                                   crop_face(points, size), crop if factor > 1 else None,
                                   border_window(transform.crop_size))


def reenact_frame(models: NeuralModels, source: NeuralReenactSource,
                  driven_landmarks: np.ndarray, config: NeuralConfig | None = None
                  ) -> np.ndarray:
    """The source frame with its face moved to ``driven_landmarks`` (frame pixels) by G_r.

    Returns:
        ``[H, W, 3]`` uint8, the size of the source frame.
    """
    config = config or NeuralConfig()
    size = models.resolution
    driven = rescale_points(
        transform_points(np.asarray(driven_landmarks, np.float64),
                         source.transform.matrix).astype(np.float32),
        source.transform.crop_size, size)
    cutoff = round(size * config.detail_cutoff)
    track = None if source.detail_crop is None else DetailTrack(source.detail_crop, cutoff)
    done = reenact(models, source.image, source.crop_face, crop_face(driven, size),
                   config.reenactment_steps, track)
    if config.refine_geometry:
        done = refine_geometry(done, driven, config.max_landmark_error,
                               config.landmark_tolerance)
    image, _, detail = done
    result = from_network(image)
    if detail is not None:
        result = add_detail(result, detail, np.ones((size, size), np.float32), cutoff)
    return paste_back(source.frame, result, source.window, source.transform)
