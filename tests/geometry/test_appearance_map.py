"""Appearance map on tiny point sets: fusion, triangulation, barycentric weights."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.geometry.appearance_map import AppearanceMap, fuse_near_views, pose_points

# five views: a square of yaw/pitch corners and the frontal view
FIVE = np.array([[-30.0, -20.0], [30.0, -20.0], [30.0, 20.0], [-30.0, 20.0], [0.0, 0.0]])


def test_fusion_drops_near_duplicates_first_wins() -> None:
    points = np.vstack([FIVE, [[0.5, 0.5], [30.0, 20.0], [29.0, -19.0]]])
    kept = fuse_near_views(points, min_view_distance_deg=3.0)
    np.testing.assert_array_equal(kept, [0, 1, 2, 3, 4])


def test_fusion_priority_and_spacing() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [10.0, 0.0]])
    kept = fuse_near_views(points, 1.5, priority=np.array([0.0, 5.0, 0.0, 1.0]))
    np.testing.assert_array_equal(kept, [1, 3])  # view 1 suppresses both its neighbours
    views = np.random.default_rng(0).uniform(-40, 40, (200, 2))
    kept_points = views[fuse_near_views(views, 8.0)]
    assert len(kept_points) > 10
    gaps = np.linalg.norm(kept_points[:, None] - kept_points[None], axis=-1)
    assert gaps[~np.eye(len(kept_points), dtype=bool)].min() > 8.0


def test_fusion_radius_zero_only_merges_identical_views() -> None:
    points = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.001]])
    np.testing.assert_array_equal(fuse_near_views(points, 0.0), [0, 2])


def test_weights_inside_sum_to_one_and_reproduce_the_query() -> None:
    amap = AppearanceMap.from_poses(FIVE, min_view_distance_deg=3.0)
    assert amap.triangles.shape == (4, 3)
    rng = np.random.default_rng(1)
    queries = rng.uniform([-29, -19], [29, 19], (50, 2))
    ids, weights = amap.barycentric_weights(queries)
    assert ids.shape == weights.shape == (50, 3)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-12)
    assert (weights >= 0).all()
    np.testing.assert_allclose((weights[..., None] * FIVE[ids]).sum(1), queries, atol=1e-9)


def test_a_view_itself_gets_all_the_weight() -> None:
    amap = AppearanceMap.from_poses(FIVE)
    ids, weights = amap.barycentric_weights(np.array([0.0, 0.0]))
    assert weights[ids == 4].sum() == pytest.approx(1.0)


def test_outside_the_hull_projects_onto_the_nearest_edge() -> None:
    amap = AppearanceMap.from_poses(FIVE)
    ids, weights = amap.barycentric_weights(np.array([45.0, 10.0]))  # right of the yaw=30 edge
    used = {int(i): w for i, w in zip(ids, weights, strict=True) if w > 0}
    assert set(used) == {1, 2}
    # nearest hull point is (30, 10): 3/4 of the way from view 1 (pitch -20) to view 2 (+20)
    assert used[2] == pytest.approx(0.75) and used[1] == pytest.approx(0.25)
    # beyond a corner: the corner view alone
    ids, weights = amap.barycentric_weights(np.array([50.0, 40.0]))
    assert weights[ids == 2].sum() == pytest.approx(1.0)


def test_weights_are_continuous_across_the_hull() -> None:
    amap = AppearanceMap.from_poses(FIVE)
    def dense(q: np.ndarray) -> np.ndarray:
        ids, weights = amap.barycentric_weights(q)
        out = np.zeros(len(FIVE))
        np.add.at(out, ids, weights)
        return out
    inside, outside = dense(np.array([29.999, 5.0])), dense(np.array([30.001, 5.0]))
    np.testing.assert_allclose(inside, outside, atol=1e-3)


def test_degenerate_maps_one_view_and_collinear_views() -> None:
    single = AppearanceMap.from_poses(np.array([[5.0, 5.0], [5.2, 5.1]]))
    np.testing.assert_array_equal(single.view_indices, [0])
    ids, weights = single.barycentric_weights(np.array([40.0, -3.0]))
    assert ids[0] == 0 and weights[0] == 1.0 and weights.sum() == 1.0
    line = AppearanceMap.from_poses(np.array([[-20.0, 0.0], [0.0, 0.0], [20.0, 0.0]]))
    assert line.triangles.shape == (0, 3)
    ids, weights = line.barycentric_weights(np.array([10.0, 7.0]))
    used = {int(i): w for i, w in zip(ids, weights, strict=True) if w > 0}
    assert used == pytest.approx({1: 0.5, 2: 0.5})
    assert line.nearest_view(np.array([-15.0, 3.0])) == 0


def test_indices_refer_to_the_original_views() -> None:
    points = np.vstack([[[0.2, 0.1]], FIVE])  # view 0 will suppress FIVE's frontal view (5)
    amap = AppearanceMap.from_poses(points, 3.0)
    np.testing.assert_array_equal(amap.view_indices, [0, 1, 2, 3, 4])
    ids, weights = amap.barycentric_weights(np.array([0.2, 0.1]))
    assert weights[ids == 0].sum() == pytest.approx(1.0)
    assert pose_points(np.array([1.0]), np.array([2.0])).tolist() == [[1.0, 2.0]]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        fuse_near_views(np.zeros((3, 3)), 1.0)
    with pytest.raises(ValueError, match="at least one view"):
        AppearanceMap.from_poses(np.zeros((0, 2)))
