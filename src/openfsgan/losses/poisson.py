"""Poisson-blending target of G_b, solved in batch with conjugate gradients in torch.

FSGAN's blending loss compares G_b's output with the Poisson blending of the reenacted face into
the target: the image ``f`` whose gradients equal the reenacted face's gradients inside the mask
``Ω`` and which equals the target outside (Pérez et al. 2003)::

    Δf = Δ I_r   on Ω,        f = I_t   outside Ω.

Discretised with the 4-neighbour Laplacian, for every pixel ``p ∈ Ω``::

    4 f_p − Σ_{q ∈ N(p) ∩ Ω} f_q = Σ_{q ∈ N(p)} (g_p − g_q) + Σ_{q ∈ N(p) \\ Ω} t_q

a symmetric positive-definite system in the unknowns of ``Ω``, solved here for all images and
channels at once with conjugate gradients (each iteration is a few shifted additions), started
from a coarse-to-fine initial guess so that a 256² face mask converges in ~100 iterations.
The target is a constant of the loss: no gradients flow through the solver.
"""

from __future__ import annotations

import logging

import torch
from torch.nn import functional as F

logger = logging.getLogger(__name__)


def _neighbour_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of the 4 neighbours of every pixel, zero beyond the image border."""
    padded = F.pad(x, (1, 1, 1, 1))
    return (padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1]
            + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:])


def _interior_mask(mask: torch.Tensor) -> torch.Tensor:
    """Binarise ``mask`` (> 0.5) and clear its 1-pixel image border, so Ω has 4 neighbours."""
    region = (mask > 0.5).to(mask.dtype)
    region[..., 0, :] = 0
    region[..., -1, :] = 0
    region[..., :, 0] = 0
    region[..., :, -1] = 0
    return region


def _solve(guidance: torch.Tensor, target: torch.Tensor, region: torch.Tensor,
           initial: torch.Tensor, tolerance: float, max_iterations: int) -> torch.Tensor:
    """Conjugate gradients on the masked Laplacian; returns the solution on Ω (0 elsewhere)."""
    outside = 1.0 - region

    def apply_laplacian(x: torch.Tensor) -> torch.Tensor:
        return region * (4.0 * x - _neighbour_sum(x))

    rhs = region * (4.0 * guidance - _neighbour_sum(guidance) + _neighbour_sum(target * outside))
    x = initial * region
    residual = rhs - apply_laplacian(x)
    direction = residual.clone()
    dims = (-2, -1)
    rs = (residual * residual).sum(dims, keepdim=True)
    rhs_norm = (rhs * rhs).sum(dims, keepdim=True).sqrt().clamp_min(1e-12)
    for iteration in range(max_iterations):
        if iteration % 10 == 0 and bool((rs.sqrt() / rhs_norm <= tolerance).all()):
            break
        step = apply_laplacian(direction)
        curvature = (direction * step).sum(dims, keepdim=True)
        alpha = torch.where(curvature > 0, rs / curvature.clamp_min(1e-30),
                            torch.zeros_like(rs))
        x = x + alpha * direction
        residual = residual - alpha * step
        rs_next = (residual * residual).sum(dims, keepdim=True)
        beta = torch.where(rs > 0, rs_next / rs.clamp_min(1e-30), torch.zeros_like(rs))
        direction = residual + beta * direction
        rs = rs_next
    else:
        logger.debug("Poisson CG stopped at %d iterations, relative residual %.2e",
                     max_iterations, float((rs.sqrt() / rhs_norm).max()))
    return x * region


@torch.no_grad()
def poisson_blend_target(reenacted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                         tolerance: float = 1e-5, max_iterations: int = 300,
                         coarse_to_fine: bool = True) -> torch.Tensor:
    """The Poisson blending of ``reenacted`` into ``target`` inside ``mask`` (no gradients).

    Args:
        reenacted: ``[B,C,H,W]`` whose gradients are kept inside the mask.
        target: ``[B,C,H,W]`` kept outside the mask (and on the Dirichlet boundary).
        mask: ``[B,1,H,W]``, binarised at 0.5; the image's outermost pixels never count as
            inside (every pixel of Ω needs 4 neighbours).
        tolerance: relative residual ``‖b − A f‖ / ‖b‖`` at which CG stops.
        max_iterations: CG iteration cap per resolution level.
        coarse_to_fine: start from the solution at half resolution (recursively), which cuts
            the iterations on 128-256² crops several-fold.

    Returns:
        ``[B,C,H,W]`` equal to ``target`` outside Ω, satisfying ``Δf = Δ reenacted`` on Ω.
    """
    if reenacted.shape != target.shape or reenacted.ndim != 4:
        raise ValueError(f"reenacted and target must be equal [B,C,H,W], got "
                         f"{list(reenacted.shape)} and {list(target.shape)}")
    mask_shape = (reenacted.shape[0], 1, *reenacted.shape[2:])
    if mask.shape != mask_shape:
        raise ValueError(f"mask must be [B,1,H,W] = {list(mask_shape)}, got {list(mask.shape)}")
    dtype = reenacted.dtype if reenacted.dtype in (torch.float32, torch.float64) else torch.float32
    guidance, known = reenacted.to(dtype), target.to(dtype)
    region = _interior_mask(mask.to(dtype))
    initial = _initial_guess(guidance, known, mask.to(dtype), tolerance, max_iterations,
                             coarse_to_fine)
    # solve only on the bounding box of Ω (plus its boundary ring): faces rarely fill the crop
    rows = torch.nonzero(region.amax(dim=(0, 1, 3)))
    cols = torch.nonzero(region.amax(dim=(0, 1, 2)))
    if len(rows) == 0:
        return target.clone()
    box = (..., slice(int(rows[0]) - 1, int(rows[-1]) + 2), slice(int(cols[0]) - 1,
                                                              int(cols[-1]) + 2))
    result = known * (1.0 - region)
    result[box] += _solve(guidance[box], known[box], region[box], initial[box], tolerance,
                          max_iterations)
    return result.to(reenacted.dtype)


def _initial_guess(guidance: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                   tolerance: float, max_iterations: int, coarse_to_fine: bool) -> torch.Tensor:
    """The guidance plus the upsampled coarse solution's correction (or the guidance alone)."""
    height, width = guidance.shape[-2:]
    if not coarse_to_fine or min(height, width) < 32:
        return guidance
    # The solution is the guidance plus a smooth membrane; solve at half resolution and carry
    # its correction (solution − guidance) up.
    small = [F.avg_pool2d(x, 2, ceil_mode=True) for x in (guidance, target, mask)]
    coarse = poisson_blend_target(small[0], small[1], small[2], tolerance, max_iterations)
    correction = F.interpolate(coarse - small[0], size=(height, width), mode="bilinear",
                               align_corners=False)
    return guidance + correction
