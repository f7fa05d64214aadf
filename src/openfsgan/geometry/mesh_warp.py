"""Piecewise-affine mesh warp: bring a face to another face's geometry (the classic path).

The 68 landmarks are extended with forehead points (estimated from the eyebrows, since the
68-point scheme stops there) and points on the image border, Delaunay-triangulated on the
*destination* points, and every destination triangle is filled from the matching source triangle
by its own affine map. The whole warp is one ``cv2.remap``: a triangle-id raster gives, for every
output pixel, the affine map of its triangle, and the per-pixel source coordinates follow in a
few vectorised array operations (no Python loop over pixels; one cheap loop fills the raster).

Arrays in, arrays out; coordinates follow :mod:`openfsgan.types` (pixel centres at integers).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from openfsgan.config import Config
from openfsgan.types import NUM_LANDMARKS

BROW_INDICES = np.arange(17, 27)
CHIN_INDEX = 8
NOSE_BRIDGE_INDEX = 27


@dataclass(frozen=True)
class MeshWarpConfig(Config):
    """How the landmark mesh is extended beyond the 68 points.

    Attributes:
        forehead_height: how far above the eyebrows the forehead points sit, as a fraction of
            the nose-bridge-to-chin distance (about 0.5 reaches the hairline on most faces).
        border_points_per_side: points on each image side (corners included) that pin the mesh
            to the image border, so the warp covers the whole image and leaves the border still.
    """

    forehead_height: float = 0.45
    border_points_per_side: int = 5

    def __post_init__(self) -> None:
        if not 0.0 <= self.forehead_height <= 2.0:
            raise ValueError(f"forehead_height must be in [0, 2], got {self.forehead_height}")
        if self.border_points_per_side < 2:
            raise ValueError("border_points_per_side must be >= 2 (the corners)")


def face_up_direction(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """Unit vector from the chin towards the nose bridge, and that distance in pixels."""
    up = landmarks[NOSE_BRIDGE_INDEX] - landmarks[CHIN_INDEX]
    length = float(np.linalg.norm(up))
    if length < 1e-6:
        raise ValueError("degenerate landmarks: chin and nose bridge coincide")
    return up / length, length


def forehead_points(landmarks: np.ndarray, height: float = 0.45) -> np.ndarray:
    """Estimate the forehead: the 10 eyebrow points raised along the face's up direction.

    Args:
        landmarks: ``[68, 2]`` pixels.
        height: rise as a fraction of the nose-bridge-to-chin distance.

    Returns:
        ``[10, 2]`` float32, same order as the eyebrows (17..26).
    """
    pts = np.asarray(landmarks, dtype=np.float32)
    if pts.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected [{NUM_LANDMARKS}, 2] landmarks, got {pts.shape}")
    up, length = face_up_direction(pts)
    brows = pts[BROW_INDICES]
    # the brow ends rise less than the middle: a rounded forehead instead of a flat band
    span = np.linspace(-1.0, 1.0, len(BROW_INDICES), dtype=np.float32)
    rise = height * length * (1.0 - 0.35 * span ** 2)
    return (brows + rise[:, None] * up[None]).astype(np.float32)


def border_points(width: int, height: int, per_side: int = 5) -> np.ndarray:
    """``[4 * (per_side - 1), 2]`` points evenly spaced on the image's outer pixel centres."""
    xs = np.linspace(0.0, width - 1.0, per_side)
    ys = np.linspace(0.0, height - 1.0, per_side)
    top = np.stack([xs, np.zeros_like(xs)], 1)
    bottom = np.stack([xs, np.full_like(xs, height - 1.0)], 1)
    left = np.stack([np.zeros_like(ys[1:-1]), ys[1:-1]], 1)
    right = np.stack([np.full_like(ys[1:-1], width - 1.0), ys[1:-1]], 1)
    return np.concatenate([top, bottom, left, right]).astype(np.float32)


def extend_landmarks(landmarks: np.ndarray, width: int, height: int,
                     config: MeshWarpConfig = MeshWarpConfig()) -> np.ndarray:
    """68 landmarks + forehead + image border points: ``[68, 2] -> [68 + 10 + B, 2]``."""
    pts = np.asarray(landmarks, dtype=np.float32)
    return np.concatenate([pts, forehead_points(pts, config.forehead_height),
                           border_points(width, height, config.border_points_per_side)])


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles of ``[N, 2]`` points: ``[T, 3]`` int32 vertex indices."""
    return Delaunay(np.asarray(points, dtype=np.float64)).simplices.astype(np.int32)


def _triangle_affines(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Per triangle, the affine map dst -> src: ``[T, 2, 3]`` float64 (degenerate: identity)."""
    d = dst[triangles].astype(np.float64)  # [T, 3, 2]
    s = src[triangles].astype(np.float64)
    homogeneous = np.concatenate([d, np.ones((*d.shape[:2], 1))], axis=2)  # [T, 3, 3]
    affines = np.tile(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (len(triangles), 1, 1))
    det = np.linalg.det(homogeneous)
    ok = np.abs(det) > 1e-9
    if ok.any():
        # rows of homogeneous @ A^T = s  ->  A^T = solve(homogeneous, s)
        affines[ok] = np.transpose(np.linalg.solve(homogeneous[ok], s[ok]), (0, 2, 1))
    return affines


def triangle_index_raster(points: np.ndarray, triangles: np.ndarray,
                          shape: tuple[int, int]) -> np.ndarray:
    """``[H, W]`` int32 raster: the id of the triangle covering each pixel, -1 where none."""
    raster = np.full(shape, -1, dtype=np.int32)
    shift = 4  # sub-pixel vertex precision
    fixed = np.round(np.asarray(points, np.float64) * (1 << shift)).astype(np.int32)
    for index, tri in enumerate(triangles):
        cv2.fillConvexPoly(raster, fixed[tri], int(index), lineType=cv2.LINE_8, shift=shift)
    return raster


@dataclass(frozen=True, eq=False)
class TriangleMesh:
    """A triangulated destination mesh, rasterised once and reused for many source images
    (the appearance map warps up to three source views onto the same target landmarks).

    Attributes:
        points: ``[N, 2]`` destination control points.
        triangles: ``[T, 3]`` int32 vertex indices.
        raster: ``[H, W]`` int32 triangle id per output pixel, -1 outside the mesh.
    """

    points: np.ndarray
    triangles: np.ndarray
    raster: np.ndarray

    @staticmethod
    def build(dst_points: np.ndarray, shape: tuple[int, int],
              triangles: np.ndarray | None = None) -> TriangleMesh:
        """Triangulate (Delaunay unless ``triangles`` is given) and rasterise ``dst_points``
        on an output of ``shape = (height, width)``."""
        dst = np.asarray(dst_points, dtype=np.float64)
        if dst.ndim != 2 or dst.shape[1] != 2:
            raise ValueError(f"expected [N, 2] points, got {dst.shape}")
        tris = triangulate(dst) if triangles is None else np.asarray(triangles, np.int32)
        return TriangleMesh(dst, tris, triangle_index_raster(dst, tris, shape))

    @functools.cached_property
    def _compact_raster(self) -> np.ndarray | None:
        """The raster as uint8, 255 where no triangle covers (meshes of at most 255 triangles:
        a face mesh has about 170), so that a per-pixel lookup is one ``cv2.LUT``."""
        if len(self.triangles) > 255:
            return None
        return self.raster.astype(np.uint8)  # -1 wraps to 255

    def per_pixel(self, values: np.ndarray) -> list[np.ndarray]:
        """Per-triangle values ``[T + 1, K]`` float32 (the last row for uncovered pixels) ->
        ``K`` arrays ``[H, W]`` float32 holding each pixel's triangle's value (exact copies)."""
        values = np.asarray(values, np.float32)
        if values.shape[0] != len(self.triangles) + 1:
            raise ValueError(f"expected {len(self.triangles) + 1} rows, got {values.shape[0]}")
        compact = self._compact_raster
        if compact is None:
            return [np.take(values[:, k], self.raster) for k in range(values.shape[1])]
        table = np.zeros((values.shape[1], 256), np.float32)
        table[:, :len(self.triangles)] = values[:-1].T
        table[:, 255] = values[-1]
        return [cv2.LUT(compact, table[k]) for k in range(values.shape[1])]

    def maps_from(self, src_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``cv2.remap`` maps sending each output pixel to its source coordinate."""
        src = np.asarray(src_points, dtype=np.float64)
        if src.shape != self.points.shape:
            raise ValueError(f"expected matching [N, 2] point sets, got {src.shape}, "
                             f"{self.points.shape}")
        affines = _triangle_affines(src, self.points, self.triangles).astype(np.float32)
        # one extra identity "triangle" (the last row) for uncovered pixels
        affines = np.concatenate([affines, np.array([[[1, 0, 0], [0, 1, 0]]], np.float32)])
        height, width = self.raster.shape
        xs = np.arange(width, dtype=np.float32)[None, :]
        ys = np.arange(height, dtype=np.float32)[:, None]
        a, b, c, d, e, f = self.per_pixel(affines.reshape(len(affines), 6))
        # per pixel: its triangle's affine map applied to (x, y, 1), in place in the
        # lookups: a * x + b * y + c
        for rate_x, rate_y, constant in ((a, b, c), (d, e, f)):
            rate_x *= xs
            rate_y *= ys
            rate_x += rate_y
            rate_x += constant
        return a, d

    def warp(self, image: np.ndarray, src_points: np.ndarray) -> np.ndarray:
        """Warp ``image`` so that its ``src_points`` land on this mesh's points."""
        map_x, map_y = self.maps_from(src_points)
        return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)


def warp_maps(src_points: np.ndarray, dst_points: np.ndarray, shape: tuple[int, int],
              triangles: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps of the piecewise-affine warp taking ``src_points`` to ``dst_points``.

    Args:
        src_points: ``[N, 2]`` control points in the source image.
        dst_points: ``[N, 2]`` where they go in the output image.
        shape: output ``(height, width)``.
        triangles: ``[T, 3]`` mesh; default: Delaunay of ``dst_points``.

    Returns:
        ``(map_x, map_y)`` float32 ``[H, W]``: the source coordinate of every output pixel.
        Pixels outside the mesh map to themselves.
    """
    src = np.asarray(src_points, dtype=np.float64)
    dst = np.asarray(dst_points, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2:
        raise ValueError(f"expected matching [N, 2] point sets, got {src.shape}, {dst.shape}")
    return TriangleMesh.build(dst, shape, triangles).maps_from(src)


def piecewise_affine_warp(image: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray,
                          triangles: np.ndarray | None = None,
                          output_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Warp ``image`` so that its ``src_points`` land on ``dst_points``.

    Args:
        image: ``[H, W]`` or ``[H, W, C]`` array (uint8 or float32).
        src_points, dst_points, triangles: see :func:`warp_maps`.
        output_shape: ``(height, width)`` of the result; default: the image's.

    Returns:
        The warped image, same dtype and channels.
    """
    shape = image.shape[:2] if output_shape is None else output_shape
    map_x, map_y = warp_maps(src_points, dst_points, shape, triangles)
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def face_mesh(target_landmarks: np.ndarray, shape: tuple[int, int],
              config: MeshWarpConfig = MeshWarpConfig()) -> TriangleMesh:
    """The target's mesh: 68 landmarks + estimated forehead + image border, triangulated."""
    height, width = shape
    return TriangleMesh.build(extend_landmarks(target_landmarks, width, height, config), shape)


def warp_face(source: np.ndarray, source_landmarks: np.ndarray, target_landmarks: np.ndarray,
              config: MeshWarpConfig = MeshWarpConfig(),
              mesh: TriangleMesh | None = None) -> np.ndarray:
    """Bring a face crop to the target's geometry (both in the same crop frame).

    The mesh is the 68 landmarks + estimated forehead + the crop border, triangulated on the
    target points; the crop border stays in place.

    Args:
        source: ``[S, S, 3]`` source face crop.
        source_landmarks: ``[68, 2]`` in the source crop.
        target_landmarks: ``[68, 2]`` in the (same-sized) target crop.
        config: how the mesh is extended.
        mesh: the target mesh from :func:`face_mesh`, to reuse it across several sources.

    Returns:
        ``[S, S, 3]`` the source face with the target's landmark positions.
    """
    height, width = source.shape[:2]
    if mesh is None:
        mesh = face_mesh(target_landmarks, (height, width), config)
    return mesh.warp(source, extend_landmarks(source_landmarks, width, height, config))
