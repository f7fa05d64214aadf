"""Face swapping on one frame: FSGAN's inference (Nirkin et al., Sec. 3, Fig. 2), stage by stage.

:func:`swap_crop` reads like the method; each stage is an implementation chosen per stage
(:class:`openfsgan.pipelines.stages.SwapStages`), the steps between them are shared:

    align the target face (its glasses painted out) -> pick source views on the appearance
    map -> compute the target geometry (the target's pose and expression, the source's face
    shape) -> move the target's face outline onto it -> reenact the views to it (mesh warp |
    G_r) -> segment the target (landmark mask | G_s) -> complete the face (none | G_c) ->
    transfer the target's skin colour -> blend (Poisson | G_b | alpha) -> add the source's
    detail layer -> paste back into the frame

No file I/O; frames are RGB uint8 ``[H, W, 3]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openfsgan.face.align import AlignTransform, paste_back, transform_points, warp_to_crop
from openfsgan.geometry.color import lab_to_rgb, match_color_lab, relight_lab, rgb_to_lab
from openfsgan.geometry.masks import face_skin_region, skin_likelihood
from openfsgan.pipelines.appearance import (
    AppearanceConfig,
    SourceAppearance,
    SourceView,
    TemporalState,
)
from openfsgan.pipelines.detail import add_detail, resize
from openfsgan.pipelines.identity import move_target_face
from openfsgan.pipelines.identity import target_geometry as retarget
from openfsgan.pipelines.occluders import remove_glasses
from openfsgan.pipelines.stages import (
    Blend,
    CropImage,
    Reenacted,
    Reenactor,
    SwapStages,
    TargetCrop,
)
from openfsgan.types import Face


@dataclass(frozen=True, eq=False)
class SwappedCrop:
    """Every stage's result, in crop space (for inspection and tests).

    Attributes:
        transform: frame -> crop alignment of the target face.
        target_crop: the target in the crop the stages worked on.
        reenactment: the reenactment stage's result.
        completed_image: after inpainting; ``recoloured_image`` after the colour transfer.
        blend: the blending stage's result.
        mask: ``[S, S]`` float32 the segmentation stage's soft mask.
        output, output_mask, output_transform: what is pasted into the frame (with the detail
            layer, at its size), through which alpha, with which alignment.
    """

    transform: AlignTransform
    target_crop: TargetCrop
    reenactment: Reenacted
    completed_image: CropImage
    recoloured_image: CropImage
    blend: Blend
    mask: np.ndarray
    output: np.ndarray
    output_mask: np.ndarray
    output_transform: AlignTransform

    @property
    def target(self) -> np.ndarray:
        return self.target_crop.image.rgb

    @property
    def reenacted(self) -> np.ndarray:
        return self.reenactment.image.rgb

    @property
    def completed(self) -> np.ndarray:
        return self.completed_image.rgb

    @property
    def recoloured(self) -> np.ndarray:
        return self.recoloured_image.rgb

    @property
    def blended(self) -> np.ndarray:
        return self.blend.image

    @property
    def paste_mask(self) -> np.ndarray:
        return self.blend.paste_mask


# -- the shared steps -----------------------------------------------------------------------------


def align_target(frame: np.ndarray, face: Face, reenactor: Reenactor) -> TargetCrop:
    """The target face cut out of ``frame`` in the reenactment stage's crop."""
    transform = reenactor.crop_transform(face.landmarks)
    return TargetCrop(frame, face, transform, CropImage(rgb=warp_to_crop(frame, transform)),
                      transform_points(face.landmarks, transform.matrix))


def select_views(source: SourceAppearance, target_face: Face,
                 config: AppearanceConfig) -> list[tuple[SourceView, float]]:
    """Appearance map: the (up to 3) source views around the target's pose, with weights."""
    return source.select(target_face.pose, config.min_view_weight)


def target_geometry(target: TargetCrop, source: SourceAppearance, config: AppearanceConfig,
                    state: TemporalState | None = None) -> np.ndarray:
    """The landmarks the reenactment stage brings the source to: ``[68, 2]`` crop pixels.

    The target's pose and expression with the source's face shape: the target's landmarks
    retargeted through the 3D morphable model by ``config.identity_strength`` (the source's
    identity pooled over its views, the target's over its video track;
    :func:`openfsgan.pipelines.identity.target_geometry`), measured in the crop exactly as the
    source's views are. Strength 0 gives FSGAN's original geometry, the target's own
    landmarks. This is the one place that decides it, for the mesh
    warp and every step of G_r's heatmaps alike.
    """
    if config.identity_strength == 0.0:
        return target.points
    return retarget(target.points, (target.size, target.size), source.identity,
                    config.identity_strength, None if state is None else state.identity,
                    target.face.track_id)


def remove_target_glasses(target: TargetCrop, config: AppearanceConfig) -> TargetCrop:
    """The target with its glasses painted out of the frame (:mod:`openfsgan.pipelines.
    occluders`): the source's eyes then replace the target's whole, never behind half a frame.
    The target itself when it wears none (or the step is off)."""
    if not config.remove_glasses:
        return target
    frame = remove_glasses(target.frame, target.image.rgb, target.points, target.transform)
    if frame is target.frame:
        return target
    return TargetCrop(frame, target.face, target.transform,
                      CropImage(rgb=warp_to_crop(frame, target.transform)), target.points)


def move_target_outline(target: TargetCrop, geometry: np.ndarray) -> TargetCrop:
    """The target with its own face outline moved onto ``geometry`` (crop pixels).

    Where the source's face is narrower, the target's jaw line, cheeks and the background
    beside them follow the new outline in (none of the target's face is left outside the
    swapped region); where it is wider they are pushed out and the segmented region grows with
    it; an open mouth's interior follows the retargeted lips. The frame is displaced at its
    own resolution (:func:`openfsgan.pipelines.identity.move_target_face`); the crop keeps its
    alignment, and its landmarks become ``geometry``.
    """
    if geometry is target.points:
        return target
    moved = move_target_face(target.frame, target.face.landmarks,
                             transform_points(geometry, target.transform.inverse))
    return TargetCrop(moved, target.face, target.transform,
                      CropImage(rgb=warp_to_crop(moved, target.transform)), geometry)


def transfer_color(face: CropImage, target: TargetCrop, config: AppearanceConfig,
                   state: TemporalState | None) -> CropImage:
    """The face recoloured to the target's skin statistics (Lab mean and deviation on the
    cheeks, nose and chin of the target geometry, smoothed over a video's frames), then
    relit: its low-frequency light and tint replaced by the target's
    (:func:`openfsgan.geometry.color.relight_lab`, ``config.relight_sigma``)."""
    skin = target.skin
    if not config.color_transfer or not skin.any():
        return face
    target_lab = target.image.lab
    matched = match_color_lab(face.lab, target_lab, skin, None if state is None else state.color,
                              config.max_color_gain)
    if config.relight_sigma == 0.0:
        return CropImage(rgb=matched)
    # the target's light at the scale of the cheeks, measured where both faces show skin
    matched_lab = rgb_to_lab(matched)
    hull = face_skin_region(target.points, (target.size, target.size))
    both = hull & (skin_likelihood(target_lab, skin) > 0.5) & \
        (skin_likelihood(matched_lab, skin) > 0.5)
    if np.count_nonzero(both) < 0.2 * np.count_nonzero(hull):
        return CropImage(rgb=matched)
    return CropImage(rgb=lab_to_rgb(relight_lab(matched_lab, target_lab, both,
                                                config.relight_sigma * target.size)))


def add_source_detail(blend: Blend, reenacted: Reenacted, mask: np.ndarray,
                      transform: AlignTransform) -> tuple[np.ndarray, np.ndarray, AlignTransform]:
    """What is pasted into the frame: the blended crop with the source's detail layer where the
    result shows the reenacted source face (when the reenactment stage kept one), its alpha
    and its alignment."""
    if reenacted.detail is None or reenacted.detail_transform is None:
        return blend.image, blend.paste_mask, transform
    region = (mask > 0.5).astype(np.float32)
    output = add_detail(blend.image, reenacted.detail, reenacted.face * region,
                        reenacted.detail_cutoff)
    return output, resize(blend.paste_mask, reenacted.detail.shape[0]), reenacted.detail_transform


# -- the pipeline ---------------------------------------------------------------------------------


def swap_crop(frame: np.ndarray, target_face: Face, source: SourceAppearance,
              stages: SwapStages, config: AppearanceConfig | None = None,
              state: TemporalState | None = None) -> SwappedCrop:
    """Every stage of the swap, in crop space (see :func:`swap_frame`)."""
    config = config or AppearanceConfig()
    if state is not None:
        state.follow(target_face.track_id)
    target = remove_target_glasses(align_target(frame, target_face, stages.reenactor), config)
    views = select_views(source, target_face, config)
    geometry = target_geometry(target, source, config, state)
    target = move_target_outline(target, geometry)
    reenacted = stages.reenactor.reenact(views, geometry, target)
    mask = stages.segmenter.segment(target, reenacted, state)
    completed = stages.inpainter.inpaint(reenacted, mask, target)
    recoloured = transfer_color(completed, target, config, state)
    blend = stages.blender.blend(recoloured, target, mask)
    output, output_mask, output_transform = add_source_detail(blend, reenacted, mask,
                                                              target.transform)
    return SwappedCrop(target.transform, target, reenacted, completed, recoloured, blend, mask,
                       output, output_mask, output_transform)


def swap_frame(frame: np.ndarray, target_face: Face, source: SourceAppearance,
               stages: SwapStages, config: AppearanceConfig | None = None,
               state: TemporalState | None = None) -> np.ndarray:
    """Replace ``target_face`` in ``frame`` by the source identity.

    Args:
        frame: ``[H, W, 3]`` uint8 target frame (not modified).
        target_face: the face to replace (landmarks and pose from the analyzer).
        source: the source's appearance map (:meth:`SourceAppearance.from_views`), its views
            cut as ``stages.reenactor.view_geometry`` says.
        stages: one implementation per stage (:func:`openfsgan.pipelines.config.build_stages`).
        config: settings of the shared steps (view selection, colour transfer).
        state: temporal state of a video (smoothed colour and mask; reset when the face's
            track changes); None for a photo.

    Returns:
        ``[H, W, 3]`` uint8 swapped frame.
    """
    swapped = swap_crop(frame, target_face, source, stages, config, state)
    # into the frame whose face outline the geometry moved (the frame itself at strength 0)
    return paste_back(swapped.target_crop.frame, swapped.output, swapped.output_mask,
                      swapped.output_transform)
