"""The neural implementations of the method's stages: FSGAN's generators (Nirkin et al.,
Sec. 3 and Fig. 2), run through ONNX Runtime (:class:`openfsgan.inference.NeuralModels`).

* reenactment ``neural`` (:class:`GeneratorReenactor`): each appearance-map view is reenacted
  to the target's geometry with G_r, iteratively through intermediate landmarks, and the views
  blended with their barycentric weights; in reenact mode G_r drives the source photo in the
  driven face's own alignment, placed as the classic reenactment places its crop;
* segmentation ``neural`` (:class:`GeneratorSegmenter`): G_s's face class on the target crop,
  kept within a dilation of the face hull;
* inpainting ``neural`` (:class:`GeneratorInpainter`): G_c completes the reenacted face where
  the target's face is not covered by it;
* blending ``neural`` (:class:`GeneratorBlender`): G_b, trained towards the Poisson blend.

Two steps of ours sit inside the reenactment stage, both there because the shipped generators
are small and trained for hours on a CPU rather than days on a GPU:

* **landmark refinement** (:func:`refine_geometry`): G_r's result misses the target's
  landmarks by about 5 % of the eye distance; a mesh warp removes most of the miss;
* **detail layer** (:mod:`openfsgan.pipelines.detail`): the source's fine detail, moved along
  G_r's motion at the size the face has in the frame, is put back into the result, so the face
  keeps its pores, lashes and hair strands instead of an upscaled 128-px blur.

The generators work on their own crop (the training alignment at their resolution); handed the
crop of another reenactment stage, a neural stage resamples it there and back
(:class:`NetworkFrame`). Images are RGB uint8 ``[H, W, 3]`` at the edges and NCHW float32 in
``[-1, 1]`` for the networks. No file I/O.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass, replace
from typing import NamedTuple

import cv2
import numpy as np

from openfsgan.config import Config
from openfsgan.errors import ConfigError
from openfsgan.face.align import (
    DEFAULT_FOREHEAD_SHIFT,
    DEFAULT_MARGIN,
    AlignTransform,
    estimate_alignment,
    rescale_points,
    transform_points,
    warp_to_crop,
)
from openfsgan.face.heatmaps import landmark_heatmaps
from openfsgan.face.landmarks import LandmarkPredictor
from openfsgan.face.pose import fit_landmarks_3d, interpolate_landmarks, solve_pose
from openfsgan.geometry.masks import border_window, disk, hard_face_mask, inner_feather
from openfsgan.geometry.mesh_warp import extend_landmarks, face_mesh
from openfsgan.inference import NeuralModels
from openfsgan.pipelines.appearance import SourceView, TemporalState, ViewGeometry
from openfsgan.pipelines.classic import MeshWarpReenactor, WarpReenactSource
from openfsgan.pipelines.detail import (
    DetailTrack,
    add_detail,
    detail_factor,
    enlarge_maps,
    high_frequencies,
    resize,
)
from openfsgan.pipelines.reenact import ReenactConfig
from openfsgan.pipelines.stages import (
    Blend,
    CropImage,
    Reenacted,
    TargetCrop,
    from_network,
    to_network,
)
from openfsgan.types import BoundingBox, Face

__all__ = [
    "FACE_CLASS", "GeneratorBlender", "GeneratorInpainter", "GeneratorReenactor",
    "GeneratorSegmenter", "GeneratorStage", "NetworkFrame", "NeuralConfig",
    "NeuralReenactSource", "Reenactment", "ViewInput", "ViewInputs", "blend", "crop_face",
    "face_region", "from_network", "inpaint", "landmark_goal", "network_frame",
    "reached_landmarks", "reenact", "reenact_batch", "reenact_views", "refine_geometry",
    "segment_face", "softmax", "to_network",
]

FACE_CLASS = 1  # segmentation classes: background, face, hair


@dataclass(frozen=True)
class NeuralConfig(Config):
    """Settings of the neural stages.

    Attributes:
        reenactment_steps: G_r applications from the source pose to the target's (FSGAN's
            iterative reenactment; 1 = direct).
        detail_factor: largest enlargement of the generators' crop at which the detail layer
            is computed (source views are kept that much larger); the enlargement used for a
            face is the one that matches its size in the frame, 1 = no detail layer.
        detail_cutoff: the detail layer carries the source's frequencies above this fraction
            of the generators' crop size (0.5: above 64 px of a 128 px crop), and replaces the
            result's own there wherever the result shows the (warped) source face: the
            networks' outputs are softer than their inputs.
        refine_geometry: correct G_r's landmark misses with a mesh warp
            (:func:`refine_geometry`).
        landmark_tolerance: landmark misses are corrected down to this fraction of the eye
            distance (smaller ones are left: they carry the source's face shape).
        max_landmark_error: a larger mean landmark miss (fraction of the eye distance) is a
            failed detection or G_r failing outright, and is left uncorrected.
        region_dilation: the face region G_s may claim, as a dilation of the face hull
            (fraction of the crop): keeps stray segmentation far from the face out of the swap.
        fill_smoothing: Gaussian sigma (generator pixels) applied to what G_c paints
            (:func:`inpaint`); 0 = as painted.
        paste_feather: feather inside G_b's pasted region's edge (fraction of the crop).
    """

    reenactment_steps: int = 2
    detail_factor: int = 3
    detail_cutoff: float = 0.5
    refine_geometry: bool = True
    landmark_tolerance: float = 0.03
    max_landmark_error: float = 0.15
    region_dilation: float = 0.04
    fill_smoothing: float = 1.0
    paste_feather: float = 0.02

    def __post_init__(self) -> None:
        if not 1 <= self.reenactment_steps <= 8:
            raise ConfigError(f"reenactment_steps must be in [1, 8], got {self.reenactment_steps}")
        if not 0.0 <= self.region_dilation < 0.2 or not 0.0 <= self.paste_feather < 0.2:
            raise ConfigError("region_dilation and paste_feather must be in [0, 0.2)")
        if not 0.0 <= self.fill_smoothing <= 4.0:
            raise ConfigError(f"fill_smoothing must be in [0, 4], got {self.fill_smoothing}")
        if not 1 <= self.detail_factor <= 8:
            raise ConfigError(f"detail_factor must be in [1, 8], got {self.detail_factor}")
        if not 0.0 <= self.landmark_tolerance < self.max_landmark_error:
            raise ConfigError("landmark_tolerance must be in [0, max_landmark_error)")
        if not 0.125 <= self.detail_cutoff <= 1.0:
            raise ConfigError(f"detail_cutoff must be in [0.125, 1], got {self.detail_cutoff}")

    def source_config(self, resolution: int, min_view_distance_deg: float = 3.0
                      ) -> ViewGeometry:
        """How source views are cut for G_r: the alignment the generators were trained on
        (``openfsgan prepare``'s), ``detail_factor`` times their resolution (the networks get
        the views shrunk to theirs)."""
        return ViewGeometry(resolution * self.detail_factor, DEFAULT_MARGIN,
                            DEFAULT_FOREHEAD_SHIFT, min_view_distance_deg)


# -- conversions --------------------------------------------------------------------------------


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


# -- the stage helpers ---------------------------------------------------------------------------


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
    return reenact_batch(models, image, [source], target, steps, [track])[0]


def reenact_batch(models: NeuralModels, images: np.ndarray, sources: list[Face], target: Face,
                  steps: int, tracks: list[DetailTrack | None]) -> list[Reenactment]:
    """:func:`reenact` of several source crops onto one target, each step one G_r call on the
    whole batch (one ONNX Runtime run instead of one per view: less overhead, better use of
    its threads).

    Args:
        images: ``[B, 3, s, s]`` source crops in ``[-1, 1]``.
        sources: their faces in crop pixels, ``B`` of them.
        target: the target face in crop pixels.
        tracks: per source, its :class:`DetailTrack` or None.
    """
    size = models.resolution
    paths = [interpolate_landmarks(source, target, steps)[:-1] if steps > 1 else []
             for source in sources]
    logits = np.empty(0, np.float32)  # set by the loop: there is at least the last step
    heatmaps = None  # each step renders into the previous step's (used) heatmaps
    for step in range(steps):
        points = np.stack([path[step] if step < len(path) else target.landmarks
                           for path in paths]).astype(np.float32)
        heatmaps = landmark_heatmaps(points, size, out=heatmaps)
        images, logits, flow, occlusion_mask = models.reenactment(images, heatmaps)
        for index, track in enumerate(tracks):
            if track is not None:
                track.follow(flow[index:index + 1], occlusion_mask[index:index + 1])
    probs = softmax(logits)
    return [Reenactment(images[index:index + 1], probs[index:index + 1],
                        None if track is None else track.detail)
            for index, track in enumerate(tracks)]


@dataclass(frozen=True, eq=False)
class ViewInput:
    """One appearance-map view as G_r takes it.

    Attributes:
        image: ``[1, 3, s, s]`` the view's crop at the generators' resolution.
        face: its face fitted there (:func:`crop_face`).
        layer: its detail layer (:func:`high_frequencies`) at the detail layer's size; None
            without one.
    """

    image: np.ndarray
    face: Face
    layer: np.ndarray | None

    @staticmethod
    def of(view: SourceView, size: int, detail_size: int, cutoff: int) -> ViewInput:
        return ViewInput(to_network(resize(view.crop, size)),
                         crop_face(rescale_points(view.landmarks, view.crop.shape[0], size), size),
                         high_frequencies(resize(view.crop, detail_size), cutoff)
                         if detail_size else None)


class ViewInputs:
    """Each view's :class:`ViewInput`, made on its first use and kept while the view lives: a
    job's views are fixed, so their shrinking, pose fit and detail layer are not redone every
    frame."""

    def __init__(self) -> None:
        self._made: weakref.WeakKeyDictionary[SourceView, dict[tuple[int, int, int],
                                                               ViewInput]] = (
            weakref.WeakKeyDictionary())

    def get(self, view: SourceView, size: int, detail_size: int, cutoff: int) -> ViewInput:
        made = self._made.setdefault(view, {})
        key = (size, detail_size, cutoff)
        if key not in made:
            made[key] = ViewInput.of(view, size, detail_size, cutoff)
        return made[key]


def reenact_views(models: NeuralModels, views: list[tuple[SourceView, float]], target: Face,
                  steps: int, detail_size: int = 0, detail_cutoff: int | None = None,
                  inputs: ViewInputs | None = None) -> Reenactment:
    """Reenact each appearance-map view to the target and blend them with their barycentric
    weights (the 3 views of the Delaunay triangle around the target pose).

    Views may be larger than the generators' crop; with ``detail_size`` > 0 each view also
    moves a :class:`DetailTrack` of that size (frequencies above ``detail_cutoff`` pixels,
    default half the generators' crop) and the blend of their layers is returned. ``inputs``
    keeps what each view gives G_r across calls (None: made for this call only).
    """
    size = models.resolution
    cutoff = detail_cutoff or size // 2
    inputs = inputs or ViewInputs()
    made = [inputs.get(view, size, detail_size, cutoff) for view, _ in views]
    images = np.concatenate([view.image for view in made])
    tracks = [None if view.layer is None else DetailTrack.of_layer(view.layer, cutoff)
              for view in made]
    parts = list(zip(reenact_batch(models, images, [view.face for view in made], target, steps,
                                   tracks),
                     [weight for _, weight in views], strict=True))

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


def blend(models: NeuralModels, completed: np.ndarray, target: np.ndarray,
          mask: np.ndarray) -> np.ndarray:
    """G_b: the completed face blended into the target crop inside ``mask`` (trained towards
    the Poisson blend; equal to the target outside the mask)."""
    (blended,) = models.blending(completed, target, mask)
    return blended




# -- the generators' own crop ---------------------------------------------------------------------


class NetworkFrame:
    """A target in the generators' own crop (their training alignment at their resolution) and
    the resampling between it and the crop the swap works in (none when the two coincide, as
    with G_r's reenactment stage).

    Attributes:
        same: the swap's crop is the generators' own.
        target: the target in the generators' crop.
        points: ``[68, 2]`` the target's landmarks there.
    """

    def __init__(self, target: TargetCrop, resolution: int) -> None:
        own = estimate_alignment(target.face.landmarks, resolution)
        self.size = resolution
        self.crop_size = target.size
        self.same = (own.crop_size == target.size
                     and np.array_equal(own.matrix, target.transform.matrix))
        self.matrix = own.matrix @ np.vstack([target.transform.inverse, [0.0, 0.0, 1.0]])
        self.target = (target.image if self.same
                       else CropImage(rgb=warp_to_crop(target.frame, own)))
        self.points = (target.points if self.same
                       else transform_points(target.face.landmarks, own.matrix))

    def to_network_crop(self, image: np.ndarray) -> np.ndarray:
        """``[S, S(, C)]`` in the swap's crop -> the generators' crop."""
        if self.same:
            return image
        return cv2.warpAffine(image, self.matrix, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    def from_network_crop(self, image: np.ndarray) -> np.ndarray:
        """The generators' crop -> the swap's crop (same dtype)."""
        if self.same:
            return image
        return cv2.warpAffine(image, self.matrix, (self.crop_size, self.crop_size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)


def network_frame(target: TargetCrop, resolution: int) -> NetworkFrame:
    """:class:`NetworkFrame` of ``target``, made once per target (every neural stage uses it)."""
    key = f"network_frame_{resolution}"
    if key not in target.memo:
        target.memo[key] = NetworkFrame(target, resolution)
    frame = target.memo[key]
    assert isinstance(frame, NetworkFrame)
    return frame


# -- the stages -----------------------------------------------------------------------------------


class GeneratorStage:
    """What every neural stage holds: the shipped generators and the neural settings."""

    name = "neural"

    def __init__(self, models: NeuralModels, config: NeuralConfig | None = None) -> None:
        self.models = models
        self.config = config or NeuralConfig()


@dataclass(frozen=True, eq=False)
class NeuralReenactSource:
    """The face to animate, prepared once.

    ``canvas`` is the classic reenactment's crop of the source (:class:`WarpReenactSource`:
    the face at its own resolution, wide margin); ``transform`` and ``window`` are its, so the
    driven crop is placed and pasted back exactly as the mesh warp's. ``image`` and
    ``crop_face`` are the source in the generators' own alignment (the one G_r was trained on),
    ``detail_crop`` the same alignment at the detail layer's size (None without one).
    """

    frame: np.ndarray
    face: Face
    transform: AlignTransform
    image: np.ndarray
    crop_face: Face
    detail_crop: np.ndarray | None
    window: np.ndarray
    canvas: WarpReenactSource

    @staticmethod
    def prepare(models: NeuralModels, frame: np.ndarray, face: Face,
                config: NeuralConfig | None = None,
                reenact: ReenactConfig | None = None) -> NeuralReenactSource:
        config = config or NeuralConfig()
        size = models.resolution
        small = estimate_alignment(face.landmarks, size)
        factor = detail_factor(small, config.detail_factor)
        aligned = estimate_alignment(face.landmarks, size * factor) if factor > 1 else small
        crop = warp_to_crop(frame, aligned)
        points = transform_points(face.landmarks, small.matrix)
        canvas = WarpReenactSource.prepare(frame, face, reenact)
        return NeuralReenactSource(frame, face, canvas.transform, to_network(resize(crop, size)),
                                   crop_face(points, size), crop if factor > 1 else None,
                                   canvas.window, canvas)


class GeneratorReenactor(GeneratorStage):
    """Reenactment by G_r (iterative, landmark-refined, with the detail layer)."""

    def __init__(self, models: NeuralModels, config: NeuralConfig | None = None,
                 reenact: ReenactConfig | None = None) -> None:
        super().__init__(models, config)
        self.reenact_config = reenact or ReenactConfig()
        self.view_inputs = ViewInputs()  # the source's views as G_r takes them, made once

    def view_geometry(self, min_view_distance_deg: float) -> ViewGeometry:
        return self.config.source_config(self.models.resolution, min_view_distance_deg)

    def crop_transform(self, landmarks: np.ndarray) -> AlignTransform:
        return estimate_alignment(landmarks, self.models.resolution)

    def _refined(self, done: Reenactment, wanted: np.ndarray,
                 tolerance: float | None = None) -> Reenactment:
        if not self.config.refine_geometry:
            return done
        return refine_geometry(done, wanted, self.config.max_landmark_error,
                               self.config.landmark_tolerance if tolerance is None
                               else tolerance)

    def reenact(self, views: list[tuple[SourceView, float]], geometry: np.ndarray,
                target: TargetCrop) -> Reenacted:
        config, size = self.config, self.models.resolution
        # the detail layer's size: the face's size in the frame, at most what the views hold
        largest = min(config.detail_factor, views[0][0].crop.shape[0] // size)
        factor = detail_factor(target.transform, largest)
        cutoff = round(size * config.detail_cutoff)
        done = reenact_views(self.models, views, crop_face(geometry, size),
                             config.reenactment_steps, size * factor if factor > 1 else 0, cutoff,
                             self.view_inputs)
        done = self._refined(done, geometry)
        detail_transform = (None if done.detail is None else
                            estimate_alignment(target.face.landmarks, done.detail.shape[0]))
        return Reenacted(CropImage(network=done.image), done.probs[0, FACE_CLASS], done.detail,
                         detail_transform, cutoff)

    def prepare(self, frame: np.ndarray, face: Face) -> NeuralReenactSource:
        return NeuralReenactSource.prepare(self.models, frame, face, self.config,
                                           self.reenact_config)

    def drive(self, source: object, driven: np.ndarray, driver_rgb: np.ndarray | None,
              driver_landmarks: np.ndarray | None) -> np.ndarray:
        """The source's canvas with the face driven onto ``driven`` (frame pixels).

        G_r was trained on pairs of crops each aligned on its own face, so it changes pose and
        expression but cannot move or scale a face within its crop: it works in the driven
        landmarks' own alignment, and the placement (where the head goes, how large) is the
        classic reenactment's. The canvas is the mesh warp of the source's wide crop onto the
        driven landmarks (hair, neck and background follow the head); G_r's face replaces the
        warp inside the driven face hull.
        """
        assert isinstance(source, NeuralReenactSource)
        size = self.models.resolution
        driven = np.asarray(driven, np.float64)
        canvas = MeshWarpReenactor(reenact=replace(self.reenact_config, fill_mouth=False)).drive(
            source.canvas, driven, None, None)
        factor = 1 if source.detail_crop is None else source.detail_crop.shape[0] // size
        aligned = estimate_alignment(driven.astype(np.float32), size * factor)
        face = self._driven_face(source, rescale_points(
            transform_points(driven, aligned.matrix).astype(np.float32), size * factor, size))
        # the driven crop -> the canvas: frame -> canvas after driven crop -> frame
        to_canvas = source.transform.matrix @ np.vstack([aligned.inverse, [0.0, 0.0, 1.0]])
        canvas_size = source.transform.crop_size
        points = transform_points(driven, source.transform.matrix).astype(np.float32)
        region = hard_face_mask(points, (canvas_size, canvas_size)) > 0
        alpha = inner_feather(region, max(self.config.paste_feather * canvas_size, 0.5))
        pasted = cv2.warpAffine(face, to_canvas[:2], (canvas_size, canvas_size),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out = canvas + alpha[..., None] * (pasted.astype(np.float32) - canvas)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def _driven_face(self, source: NeuralReenactSource, points: np.ndarray) -> np.ndarray:
        """G_r's reenactment of the source onto ``points`` (the generators' crop pixels),
        refined, with the detail layer: ``[S, S, 3]`` uint8 in the driven alignment at the
        detail layer's size."""
        config, size = self.config, self.models.resolution
        cutoff = round(size * config.detail_cutoff)
        track = None if source.detail_crop is None else DetailTrack(source.detail_crop, cutoff)
        done = reenact(self.models, source.image, source.crop_face, crop_face(points, size),
                       config.reenactment_steps, track)
        # the driven landmarks already carry the source's own face shape (retargeted), so the
        # whole miss is G_r's error: none of it is kept
        image, _, detail = self._refined(done, points, tolerance=0.0)
        result = from_network(image)
        if detail is not None:
            result = add_detail(result, detail, np.ones((size, size), np.float32), cutoff)
        return result


class GeneratorSegmenter(GeneratorStage):
    """G_s's face class on the target, within a dilation of the face hull."""

    def segment(self, target: TargetCrop, reenacted: Reenacted,
                state: TemporalState | None) -> np.ndarray:
        frame = network_frame(target, self.models.resolution)
        region = face_region(frame.points, frame.size, self.config.region_dilation)[None, None]
        face_prob = frame.from_network_crop((segment_face(self.models, frame.target.network)
                                             * region)[0, 0])
        if state is not None:  # video: damp the segmentation's flicker along the face edge
            face_prob = state.mask(face_prob)
        return face_prob


class GeneratorInpainter(GeneratorStage):
    """G_c fills what the target's face shows and the reenacted face does not."""

    def inpaint(self, reenacted: Reenacted, mask: np.ndarray, target: TargetCrop) -> CropImage:
        frame = network_frame(target, self.models.resolution)
        image = (reenacted.image.network if frame.same
                 else to_network(frame.to_network_crop(reenacted.image.rgb)))
        face = frame.to_network_crop(reenacted.face)
        completed = inpaint(self.models, image, face[None, None],
                            frame.to_network_crop(mask)[None, None], self.config.fill_smoothing)
        if completed is image:  # nothing missing
            return reenacted.image
        if frame.same:
            return CropImage(network=completed)
        # only the hole comes back from the generators' (coarser) crop
        hole = ((mask > 0.5) & (reenacted.face <= 0.5))[..., None]
        filled = frame.from_network_crop(from_network(completed))
        return CropImage(rgb=np.where(hole, filled, reenacted.image.rgb))


class GeneratorBlender(GeneratorStage):
    """G_b blends the face into the target inside the (hard) mask."""

    def blend(self, face: CropImage, target: TargetCrop, mask: np.ndarray) -> Blend:
        frame = network_frame(target, self.models.resolution)
        hard = (mask > 0.5).astype(np.float32)
        face_image = face.network if frame.same else to_network(frame.to_network_crop(face.rgb))
        net_mask = hard if frame.same else (frame.to_network_crop(hard) > 0.5).astype(np.float32)
        blended = frame.from_network_crop(from_network(
            blend(self.models, face_image, frame.target.network, net_mask[None, None])))
        # feathered inside the blended region only: outside it the frame keeps its own
        # (sharper) pixels, and the region's pixel-stepped edge never shows; never up to the
        # crop's edge
        size = target.size
        paste_mask = (inner_feather(hard > 0.5, max(self.config.paste_feather * size, 0.5))
                      * border_window(size, 0.06)).astype(np.float32)
        return Blend(blended, paste_mask)
