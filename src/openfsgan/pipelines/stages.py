"""The stages of FSGAN's method as small interfaces, and the data that flows between them.

A swap runs four stages (Nirkin et al., Fig. 2), each with a classic and a neural
implementation (:mod:`openfsgan.pipelines.classic`, :mod:`openfsgan.pipelines.neural`):

==============  ====================================  ==========================================
stage           interface                             implementations
==============  ====================================  ==========================================
reenactment     :class:`Reenactor`                    ``warp`` (Delaunay mesh warp), ``neural``
                                                      (G_r, iterative, with the detail layer)
segmentation    :class:`Segmenter`                    ``landmarks`` (landmark face mask),
                                                      ``neural`` (G_s)
inpainting      :class:`Inpainter`                    ``none``, ``neural`` (G_c)
blending        :class:`Blender`                      ``poisson``, ``neural`` (G_b), ``alpha``
==============  ====================================  ==========================================

The pipeline (:func:`openfsgan.pipelines.swap.swap_crop`) takes its stages as arguments
(:class:`SwapStages`) and never branches on a method name. The reenactment stage decides the
crop every stage works on (:meth:`Reenactor.crop_transform`): the classic warp keeps a 256-px
crop, G_r its training alignment at the generators' resolution; a neural stage handed another
crop resamples it to its own (:func:`openfsgan.pipelines.neural.network_frame`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from openfsgan.face.align import AlignTransform
from openfsgan.geometry.color import rgb_to_lab
from openfsgan.geometry.masks import skin_region
from openfsgan.pipelines.appearance import SourceView, TemporalState, ViewGeometry
from openfsgan.types import Face

# -- images in both representations --------------------------------------------------------------


def to_network(rgb: np.ndarray) -> np.ndarray:
    """``[S, S, 3]`` uint8 -> ``[1, 3, S, S]`` float32 in ``[-1, 1]``."""
    return (rgb.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0).astype(np.float32)


def from_network(image: np.ndarray) -> np.ndarray:
    """``[1, 3, S, S]`` in ``[-1, 1]`` -> ``[S, S, 3]`` uint8."""
    return np.clip((image[0].transpose(1, 2, 0) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


class CropImage:
    """One crop image, held as it was made (uint8 RGB by the classic stages, a float network
    batch by the generators) and converted on demand, once: a generator's output reaches the
    next generator unrounded, a mesh warp's reaches Poisson blending unconverted.

    Attributes (computed on first use): ``rgb`` ``[S, S, 3]`` uint8, ``network``
    ``[1, 3, S, S]`` float32 in ``[-1, 1]``, ``lab`` ``[S, S, 3]`` float32 (CIE Lab).
    """

    def __init__(self, rgb: np.ndarray | None = None, network: np.ndarray | None = None) -> None:
        if (rgb is None) == (network is None):
            raise ValueError("give a crop as uint8 RGB or as a network batch, not both")
        self._rgb = rgb
        self._network = network

    @property
    def size(self) -> int:
        return int(self._rgb.shape[0] if self._rgb is not None else self.network.shape[-1])

    @functools.cached_property
    def rgb(self) -> np.ndarray:
        return self._rgb if self._rgb is not None else from_network(self.network)

    @functools.cached_property
    def network(self) -> np.ndarray:
        return self._network if self._network is not None else to_network(self.rgb)

    @functools.cached_property
    def lab(self) -> np.ndarray:
        return rgb_to_lab(self.rgb)


# -- what flows between the stages ----------------------------------------------------------------


class TargetCrop:
    """The target face cut out of its frame, in the reenactment stage's crop.

    Attributes:
        frame: ``[H, W, 3]`` uint8 the whole target frame (a stage working in a crop of its
            own cuts it from there).
        face: the target face (frame pixels).
        transform: frame -> crop alignment.
        image: the crop.
        points: ``[68, 2]`` the target's own landmarks in crop pixels.
        skin: boolean ``[S, S]`` cheeks, nose and chin of the target geometry (colour
            statistics and skin models; computed on first use).
    """

    def __init__(self, frame: np.ndarray, face: Face, transform: AlignTransform,
                 image: CropImage, points: np.ndarray) -> None:
        self.frame = frame
        self.face = face
        self.transform = transform
        self.image = image
        self.points = points
        self.memo: dict[str, object] = {}  # what a stage derives once per target (its own crop)

    @property
    def size(self) -> int:
        return self.transform.crop_size

    @functools.cached_property
    def skin(self) -> np.ndarray:
        return skin_region(self.points, (self.size, self.size))


@dataclass(frozen=True, eq=False)
class Reenacted:
    """The source views brought to the target geometry and blended (barycentric weights).

    Attributes:
        image: the reenacted crop (the target crop's size).
        face: ``[S, S]`` float32 probability that the reenacted crop shows face (G_r's own
            segmentation, or the warped face's landmark hull): what inpainting need not fill.
        detail: ``[D, D, 3]`` float32, the source's detail layer moved along
            (:mod:`openfsgan.pipelines.detail`); None for a stage that keeps none.
        detail_transform: frame -> crop alignment at the detail layer's size ``D``.
        detail_cutoff: the detail layer's cutoff (pixels of the crop).
    """

    image: CropImage
    face: np.ndarray
    detail: np.ndarray | None = None
    detail_transform: AlignTransform | None = None
    detail_cutoff: int = 0


@dataclass(frozen=True, eq=False)
class Blend:
    """A blending stage's result.

    Attributes:
        image: ``[S, S, 3]`` uint8, the face blended into the target crop.
        paste_mask: ``[S, S]`` float32 alpha of the paste back into the frame (outside it the
            frame keeps its own, sharper, pixels).
    """

    image: np.ndarray
    paste_mask: np.ndarray


class ReenactSource(Protocol):
    """A reenactment stage's face to animate, prepared once (reenact mode): the frame it is
    pasted back into, through ``window`` in ``transform``'s crop."""

    @property
    def frame(self) -> np.ndarray: ...

    @property
    def face(self) -> Face: ...

    @property
    def transform(self) -> AlignTransform: ...

    @property
    def window(self) -> np.ndarray: ...


# -- the stage interfaces -------------------------------------------------------------------------


class Reenactor(Protocol):
    """Brings source views to a target geometry (swap) or a source face to driven landmarks
    (reenact)."""

    name: str

    def view_geometry(self, min_view_distance_deg: float) -> ViewGeometry:
        """How this stage wants the source views cut."""
        ...

    def crop_transform(self, landmarks: np.ndarray) -> AlignTransform:
        """The crop every stage of a swap works on, for a target face with these landmarks."""
        ...

    def reenact(self, views: list[tuple[SourceView, float]], geometry: np.ndarray,
                target: TargetCrop) -> Reenacted:
        """The (view, weight) pairs brought to ``geometry`` (``[68, 2]`` crop pixels) and
        blended."""
        ...

    def prepare(self, frame: np.ndarray, face: Face) -> ReenactSource:
        """The face to animate (reenact mode), aligned once."""
        ...

    def drive(self, source: ReenactSource, driven: np.ndarray, driver_rgb: np.ndarray | None,
              driver_landmarks: np.ndarray | None) -> np.ndarray:
        """The source face moved to ``driven`` (``[68, 2]`` frame pixels): ``[S, S, 3]`` uint8
        in ``source.transform``'s crop. The driver's frame and landmarks may lend a mouth
        interior the source does not show."""
        ...


class Segmenter(Protocol):
    """Decides where the source face replaces the target's."""

    name: str

    def segment(self, target: TargetCrop, reenacted: Reenacted,
                state: TemporalState | None) -> np.ndarray:
        """``[S, S]`` float32 soft mask in ``[0, 1]``, smoothed over a video by ``state``."""
        ...


class Inpainter(Protocol):
    """Completes the reenacted face where the target's face is not covered by it."""

    name: str

    def inpaint(self, reenacted: Reenacted, mask: np.ndarray, target: TargetCrop) -> CropImage:
        """The completed face (the reenacted crop where nothing is missing)."""
        ...


class Blender(Protocol):
    """Blends the completed face into the target crop inside the mask."""

    name: str

    def blend(self, face: CropImage, target: TargetCrop, mask: np.ndarray) -> Blend: ...


@dataclass(frozen=True)
class SwapStages:
    """One implementation of each stage (built by :func:`openfsgan.pipelines.config.build_stages`
    from a :class:`~openfsgan.pipelines.config.SwapConfig`)."""

    reenactor: Reenactor
    segmenter: Segmenter
    inpainter: Inpainter
    blender: Blender

    def names(self) -> dict[str, str]:
        """Stage -> implementation name."""
        return {"reenactment": self.reenactor.name, "segmentation": self.segmenter.name,
                "inpainting": self.inpainter.name, "blending": self.blender.name}
