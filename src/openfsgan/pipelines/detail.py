"""The detail layer of the neural swap: the source's fine detail, moved along G_r's motion at
the size the face has in the frame.

The shipped generators work on 128-px crops while a face in a video frame is often three or
four times larger. G_r moves the source by a dense flow (plus synthesised pixels where the
source shows nothing usable), so what the networks blur or cannot represent at their size
(skin texture, lashes, hair strands) can be moved by the same flow on a larger crop of the
source and put back into the result (:class:`DetailTrack`, :func:`add_detail`); the networks
still decide shape, colour and blending.

Images are ``[S, S, 3]`` arrays (uint8 or float32), crops square; coordinates are pixel
centres (``i + 0.5`` of the unit square, as :func:`openfsgan.face.align.canonical_landmarks`).
"""

from __future__ import annotations

import cv2
import numpy as np

from openfsgan.face.align import AlignTransform


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """A square image (``[S, S]`` or ``[S, S, C]``) resampled to ``size``: area averaging when
    shrinking (no aliasing), bilinear when enlarging; unchanged when already that size."""
    if image.shape[0] == size:
        return image
    shrink = image.shape[0] > size
    return cv2.resize(image, (size, size),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _own(result: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``result`` as an array of its own, safe to modify in place (:func:`resize` to an
    image's own size returns the image itself)."""
    return result.copy() if np.may_share_memory(result, source) else result


def detail_factor(transform: AlignTransform, max_factor: int) -> int:
    """How many times the generators' crop must be enlarged to match the face's size in the
    frame (``transform`` maps frame -> crop; a quarter pixel of slack before rounding up)."""
    return int(np.clip(np.ceil(1.0 / transform.scale - 0.25), 1, max_factor))


def motion_maps(flow: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """G_r's ``[2, s, s]`` flow (``grid_sample`` units: 1 = half the crop) -> ``cv2.remap`` maps
    ``2 x [size, size]`` float32 of the same motion on a ``size`` crop."""
    grid = np.arange(size, dtype=np.float32)
    maps = []
    for axis, step in ((0, grid[None, :]), (1, grid[:, None])):
        offset = _own(resize(np.ascontiguousarray(flow[axis], np.float32), size), flow)
        offset *= size / 2.0
        offset += step
        maps.append(offset)
    return maps[0], maps[1]


def high_frequencies(crop: np.ndarray, cutoff: int) -> np.ndarray:
    """``[S, S, 3]`` float32: ``crop`` minus its content at ``cutoff`` pixels (its zero-mean
    detail, the layer a :class:`DetailTrack` moves)."""
    image = np.asarray(crop, np.float32)
    low = _own(resize(resize(image, cutoff), image.shape[0]), image)
    return np.subtract(image, low, out=low)


class DetailTrack:
    """The source's fine detail, moved step by step with G_r's motion, so that what the
    networks blur or cannot represent at their size (skin texture, lashes, hair strands)
    follows the reenactment.

    The layer is a source crop at ``factor`` times the generators' size minus its content at
    ``cutoff`` pixels (zero-mean high frequencies). Each G_r step gives a flow and an occlusion
    mask ``m`` (where G_r keeps the warped source rather than painting); the layer follows
    ``m * warp(layer, flow)``, with the flow and mask enlarged (both are smooth). Where G_r
    paints, the layer fades to nothing: painted pixels have no source detail. The steps'
    motions are composed and the layer is resampled once, bicubically, at the end: every
    resampling would soften the very frequencies it carries.
    """

    def __init__(self, crop: np.ndarray, cutoff: int) -> None:
        self.cutoff = cutoff
        self.source = high_frequencies(crop, cutoff)
        # per pixel of the result: where it samples the source (x, y) and how much of the
        # source is kept there; None until the first step (the identity)
        self.motion: np.ndarray | None = None

    @classmethod
    def of_layer(cls, layer: np.ndarray, cutoff: int) -> DetailTrack:
        """A track of a layer already made by :func:`high_frequencies` (a source view's, the
        same on every frame: made once, never modified here)."""
        track = cls.__new__(cls)
        track.cutoff, track.source, track.motion = cutoff, layer, None
        return track

    @property
    def size(self) -> int:
        return int(self.source.shape[0])

    @property
    def kept(self) -> np.ndarray:
        """``[S, S]`` float32: the product of G_r's occlusion masks along the motion."""
        if self.motion is None:
            return np.ones((self.size, self.size), np.float32)
        return np.ascontiguousarray(self.motion[..., 2])

    def follow(self, flow: np.ndarray, occlusion_mask: np.ndarray) -> None:
        """Apply one G_r step: ``flow [1,2,s,s]``, ``occlusion_mask [1,1,s,s]``."""
        step_x, step_y = motion_maps(flow[0], self.size)
        mask = resize(np.ascontiguousarray(occlusion_mask[0, 0], np.float32), self.size)
        if self.motion is None:
            self.motion = np.dstack([step_x, step_y, mask])
            return
        # the earlier motion, sampled where this step samples: one remap composes both
        motion = cv2.remap(self.motion, step_x, step_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        motion[..., 2] *= mask
        self.motion = motion

    @property
    def detail(self) -> np.ndarray:
        """``[S, S, 3]`` float32: the moved layer, times :attr:`kept`."""
        if self.motion is None:
            return self.source.copy()
        moved = cv2.remap(self.source, np.ascontiguousarray(self.motion[..., 0]),
                          np.ascontiguousarray(self.motion[..., 1]), cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)
        moved *= self.motion[..., 2:3]
        return np.asarray(moved, np.float32)


def add_detail(image: np.ndarray, detail: np.ndarray, weight: np.ndarray,
               cutoff: int) -> np.ndarray:
    """The networks' result enlarged to the detail layer's size, with its frequencies above
    ``cutoff`` pixels replaced by the source's moved detail.

    Inside ``weight`` the result keeps only the source's detail above the cutoff: where G_r
    painted (the layer is empty there), the painting's own finest band goes too, which is
    where the undertrained synthesis heads leave their pixel-shuffle checkerboard.

    Args:
        image: ``[s, s, 3]`` uint8, the networks' result.
        detail: ``[S, S, 3]`` float32, the moved layer (:attr:`DetailTrack.detail`).
        weight: ``[s, s]`` float32 in ``[0, 1]``: where the result shows the reenacted face.
        cutoff: the layer's lower frequency bound (:attr:`DetailTrack.cutoff`).

    Returns:
        ``[S, S, 3]`` uint8.
    """
    size = detail.shape[0]
    base = resize(image.astype(np.float32), size)
    gain = resize(np.ascontiguousarray(weight, np.float32), size)[..., None]
    # base + gain * (detail - (base - low)), rounded: the same float32 operations in one
    # buffer (the arrays are a few MB; fresh ones cost more than the arithmetic)
    out = _own(resize(resize(base, cutoff), size), base)
    np.subtract(base, out, out=out)
    np.subtract(detail, out, out=out)
    out *= gain
    out += base
    out += 0.5
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def enlarge_maps(map_x: np.ndarray, map_y: np.ndarray, size: int) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """``cv2.remap`` maps of an ``s`` crop -> the same motion on a ``size`` crop (pixel
    centres: ``X = (x + 0.5) * k - 0.5``)."""
    factor = size / map_x.shape[0]
    offset = (factor - 1.0) / 2.0
    maps = []
    for small in (map_x, map_y):
        big = _own(resize(small, size), small)
        big *= factor
        big += offset
        maps.append(big)
    return maps[0], maps[1]
