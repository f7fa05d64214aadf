"""Poisson blending: the own solvers against closed-form cases, each other, and OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from openfsgan.geometry.poisson import (
    boundary_ring,
    clip_boundary,
    laplace_system,
    laplacian,
    poisson_blend,
    poisson_blend_exact,
)

SIZE = 72


def _disc(size: int = SIZE, radius: int = 24) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, (size // 2, size // 2 + 3), radius, 255, -1)
    return mask


def _grid() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    return xx, yy


@pytest.mark.parametrize("method", ["exact", "multigrid"])
def test_constant_gradient_source_reproduces_a_target_with_that_gradient(method: str) -> None:
    xx, yy = _grid()
    source = 0.7 * xx - 0.3 * yy + 5.0  # same gradient as the target, different level
    target = 0.7 * xx - 0.3 * yy + 60.0
    result = poisson_blend(source, target, _disc(), method=method)
    np.testing.assert_allclose(result, target, atol=1e-2)


@pytest.mark.parametrize(("method", "tolerance"), [("exact", 0.01), ("multigrid", 0.5)])
def test_zero_guidance_gives_the_harmonic_interpolant(method: str, tolerance: float) -> None:
    xx, yy = _grid()
    # x^2 - y^2 is exactly harmonic for the 5-point Laplacian
    target = np.stack([(xx - 36) ** 2 - (yy - 36) ** 2, 3 * xx + yy], axis=-1) / 10.0
    result = poisson_blend(np.zeros_like(target), target, _disc(), method=method)
    np.testing.assert_allclose(result, target, atol=tolerance)


def test_exact_solution_satisfies_the_equation_and_the_boundary() -> None:
    rng = np.random.default_rng(0)
    source = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE, SIZE, 3)).astype(np.float32), (0, 0), 2)
    target = rng.uniform(0, 255, (SIZE, SIZE, 3)).astype(np.float32)
    mask = _disc()
    result = poisson_blend_exact(source, target, mask)
    # outside the mask: the target, untouched
    np.testing.assert_array_equal(result[mask == 0], target[mask == 0])
    # inside: the Laplacian of the source (the guidance field's divergence)
    inside = mask > 0
    np.testing.assert_allclose(laplacian(result)[inside], laplacian(source)[inside], atol=2e-3)


def test_multigrid_agrees_with_the_direct_solve() -> None:
    rng = np.random.default_rng(1)
    source = cv2.GaussianBlur(rng.uniform(0, 255, (97, 83, 3)).astype(np.float32), (0, 0), 1.5)
    target = cv2.GaussianBlur(rng.uniform(0, 255, (97, 83, 3)).astype(np.float32), (0, 0), 4)
    mask = np.zeros((97, 83), np.uint8)
    cv2.ellipse(mask, (40, 50), (30, 38), 15, 0, 360, 255, -1)
    exact = poisson_blend_exact(source, target, mask)
    fast = poisson_blend(source, target, mask, coarsest=12)
    difference = np.abs(fast - exact)
    assert difference.mean() < 0.3 and difference.max() < 3.0
    # more V-cycles converge further
    finer = poisson_blend(source, target, mask, coarsest=12, cycles=4)
    assert np.abs(finer - exact).max() < difference.max()


def test_close_to_opencv_seamless_clone() -> None:
    xx, yy = _grid()
    radius = np.hypot(xx - 36, yy - 39)
    # moderate source gradients: OpenCV discretises the boundary edges differently (half of
    # them take the target's gradient), a difference that grows with the gradients there
    source = np.stack([120 + 10 * np.cos(radius / 8),
                       100 + 10 * np.sin(xx / 6) * np.exp(-((radius / 14) ** 2)),
                       90 + 0 * xx], -1).astype(np.uint8)
    target = np.stack([60 + 0.5 * xx, 150 - 0.4 * yy, 80 + 0.2 * (xx + yy)], -1).astype(np.uint8)
    mask = _disc()
    x, y, w, h = cv2.boundingRect(mask)
    # OpenCV writes into its arguments: hand it copies
    opencv = cv2.seamlessClone(source.copy(), target.copy(), mask.copy(),
                               (x + w // 2, y + h // 2), cv2.NORMAL_CLONE).astype(float)
    core = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
    for method in ("exact", "multigrid"):
        ours = poisson_blend(source, target, mask, method=method)
        assert ours.dtype == np.uint8
        difference = np.abs(ours - opencv)[core]
        assert difference.mean() < 2.0 and difference.max() <= 6
    # both are far from a plain paste of the source
    assert np.abs(source - opencv)[core].mean() > 10.0


def test_robust_boundary_clips_outlying_boundary_values() -> None:
    source = np.full((SIZE, SIZE), 100.0, np.float32)
    target = np.full((SIZE, SIZE), 120.0, np.float32)
    mask = _disc()
    ring = boundary_ring(mask > 0)
    ys, xs = np.nonzero(ring)
    target[ys[:6], xs[:6]] = 0.0  # a dark strand of hair crossing the outline
    plain = poisson_blend(source, target, mask)
    robust = poisson_blend(source, target, mask, boundary_clip=2.5)
    inside = mask > 0
    # the plain solution darkens the region near the strand, the robust one does not
    # (the strand's values are clipped to the 2-grey-level floor of the spread: 120 - 5)
    assert plain[inside].min() < 90.0
    assert robust[inside].min() > 114.0 and np.median(robust[inside]) > 119.5
    assert clip_boundary(np.zeros((4, 4, 1)), np.zeros((4, 4), bool), 1.0).shape == (4, 4, 1)


def test_untrusted_boundary_takes_the_trusted_median() -> None:
    """A long stretch of foreign colour on the boundary (hair at a temple, a red flag) is too
    much of the ring for clipping alone; trust marks it and it no longer leaks in."""
    source = np.full((SIZE, SIZE, 3), 100.0, np.float32)
    target = np.full((SIZE, SIZE, 3), 120.0, np.float32)
    mask = _disc()
    left = np.zeros((SIZE, SIZE), bool)
    left[:, : SIZE // 2 - 8] = True
    # skin with texture (a robust spread of ~8 grey levels), a red stretch on its left
    target += np.random.default_rng(0).normal(0.0, 8.0, target.shape).astype(np.float32)
    target[left] = (230.0, 60.0, 60.0)
    trust = np.where(left, 0.0, 1.0).astype(np.float32)
    clipped = poisson_blend(source, target, mask, boundary_clip=2.5)
    trusted = poisson_blend(source, target, mask, boundary_clip=2.5, boundary_trust=trust)
    near_left = (mask > 0) & np.roll(left, 6, axis=1)
    red_shift = lambda image: float(np.mean(image[near_left][:, 0]) - 120.0)  # noqa: E731
    assert red_shift(clipped) > 10.0  # clipping alone lets the red stretch bleed in
    assert abs(red_shift(trusted)) < 3.0  # trusted: the median difference stands in
    # half trust: half way between the clipped difference and the median
    half = clip_boundary(np.full((8, 8, 1), 10.0, np.float32), np.pad(np.ones((4, 4), bool), 2),
                         100.0, np.full((8, 8), 0.5, np.float32))
    ring = boundary_ring(np.pad(np.ones((4, 4), bool), 2))
    assert np.allclose(half[ring], 10.0)  # all equal: the median is the value itself
    with pytest.raises(ValueError, match="boundary_clip"):
        poisson_blend(source, target, mask, boundary_trust=trust)


def test_grayscale_empty_mask_and_border_mask() -> None:
    source = np.full((20, 20), 50, np.uint8)
    target = np.full((20, 20), 90, np.uint8)
    assert np.array_equal(poisson_blend(source, target, np.zeros((20, 20), bool)), target)
    # a mask covering everything: the image border still carries the target's values
    result = poisson_blend(source, target, np.ones((20, 20), bool))
    assert result.shape == (20, 20) and np.abs(result.astype(int) - 90).max() <= 1


def test_laplace_system_shape() -> None:
    inside = np.zeros((5, 5), bool)
    inside[1:4, 1:4] = True
    matrix, index = laplace_system(inside)
    assert matrix.shape == (9, 9) and index.max() == 8
    dense = matrix.toarray()
    assert (np.diag(dense) == 4).all() and dense[index[2, 2]].sum() == 0  # centre: 4 - 4 x 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="must be equal"):
        poisson_blend(np.zeros((4, 4)), np.zeros((5, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="unknown Poisson method"):
        poisson_blend(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4)), method="fft")  # type: ignore[arg-type]
