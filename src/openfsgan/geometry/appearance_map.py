"""The appearance map: which source views to blend for a target head pose (FSGAN, Sec. 3.3).

Each source view is a point ``(yaw, pitch)`` in degrees on a plane. Near-duplicate views are
dropped with a KD-tree radius query, the remaining points are Delaunay-triangulated, and a
target pose is rendered as the barycentric blend of the three views at the corners of the
triangle that contains it.

Outside the convex hull of the views (or when fewer than three non-collinear views exist) the
query is projected onto the **nearest point of the hull's boundary** (an edge of the hull, or of
the line through collinear views) and blended from that edge's two end views with the
projection's linear weights; a single view gets weight 1. The weights therefore stay continuous
as the target pose crosses the hull, and views are never extrapolated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import Delaunay, QhullError, cKDTree

DEFAULT_MIN_VIEW_DISTANCE_DEG = 3.0
"""Views closer than this on the (yaw, pitch) plane are considered duplicates."""


def pose_points(yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
    """Project head poses to the appearance-map plane: ``[N], [N] -> [N, 2]`` (degrees)."""
    return np.stack([np.asarray(yaw_deg, np.float64), np.asarray(pitch_deg, np.float64)], axis=-1)


def fuse_near_views(points: np.ndarray, min_view_distance_deg: float,
                    priority: np.ndarray | None = None) -> np.ndarray:
    """Drop near-duplicate views, greedily keeping the preferred one.

    Views are visited in order of decreasing ``priority`` (default: their index order, first
    wins); a view is kept unless a kept view lies within ``min_view_distance_deg`` of it. The
    kept views are therefore pairwise at least that far apart.

    Args:
        points: ``[N, 2]`` view positions (yaw, pitch) in degrees.
        min_view_distance_deg: fusion radius in degrees (``0`` only fuses identical views).
        priority: optional ``[N]`` score; higher is kept first (e.g. sharpness, face size).

    Returns:
        Sorted int64 indices of the kept views.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"expected [N, 2] points, got {pts.shape}")
    if len(pts) == 0:
        return np.zeros(0, dtype=np.int64)
    if min_view_distance_deg < 0:
        raise ValueError(f"min_view_distance_deg must be >= 0, got {min_view_distance_deg}")
    order = (np.arange(len(pts)) if priority is None
             else np.argsort(-np.asarray(priority, np.float64), kind="stable"))
    neighbours = cKDTree(pts).query_ball_point(pts, r=max(min_view_distance_deg, 1e-9))
    removed = np.zeros(len(pts), dtype=bool)
    kept: list[int] = []
    for index in order:
        if removed[index]:
            continue
        kept.append(int(index))
        removed[neighbours[index]] = True
    return np.array(sorted(kept), dtype=np.int64)


def _project_to_segments(query: np.ndarray, starts: np.ndarray,
                         ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest segment of each query and the position on it: ``-> (segment [Q], t [Q])``."""
    direction = ends - starts  # [S, 2]
    length2 = np.maximum((direction ** 2).sum(-1), 1e-12)
    rel = query[:, None, :] - starts[None]  # [Q, S, 2]
    t = np.clip((rel * direction[None]).sum(-1) / length2, 0.0, 1.0)  # [Q, S]
    nearest = starts[None] + t[..., None] * direction[None]
    dist2 = ((query[:, None, :] - nearest) ** 2).sum(-1)
    best = dist2.argmin(axis=1)
    return best, t[np.arange(len(query)), best]


@dataclass(frozen=True, eq=False)
class AppearanceMap:
    """Source views on the (yaw, pitch) plane, triangulated for barycentric blending.

    Build with :meth:`from_poses`. Indices returned by :meth:`barycentric_weights` refer to the
    *original* list of views passed in (not to the fused subset).

    Attributes:
        points: ``[N, 2]`` all views' (yaw, pitch), degrees.
        view_indices: sorted indices of the views kept after fusion.
    """

    points: np.ndarray
    view_indices: np.ndarray
    _delaunay: Delaunay | None = field(default=None, repr=False)
    _edges: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64), repr=False)

    @staticmethod
    def from_poses(points: np.ndarray,
                   min_view_distance_deg: float = DEFAULT_MIN_VIEW_DISTANCE_DEG,
                   priority: np.ndarray | None = None) -> AppearanceMap:
        """Fuse near-duplicate views and triangulate the rest.

        Args:
            points: ``[N >= 1, 2]`` source views' (yaw, pitch) in degrees.
            min_view_distance_deg: see :func:`fuse_near_views`.
            priority: see :func:`fuse_near_views`.
        """
        pts = np.asarray(points, dtype=np.float64)
        kept = fuse_near_views(pts, min_view_distance_deg, priority)
        if len(kept) == 0:
            raise ValueError("an appearance map needs at least one view")
        local = pts[kept]
        delaunay: Delaunay | None = None
        if len(kept) >= 3:
            try:
                delaunay = Delaunay(local)
            except QhullError:  # all views on a line: fall back to the polyline
                delaunay = None
        if delaunay is not None:
            edges = np.asarray(delaunay.convex_hull, dtype=np.int64)
        elif len(kept) >= 2:
            # collinear views: segments between neighbours along the line
            axis = np.linalg.svd(local - local.mean(axis=0))[2][0]
            order = np.argsort(local @ axis)
            edges = np.stack([order[:-1], order[1:]], axis=1)
        else:
            edges = np.zeros((0, 2), np.int64)
        return AppearanceMap(pts, kept, delaunay, edges)

    @property
    def view_points(self) -> np.ndarray:
        """``[K, 2]`` positions of the kept views."""
        return self.points[self.view_indices]

    @property
    def triangles(self) -> np.ndarray:
        """``[T, 3]`` triangles as indices into the original views (empty when degenerate)."""
        if self._delaunay is None:
            return np.zeros((0, 3), np.int64)
        return self.view_indices[self._delaunay.simplices]

    def barycentric_weights(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Views and weights that render the pose ``query``.

        Args:
            query: ``[2]`` or ``[Q, 2]`` (yaw, pitch) in degrees.

        Returns:
            ``(ids, weights)``: int64 ``[3]`` / ``[Q, 3]`` indices into the original views and
            float64 weights summing to 1. Inside the hull these are the enclosing triangle's
            barycentric coordinates (``sum(w * view_point) == query``); outside, the projection
            onto the nearest hull edge (third weight 0); with one view, ``(i, i, i)`` with
            ``(1, 0, 0)``. Unused slots repeat the first id with weight 0.
        """
        q = np.asarray(query, dtype=np.float64)
        single = q.ndim == 1
        q2 = np.atleast_2d(q)
        if q2.shape[1] != 2:
            raise ValueError(f"expected [2] or [Q, 2] query, got {q.shape}")
        count = len(q2)
        local_ids = np.zeros((count, 3), np.int64)
        weights = np.zeros((count, 3), np.float64)
        weights[:, 0] = 1.0
        inside = np.zeros(count, dtype=bool)
        if self._delaunay is not None:
            simplex = self._delaunay.find_simplex(q2)
            inside = simplex >= 0
            if inside.any():
                s = simplex[inside]
                affine = self._delaunay.transform[s]  # [n, 3, 2]
                bary2 = np.einsum("nij,nj->ni", affine[:, :2], q2[inside] - affine[:, 2])
                bary = np.concatenate([bary2, 1.0 - bary2.sum(1, keepdims=True)], axis=1)
                bary = np.clip(bary, 0.0, None)
                weights[inside] = bary / bary.sum(1, keepdims=True)
                local_ids[inside] = self._delaunay.simplices[s]
        outside = ~inside
        if outside.any() and len(self._edges):
            edge, t = _project_to_segments(q2[outside], self.view_points[self._edges[:, 0]],
                                           self.view_points[self._edges[:, 1]])
            ends = self._edges[edge]
            local_ids[outside] = np.stack([ends[:, 0], ends[:, 1], ends[:, 0]], axis=1)
            weights[outside] = np.stack([1.0 - t, t, np.zeros_like(t)], axis=1)
        ids = self.view_indices[local_ids]
        return (ids[0], weights[0]) if single else (ids, weights)

    def nearest_view(self, query: np.ndarray) -> int:
        """Index (into the original views) of the kept view closest to ``query``."""
        q = np.asarray(query, dtype=np.float64).reshape(2)
        local = int(((self.view_points - q) ** 2).sum(1).argmin())
        return int(self.view_indices[local])
