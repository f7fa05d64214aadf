"""The batched CG Poisson solver against a direct sparse solve and the equations themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import sparse
from scipy.sparse import linalg

from openfsgan.losses import poisson_blend_target


def _ellipse_mask(height: int, width: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    inside = ((yy - height / 2) / (height / 3)) ** 2 + ((xx - width / 2) / (width / 3)) ** 2 < 1
    return inside.to(torch.float64)[None, None]


def _laplacian(x: torch.Tensor) -> torch.Tensor:
    """4-neighbour Laplacian on the interior pixels ([..., H-2, W-2])."""
    return (4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1]
            - x[..., 1:-1, :-2] - x[..., 1:-1, 2:])


def _direct_solve(guidance: np.ndarray, target: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Assemble the 4-neighbour Poisson system on ``inside`` and solve it with SuperLU."""
    ys, xs = np.nonzero(inside)
    index = -np.ones(inside.shape, dtype=int)
    index[ys, xs] = np.arange(len(ys))
    rows, cols, values, rhs = [], [], [], np.zeros(len(ys))
    for k, (y, x) in enumerate(zip(ys, xs, strict=True)):
        rows.append(k)
        cols.append(k)
        values.append(4.0)
        for qy, qx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
            rhs[k] += guidance[y, x] - guidance[qy, qx]
            if inside[qy, qx]:
                rows.append(k)
                cols.append(index[qy, qx])
                values.append(-1.0)
            else:
                rhs[k] += target[qy, qx]
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(len(ys), len(ys)))
    solution = target.copy()
    solution[ys, xs] = linalg.spsolve(matrix, rhs)
    return solution


@pytest.mark.parametrize("size", [(12, 14), (40, 36)])
def test_matches_a_direct_sparse_solve(size):
    generator = torch.Generator().manual_seed(0)
    guidance = torch.rand(2, 3, *size, generator=generator, dtype=torch.float64)
    target = torch.rand(2, 3, *size, generator=generator, dtype=torch.float64)
    mask = _ellipse_mask(*size).expand(2, 1, *size)
    result = poisson_blend_target(guidance, target, mask, tolerance=1e-12, max_iterations=5000)
    inside = mask[0, 0].numpy() > 0.5
    for b in range(2):
        for c in range(3):
            expected = _direct_solve(guidance[b, c].numpy(), target[b, c].numpy(), inside)
            np.testing.assert_allclose(result[b, c].numpy(), expected, atol=1e-8)


def test_boundary_values_and_laplace_equation_at_crop_size():
    size = (96, 80)
    generator = torch.Generator().manual_seed(1)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 96, 80, generator=generator), 9,
                                            stride=1, padding=4)
    guidance, target = smooth * 2 - 1, torch.rand(1, 3, *size, generator=generator) * 2 - 1
    mask = _ellipse_mask(*size).float()
    result = poisson_blend_target(guidance, target, mask)
    outside = mask == 0
    assert torch.equal(result[outside.expand_as(result)], target[outside.expand_as(target)])
    inside = mask[..., 1:-1, 1:-1].bool().expand(1, 3, 94, 78)
    residual = (_laplacian(result) - _laplacian(guidance))[inside]
    assert residual.abs().max() < 1e-3
    assert not result.requires_grad


def test_same_gradients_reproduce_the_target():
    """If the guidance is the target plus a constant, the blend is exactly the target."""
    target = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    result = poisson_blend_target(target + 0.3, target, _ellipse_mask(32, 32), tolerance=1e-12,
                                  max_iterations=3000)
    torch.testing.assert_close(result, target)


def test_empty_mask_and_shape_errors():
    target = torch.rand(1, 3, 16, 16)
    assert torch.equal(poisson_blend_target(torch.rand(1, 3, 16, 16), target,
                                            torch.zeros(1, 1, 16, 16)), target)
    with pytest.raises(ValueError, match="mask must be"):
        poisson_blend_target(target, target, torch.zeros(1, 3, 16, 16))
