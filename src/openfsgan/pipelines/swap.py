"""Face swapping on one frame, the classic path: the method's stages in order.

``swap_frame`` reads like FSGAN's inference (Nirkin et al., Sec. 3), with mesh warping standing
in for the reenactment generator and Poisson blending for the blending generator:

    align the target face -> pick source views on the appearance map -> bring each to the
    target's landmarks (mesh warp) -> barycentric blend -> colour-correct -> mask ->
    Poisson-blend -> paste back into the frame

No file I/O; frames are RGB uint8 ``[H, W, 3]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openfsgan.face.align import AlignTransform, paste_back, transform_points, warp_to_crop
from openfsgan.geometry.color import match_color_lab, rgb_to_lab
from openfsgan.geometry.masks import (
    border_window,
    face_mask,
    inner_feather,
    skin_likelihood,
    skin_region,
)
from openfsgan.geometry.mesh_warp import extend_landmarks, face_mesh
from openfsgan.geometry.poisson import poisson_blend
from openfsgan.pipelines.classic import (
    ClassicConfig,
    SourceAppearance,
    SourceView,
    TemporalState,
)
from openfsgan.pipelines.identity import move_target_face, target_geometry
from openfsgan.types import Face

INNER_MOUTH = np.arange(60, 68)
SHADING_TOLERANT_STD = (12.0, 2.0, 2.0)
"""Floors of the Lab deviations of the skin model that decides which Poisson boundary pixels
are trusted (L tolerant: lit and shaded skin alike; a, b strict: hair, background, lips)."""
PASTE_FEATHER_FRACTION = 0.008
"""Feather of the pasted crop's edge, as a fraction of the crop (about 2 px at 256)."""


@dataclass(frozen=True, eq=False)
class SwappedCrop:
    """The swap in crop space (for inspection and for the neural path's comparisons).

    Attributes:
        transform: frame -> crop alignment of the target face.
        target: ``[S, S, 3]`` the target crop.
        reenacted: ``[S, S, 3]`` the blended source views in the target's geometry.
        recoloured: ``reenacted`` after colour correction.
        blended: ``[S, S, 3]`` the final crop (equal to ``target`` outside the mask).
        mask: ``[S, S]`` float32 soft face mask (where the source replaces the target).
        paste_mask: ``[S, S]`` float32 alpha used for pasting back: for Poisson blending a thin
            feather inside the blended region (outside it the frame keeps its own pixels).
        frame: the frame the crop goes back into: the target frame, with its face outline
            moved to the retargeted geometry (:func:`openfsgan.pipelines.identity.
            move_target_face`) when the identity transfer changed it.
    """

    transform: AlignTransform
    target: np.ndarray
    reenacted: np.ndarray
    recoloured: np.ndarray
    blended: np.ndarray
    mask: np.ndarray
    paste_mask: np.ndarray
    frame: np.ndarray


def reenact_views(views: list[tuple[SourceView, float]], target_points: np.ndarray,
                  config: ClassicConfig) -> np.ndarray:
    """Mesh-warp each source view to the target landmarks and blend them barycentrically.

    Args:
        views: (view, weight) pairs from :meth:`SourceAppearance.select` (weights sum to 1).
        target_points: ``[68, 2]`` target landmarks in crop pixels.

    Returns:
        ``[S, S, 3]`` uint8.
    """
    size = config.crop_size
    # one triangulation of the target for all views (the appearance map's up to 3 views)
    mesh = face_mesh(target_points, (size, size), config.mesh)
    if len(views) == 1:
        view = views[0][0]
        return mesh.warp(view.crop, extend_landmarks(view.landmarks, size, size, config.mesh))
    total = np.zeros((size, size, 3), np.float32)
    for view, weight in views:
        warped = mesh.warp(view.crop, extend_landmarks(view.landmarks, size, size, config.mesh))
        total += np.float32(weight) * warped
    return np.clip(total + 0.5, 0, 255).astype(np.uint8)


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap (landmarks 61-63 vs 67-65) relative to the mouth width."""
    gap = np.linalg.norm(points[[61, 62, 63]] - points[[67, 66, 65]], axis=1).mean()
    width = float(np.linalg.norm(points[54] - points[48]))
    return float(gap) / max(width, 1e-6)


def swap_mask(target_points: np.ndarray, config: ClassicConfig,
              state: TemporalState | None = None,
              forehead_gate: np.ndarray | None = None,
              outline_gate: np.ndarray | None = None) -> np.ndarray:
    """Soft ``[S, S]`` mask of the region the source face replaces.

    The landmark face mask (forehead and outline bands gated, see
    :func:`openfsgan.geometry.masks.face_mask`), minus the target's
    open mouth (its teeth and tongue stay: a warped closed source mouth would be stretched
    across the gap), kept off the crop's edge, smoothed over time on video.
    """
    size = config.crop_size
    mask = face_mask(target_points, (size, size), config.mask, forehead_gate, outline_gate)
    if mouth_opening(target_points) > 0.08:
        mouth: np.ndarray = np.zeros((size, size), np.float32)
        cv2.fillPoly(mouth, [np.round(target_points[INNER_MOUTH] * 16).astype(np.int32)], 1.0,
                     lineType=cv2.LINE_AA, shift=4)
        sigma = 0.01 * config.crop_size
        mouth = cv2.GaussianBlur(mouth, (0, 0), sigma)
        mask = mask * (1.0 - np.clip(mouth, 0.0, 1.0))
    # never up to the crop's edge (a steep pitch can push the forehead there)
    mask = mask * border_window(size, 0.06)
    if state is not None:
        mask = state.mask(mask)
    return mask


def blend_into_target(recoloured: np.ndarray, target_crop: np.ndarray, mask: np.ndarray,
                      config: ClassicConfig,
                      boundary_trust: np.ndarray | None = None) -> np.ndarray:
    """Seamless blending of the swapped face into the target crop (Poisson by default).

    ``boundary_trust`` (``[S, S]`` in ``[0, 1]``, Poisson only): how far each boundary pixel's
    colour difference may act (see :func:`openfsgan.geometry.poisson.poisson_blend`).
    """
    region = mask > 0.5
    if not region.any():
        return target_crop.copy()
    if config.blend == "poisson":
        return poisson_blend(recoloured, target_crop, region, cycles=config.poisson_cycles,
                             boundary_clip=config.boundary_clip, boundary_trust=boundary_trust)
    if config.blend == "seamless_clone":
        region_u8 = region.astype(np.uint8) * 255
        x, y, w, h = cv2.boundingRect(region_u8)
        # OpenCV writes into its inputs: hand it copies
        return cv2.seamlessClone(recoloured.copy(), target_crop.copy(), region_u8,
                                 (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return recoloured.copy()


def swap_crop(frame: np.ndarray, target_face: Face, source: SourceAppearance,
              config: ClassicConfig | None = None,
              state: TemporalState | None = None) -> SwappedCrop:
    """Every stage of the swap, in crop space (see :func:`swap_frame`)."""
    config = config or ClassicConfig()
    if state is not None:
        state.follow(target_face.track_id)
    # the target's pose and expression with the source's face shape (3D morphable model);
    # the target's own face outline (jaw, cheeks, open mouth) is moved onto it
    geometry = target_geometry(target_face,
                               source.identity if config.identity_strength > 0 else None,
                               config.identity_strength,
                               state.identity if state is not None else None)
    frame = move_target_face(frame, target_face.landmarks, geometry, config.mesh)
    transform = config.align(target_face.landmarks)
    target_crop = warp_to_crop(frame, transform)
    target_points = transform_points(geometry, transform.matrix)
    # appearance map: the (up to 3) source views around the target's pose, with weights
    views = source.select(target_face.pose, config.min_view_weight)
    reenacted = reenact_views(views, target_points, config)
    # skin (cheeks, nose, chin) of the target geometry: colour statistics and skin models
    skin = skin_region(target_points, target_crop.shape[:2])
    target_lab, reenacted_lab = rgb_to_lab(target_crop), rgb_to_lab(reenacted)
    # where both faces show skin: the target's (hair, background and teeth are not) times the
    # warped source's (a narrower source face brings its own background inside the jaw line)
    both_skin = skin_likelihood(target_lab, skin) * skin_likelihood(reenacted_lab, skin)
    gate = both_skin if config.skin_gated_mask else None
    # with the target's outline moved onto the source's (identity transfer), the warped
    # source's jaw line is the target's: nothing foreign lies inside it, and the swapped
    # region reaches it (only the forehead stays gated: hair)
    outline_gate = None if geometry is not target_face.landmarks else gate
    mask = swap_mask(target_points, config, state, gate, outline_gate)
    if skin.any():
        recoloured = match_color_lab(reenacted_lab, target_lab, skin,
                                     state.color if state is not None else None,
                                     config.max_color_gain)
    else:
        recoloured = reenacted
    trust = None
    if config.skin_trusted_boundary and config.boundary_clip is not None:
        # the target's skin, lenient in lightness (shading is no reason to distrust the
        # boundary, colour is). Source hair or background on the boundary stays trusted: the
        # Poisson correction painting it over with the target's skin is what we want there.
        trust = skin_likelihood(target_lab, skin, min_std=SHADING_TOLERANT_STD)
    blended = blend_into_target(recoloured, target_crop, mask, config, trust)
    if config.blend == "alpha":
        paste_mask = mask
    else:
        paste_mask = inner_feather(mask > 0.5, PASTE_FEATHER_FRACTION * config.crop_size)
    return SwappedCrop(transform, target_crop, reenacted, recoloured, blended, mask, paste_mask,
                       frame)


def swap_frame(frame: np.ndarray, target_face: Face, source: SourceAppearance,
               config: ClassicConfig | None = None,
               state: TemporalState | None = None) -> np.ndarray:
    """Replace ``target_face`` in ``frame`` by the source identity.

    Args:
        frame: ``[H, W, 3]`` uint8 target frame (not modified).
        target_face: the face to replace (landmarks and pose from the analyzer).
        source: the source's appearance map (:meth:`SourceAppearance.from_views`).
        config: classic-path settings (default: :class:`ClassicConfig`).
        state: temporal state of a video (smoothed colour and mask); None for a photo.

    Returns:
        ``[H, W, 3]`` uint8 swapped frame.
    """
    swapped = swap_crop(frame, target_face, source, config, state)
    return paste_back(swapped.frame, swapped.blended, swapped.paste_mask, swapped.transform)
