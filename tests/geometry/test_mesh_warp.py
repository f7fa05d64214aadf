"""Piecewise-affine mesh warp: identity, known affine maps, landmark transport."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from openfsgan.face.align import canonical_landmarks
from openfsgan.geometry.mesh_warp import (
    MeshWarpConfig,
    TriangleMesh,
    border_points,
    extend_landmarks,
    forehead_points,
    piecewise_affine_warp,
    triangle_index_raster,
    triangulate,
    warp_face,
    warp_maps,
)

SIZE = 96


def _texture(size: int = SIZE) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.stack([128 + 90 * np.sin(xx / 6), 128 + 90 * np.cos(yy / 5),
                     128 + 60 * np.sin((xx - yy) / 8)], -1).astype(np.uint8)


def test_identity_landmarks_give_the_identity_image() -> None:
    image = _texture()
    landmarks = canonical_landmarks(SIZE)
    warped = warp_face(image, landmarks, landmarks)
    assert np.abs(warped.astype(int) - image).max() <= 1


def test_a_global_affine_mesh_reproduces_warp_affine() -> None:
    image = _texture()
    rng = np.random.default_rng(0)
    src = np.vstack([rng.uniform(5, SIZE - 5, (30, 2)), border_points(SIZE, SIZE, 4)])
    affine = np.array([[0.9, 0.1, 4.0], [-0.08, 1.05, -2.0]])  # dst -> src
    dst = src.copy()
    # pick dst so that src = affine(dst) exactly for every point
    inv = cv2.invertAffineTransform(affine)
    dst = src @ inv[:, :2].T + inv[:, 2]
    map_x, map_y = warp_maps(src, dst, (SIZE, SIZE))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    inside = triangle_index_raster(dst, triangulate(dst), (SIZE, SIZE)) >= 0
    np.testing.assert_allclose(map_x[inside], (affine[0, 0] * xx + affine[0, 1] * yy
                                               + affine[0, 2])[inside], atol=1e-3)
    np.testing.assert_allclose(map_y[inside], (affine[1, 0] * xx + affine[1, 1] * yy
                                               + affine[1, 2])[inside], atol=1e-3)
    warped = piecewise_affine_warp(image, src, dst)
    reference = cv2.warpAffine(image, affine, (SIZE, SIZE), flags=cv2.WARP_INVERSE_MAP
                               | cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    core = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert np.abs(warped.astype(int) - reference)[core].max() <= 1


def test_landmarks_move_to_the_target_positions() -> None:
    # a dot on every landmark: after the warp the dots sit on the target landmarks
    source_points = canonical_landmarks(128)
    target_points = source_points.copy()
    target_points[48:68] += [0.0, 5.0]  # mouth down 5 px
    target_points[36:48] += [0.0, -2.0]  # eyes up 2 px
    image = np.zeros((128, 128), np.float32)
    for x, y in np.round(source_points).astype(int):
        image[y, x] = 1.0
    warped = warp_face(image, source_points, target_points)
    for index in (30, 37, 44, 51, 57, 62):
        x, y = np.round(target_points[index]).astype(int)
        assert warped[y, x] > 0.5, index
    # the crop border is pinned
    assert np.array_equal(warped[0], image[0]) and np.array_equal(warped[:, -1], image[:, -1])


def test_extension_points_and_raster_cover_the_image() -> None:
    landmarks = canonical_landmarks(SIZE)
    forehead = forehead_points(landmarks, 0.45)
    assert forehead.shape == (10, 2)
    assert (forehead[:, 1] < landmarks[17:27, 1]).all()  # above the brows (y down)
    extended = extend_landmarks(landmarks, SIZE, SIZE, MeshWarpConfig(border_points_per_side=3))
    assert extended.shape == (68 + 10 + 8, 2)
    raster = triangle_index_raster(extended, triangulate(extended), (SIZE, SIZE))
    assert (raster >= 0).mean() > 0.99


def test_per_pixel_lookups_are_the_triangles_values_exactly() -> None:
    # a face-sized mesh (under 256 triangles: one cv2.LUT per value) and a dense one (np.take),
    # neither reaching the image border (uncovered pixels read the last row)
    rng = np.random.default_rng(3)
    for count in (40, 200):
        points = rng.uniform(10, SIZE - 10, (count, 2))
        mesh = TriangleMesh.build(points, (SIZE, SIZE))
        assert (mesh.raster < 0).any()
        values = rng.normal(size=(len(mesh.triangles) + 1, 3)).astype(np.float32)
        expected = values[mesh.raster]  # -1 indexes the last row
        looked_up = np.stack(mesh.per_pixel(values), axis=-1)
        assert np.array_equal(looked_up, expected), count
    assert len(TriangleMesh.build(points, (SIZE, SIZE)).triangles) > 255  # the dense one
    with pytest.raises(ValueError, match="rows"):
        mesh.per_pixel(values[:-1])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="matching"):
        warp_maps(np.zeros((4, 2)), np.zeros((5, 2)), (8, 8))
    with pytest.raises(ValueError, match="border_points_per_side"):
        MeshWarpConfig(border_points_per_side=1)
    with pytest.raises(ValueError, match="68, 2"):
        forehead_points(np.zeros((10, 2)))
