"""Poisson image blending (Pérez et al. 2003), the seam remover of the classic path.

Find ``f`` with ``∇f = ∇I_r`` inside the mask ``Ω`` and ``f = I_t`` outside it: the result keeps
the swapped face's detail (its gradients) while its colour and light flow in from the target
across the mask boundary. Writing ``f = I_r + h`` turns this into a Laplace problem for the
correction ``h``:

    Δh = 0 in Ω,    h = I_t - I_r outside Ω      (5-point Laplacian, 4-neighbourhood)

``h`` is harmonic, hence smooth, which is why a coarse-to-fine solver is accurate and fast:

* :func:`poisson_blend_exact` assembles the sparse system and solves it directly (SciPy SuperLU);
  it is the reference, and the target of FSGAN's blending-network loss.
* :func:`poisson_blend` (``method="multigrid"``, default) runs geometric multigrid V-cycles on
  the mask's bounding box: red-black Gauss-Seidel smoothing, residual restriction by 2x2
  averaging, a direct solve on the coarsest grid, bilinear prolongation of the error. Two cycles
  agree with the exact solution to about a grey level, in a few milliseconds on a face crop.

Pixels of the mask on the image border are treated as outside (they carry the boundary values).
Arrays in, arrays out: ``[H, W]`` or ``[H, W, C]``, uint8 or float.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

PoissonMethod = Literal["multigrid", "exact"]

_NEIGHBOUR_KERNEL = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]],
                             dtype=np.float32)


def _prepare(source: np.ndarray, target: np.ndarray,
             mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = np.asarray(source)
    tgt = np.asarray(target)
    if src.shape != tgt.shape or src.ndim not in (2, 3):
        raise ValueError(f"source {src.shape} and target {tgt.shape} must be equal [H, W(, C)]")
    region = np.asarray(mask)
    if region.shape != src.shape[:2]:
        raise ValueError(f"mask {region.shape} must be [H, W] = {src.shape[:2]}")
    inside = region > 0.5 if region.dtype != bool else region.copy()
    inside[0, :] = inside[-1, :] = False
    inside[:, 0] = inside[:, -1] = False
    src_f = src.astype(np.float32)
    tgt_f = tgt.astype(np.float32)
    if src_f.ndim == 2:
        src_f, tgt_f = src_f[..., None], tgt_f[..., None]
    return src_f, tgt_f, inside


def _finish(source: np.ndarray, target: np.ndarray, correction: np.ndarray,
            inside: np.ndarray, like: np.ndarray) -> np.ndarray:
    result = target.copy()
    cv2.copyTo(source + correction, inside.astype(np.uint8), result)
    if like.ndim == 2:
        result = result[..., 0]
    if np.issubdtype(like.dtype, np.integer):
        info = np.iinfo(like.dtype)
        return np.clip(np.rint(result), info.min, info.max).astype(like.dtype)
    return result.astype(like.dtype, copy=False)


def laplace_system(inside: np.ndarray) -> tuple[sparse.csc_matrix, np.ndarray]:
    """Sparse 5-point Laplacian on the ``True`` pixels of ``inside`` (none on the border).

    Returns:
        ``(A, index)``: ``A`` is ``[n, n]`` with 4 on the diagonal and -1 for each neighbour in
        the region; ``index`` is ``[H, W]`` int64 with the unknown's number or -1.
    """
    index = np.full(inside.shape, -1, dtype=np.int64)
    ys, xs = np.nonzero(inside)
    count = len(ys)
    index[ys, xs] = np.arange(count)
    rows = [np.arange(count)]
    cols = [np.arange(count)]
    vals = [np.full(count, 4.0)]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        neighbour = index[ys + dy, xs + dx]
        ok = neighbour >= 0
        rows.append(np.nonzero(ok)[0])
        cols.append(neighbour[ok])
        vals.append(np.full(int(ok.sum()), -1.0))
    matrix = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                       np.concatenate(cols))),
                               shape=(count, count))
    return matrix, index


def _solve_laplace_exact(boundary: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Harmonic ``h`` on ``inside`` with ``h = boundary`` elsewhere: ``[H, W, C]`` float32."""
    result = boundary.astype(np.float64, copy=True)
    if not inside.any():
        return result.astype(np.float32)
    matrix, index = laplace_system(inside)
    ys, xs = np.nonzero(inside)
    rhs = np.zeros((len(ys), boundary.shape[2]))
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        outside = index[ny, nx] < 0
        rhs[outside] += boundary[ny[outside], nx[outside]]
    solution = splu(matrix).solve(rhs)
    result[ys, xs] = solution
    return result.astype(np.float32)


def poisson_blend_exact(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson blending by a direct sparse solve (reference implementation).

    Args:
        source: ``[H, W(, C)]`` the image whose gradients are kept inside the mask (I_r).
        target: same shape, the image kept outside the mask (I_t).
        mask: ``[H, W]`` boolean or soft (> 0.5 counts) region Ω.

    Returns:
        ``f``, same shape and dtype as ``source`` (rounded and clipped for integer dtypes).
    """
    src, tgt, inside = _prepare(source, target, mask)
    correction = _solve_laplace_exact(tgt - src, inside)
    return _finish(src, tgt, correction, inside, np.asarray(source))


def _neighbour_sum(values: np.ndarray) -> np.ndarray:
    """Sum of the 4 neighbours of every pixel (replicated border; border pixels are fixed)."""
    total = cv2.filter2D(values, -1, _NEIGHBOUR_KERNEL, borderType=cv2.BORDER_REPLICATE)
    return total.reshape(values.shape)


def _coarser_domain(inside: np.ndarray) -> np.ndarray:
    """Unknowns of the grid of half the resolution: pixels whose four children all are unknowns
    (odd sizes padded with known pixels), never on the coarse grid's border."""
    pad_y, pad_x = inside.shape[0] % 2, inside.shape[1] % 2
    padded = np.pad(inside, ((0, pad_y), (0, pad_x))) if pad_y or pad_x else inside
    h2, w2 = padded.shape[0] // 2, padded.shape[1] // 2
    coarse: np.ndarray = np.asarray(padded.reshape(h2, 2, w2, 2).all(axis=(1, 3)))
    coarse[0, :] = coarse[-1, :] = False
    coarse[:, 0] = coarse[:, -1] = False
    return coarse


class _Level:
    """One grid of the multigrid hierarchy: its unknowns and the masks the smoother needs."""

    def __init__(self, inside: np.ndarray) -> None:
        self.inside = inside
        self.shape = inside.shape
        self.count = int(np.count_nonzero(inside))
        parity = (np.arange(inside.shape[0])[:, None] + np.arange(inside.shape[1])) % 2 == 0
        self.red = (inside & parity).astype(np.uint8)
        self.black = (inside & ~parity).astype(np.uint8)
        self.outside = (~inside).astype(np.uint8)
        self.lu: Any = None

    def solve_exact(self, rhs: np.ndarray) -> np.ndarray:
        """``4 e - sum(neighbours) = rhs`` on the unknowns, ``e = 0`` elsewhere (LU cached)."""
        result = np.zeros_like(rhs)
        if self.count == 0:
            return result
        if self.lu is None:
            self.lu = splu(laplace_system(self.inside)[0])
        result[self.inside] = self.lu.solve(rhs[self.inside].astype(np.float64))
        return result


def _hierarchy(inside: np.ndarray, coarsest: int) -> list[_Level]:
    levels = [_Level(inside)]
    while min(levels[-1].shape) > coarsest and levels[-1].count > coarsest * coarsest // 4:
        levels.append(_Level(_coarser_domain(levels[-1].inside)))
    return levels


def _smooth(h: np.ndarray, rhs: np.ndarray | None, level: _Level, sweeps: int) -> None:
    """Red-black Gauss-Seidel sweeps of ``4 h - sum(neighbours) = rhs`` on the unknowns (in
    place; known pixels keep their values)."""
    for _ in range(sweeps):
        for colour in (level.red, level.black):
            total = _neighbour_sum(h)
            if rhs is not None:
                total += rhs
            total *= np.float32(0.25)
            cv2.copyTo(total, colour, h)


def _upsample(coarse: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bilinear 2x interpolation (cell-centred, as the 2x2 restriction), cut to ``shape``."""
    fine = cv2.resize(coarse, (2 * coarse.shape[1], 2 * coarse.shape[0]),
                      interpolation=cv2.INTER_LINEAR)
    return fine.reshape(2 * coarse.shape[0], 2 * coarse.shape[1], -1)[:shape[0], :shape[1]]


def _half(values: np.ndarray) -> np.ndarray:
    """2x2 average (an exact halving by area resampling): ``[H, W, C]`` with even H, W."""
    half = cv2.resize(values, (values.shape[1] // 2, values.shape[0] // 2),
                      interpolation=cv2.INTER_AREA)
    return half.reshape(values.shape[0] // 2, values.shape[1] // 2, -1)


def _restrict(values: np.ndarray) -> np.ndarray:
    """2x2 average (odd sizes padded with zeros): ``[H, W, C] -> [ceil(H/2), ceil(W/2), C]``."""
    pad_y, pad_x = values.shape[0] % 2, values.shape[1] % 2
    if pad_y or pad_x:
        values = cv2.copyMakeBorder(values, 0, pad_y, 0, pad_x, cv2.BORDER_CONSTANT, value=0)
    return _half(values.reshape(*values.shape[:2], -1))


def _v_cycle(h: np.ndarray, rhs: np.ndarray | None, levels: list[_Level], depth: int,
             sweeps: int) -> None:
    """One multigrid V-cycle for ``4 h - sum(neighbours) = rhs`` at ``levels[depth]`` (in place).

    Coarse-grid correction: the residual is restricted, the error equation is solved one level
    down (mesh size doubled, so its right-hand side is 4x the restricted residual) with zero
    error on known pixels, and the interpolated error is added to the unknowns.
    """
    level = levels[depth]
    if depth == len(levels) - 1:
        known = h.copy()
        cv2.copyTo(np.zeros_like(h), level.red | level.black, known)
        total = _neighbour_sum(known)
        if rhs is not None:
            total += rhs
        cv2.copyTo(level.solve_exact(total), level.red | level.black, h)
        return
    _smooth(h, rhs, level, sweeps)
    residual = _neighbour_sum(h) - 4.0 * h
    if rhs is not None:
        residual += rhs
    cv2.copyTo(np.zeros_like(residual), level.outside, residual)
    error = np.zeros_like(_restrict(residual))
    _v_cycle(error, 4.0 * _restrict(residual), levels, depth + 1, sweeps)
    correction = _upsample(error, level.shape)
    cv2.copyTo(np.zeros_like(correction), level.outside, correction)
    h += correction
    _smooth(h, rhs, level, sweeps)


def _restrict_boundary(values: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Boundary values of the half-resolution Dirichlet problem: per coarse pixel, the mean of
    its children with known values (odd sizes padded by repeating the edge)."""
    known: np.ndarray = (~inside).astype(np.float32)
    pad_y, pad_x = inside.shape[0] % 2, inside.shape[1] % 2
    if pad_y or pad_x:
        known = cv2.copyMakeBorder(known, 0, pad_y, 0, pad_x, cv2.BORDER_CONSTANT, value=1)
        values = cv2.copyMakeBorder(values, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
    values = values.reshape(*known.shape, -1)
    total = _half(values * known[..., None])
    count = _half(known[..., None])
    return (total / np.maximum(count, np.float32(0.25))).astype(np.float32)


def _full_multigrid(boundary: np.ndarray, levels: list[_Level], depth: int, sweeps: int,
                    cycles: int) -> np.ndarray:
    """Harmonic ``h`` on ``levels[depth]``'s unknowns, ``h = boundary`` on the known pixels.

    The same Dirichlet problem is first solved at half resolution (recursively), its solution
    interpolated as the starting guess, then refined by ``cycles`` V-cycles at this resolution.
    """
    level = levels[depth]
    h = boundary.astype(np.float32, copy=True)
    if depth == len(levels) - 1:
        _v_cycle(h, None, levels, depth, sweeps)  # the coarsest V-cycle is the direct solve
        return h
    coarse = _full_multigrid(_restrict_boundary(boundary, level.inside), levels, depth + 1,
                             sweeps, cycles)
    cv2.copyTo(_upsample(coarse, level.shape), level.red | level.black, h)
    for _ in range(cycles):
        _v_cycle(h, None, levels, depth, sweeps)
    return h


def _solve_laplace_multigrid(boundary: np.ndarray, inside: np.ndarray, coarsest: int,
                             sweeps: int, cycles: int) -> np.ndarray:
    """Harmonic ``h`` on ``inside``, ``h = boundary`` elsewhere: ``[H, W, C]`` float32."""
    return _full_multigrid(boundary, _hierarchy(inside, coarsest), 0, sweeps, cycles)


def poisson_blend(source: np.ndarray, target: np.ndarray, mask: np.ndarray,
                  method: PoissonMethod = "multigrid", coarsest: int = 32,
                  sweeps: int = 2, cycles: int = 2,
                  boundary_clip: float | None = None,
                  boundary_trust: np.ndarray | None = None) -> np.ndarray:
    """Poisson blending: ``∇f = ∇source`` inside ``mask``, ``f = target`` outside.

    Only the mask's bounding box (plus a one-pixel ring) is solved.

    Args:
        source: ``[H, W(, C)]`` guidance image (the swapped face, I_r).
        target: same shape (the target frame crop, I_t).
        mask: ``[H, W]`` boolean or soft (> 0.5 counts) region Ω.
        method: ``"multigrid"`` (fast) or ``"exact"`` (sparse direct solve).
        coarsest: grid side at or below which the multigrid solves directly.
        sweeps: red-black Gauss-Seidel sweeps before and after each coarse-grid correction.
        cycles: multigrid V-cycles.
        boundary_clip: if set, robust boundary: per channel, the boundary differences
            ``target - source`` on the ring around the mask are clipped to their median
            ± ``boundary_clip`` robust deviations (1.4826 MAD), so that a few boundary pixels
            unlike the rest (a strand of hair, an edge of glasses) do not bleed their colour
            into the whole region. ``None``: the exact Poisson boundary condition.
        boundary_trust: optional ``[H, W]`` weight in ``[0, 1]`` of each boundary pixel (e.g.
            how surely both images show skin there). The ring's statistics come from the
            trusted pixels (>= 0.5), and each difference is pulled towards their median by
            ``1 - trust``: where the target or the source shows hair, background or an open
            mouth, its colour is not diffused into the face; the correction there is the one
            the trusted boundary agrees on. Needs ``boundary_clip``.

    Returns:
        ``f``, same shape and dtype as ``source``.
    """
    if method not in ("multigrid", "exact"):
        raise ValueError(f"unknown Poisson method {method!r}; valid: 'multigrid', 'exact'")
    src, tgt, inside = _prepare(source, target, mask)
    like = np.asarray(source)
    if not inside.any():
        return _finish(src, tgt, np.zeros_like(src), inside, like)
    ys, xs = np.nonzero(inside)
    y0, y1 = max(ys.min() - 1, 0), min(ys.max() + 2, inside.shape[0])
    x0, x1 = max(xs.min() - 1, 0), min(xs.max() + 2, inside.shape[1])
    boundary = tgt[y0:y1, x0:x1] - src[y0:y1, x0:x1]
    box_inside = inside[y0:y1, x0:x1]
    if boundary_trust is not None and boundary_clip is None:
        raise ValueError("boundary_trust needs boundary_clip (the robust boundary)")
    if boundary_clip is not None:
        trust = None if boundary_trust is None else np.asarray(
            boundary_trust, np.float32)[y0:y1, x0:x1]
        boundary = clip_boundary(boundary, box_inside, boundary_clip, trust)
    if method == "exact":
        box = _solve_laplace_exact(boundary, box_inside)
    else:
        box = _solve_laplace_multigrid(boundary, box_inside, coarsest, sweeps, cycles)
    correction = np.zeros_like(src)
    correction[y0:y1, x0:x1] = box
    return _finish(src, tgt, correction, inside, like)


def boundary_ring(inside: np.ndarray) -> np.ndarray:
    """Boolean: the known pixels 4-adjacent to the region (where the boundary values act)."""
    cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)
    return cv2.dilate(inside.astype(np.uint8), cross).astype(bool) & ~inside


def clip_boundary(boundary: np.ndarray, inside: np.ndarray, deviations: float,
                  trust: np.ndarray | None = None) -> np.ndarray:
    """``boundary`` (``[H, W, C]``) with its ring values clipped to median ± ``deviations``
    robust standard deviations per channel (at least 2 grey levels).

    With ``trust`` (``[H, W]`` in ``[0, 1]``), median and spread come from the ring pixels
    trusted at >= 0.5 (all of them if fewer than 8 are), and every ring value is then moved
    towards the median by ``1 - trust``.
    """
    ring = boundary_ring(inside)
    if ring.sum() < 8:
        return boundary
    values = boundary[ring]
    weight = None if trust is None else np.clip(np.asarray(trust)[ring], 0.0, 1.0)
    reference = values
    if weight is not None and np.count_nonzero(weight >= 0.5) >= 8:
        reference = values[weight >= 0.5]
    median = np.median(reference, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(reference - median), axis=0), 2.0)
    limited = np.clip(values, median - deviations * spread, median + deviations * spread)
    if weight is not None:
        limited = median + weight[:, None].astype(np.float32) * (limited - median)
    clipped = boundary.copy()
    clipped[ring] = limited
    return clipped


def laplacian(image: np.ndarray) -> np.ndarray:
    """Discrete 5-point Laplacian ``[H, W(, C)] -> float32`` (replicated border), for checks and
    losses: ``Δf = Δsource`` holds inside the mask of a Poisson blend."""
    kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32)
    return cv2.filter2D(np.asarray(image, np.float32), -1, kernel,
                        borderType=cv2.BORDER_REPLICATE)
