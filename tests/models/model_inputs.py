"""Example inputs for every registered model (tiny presets: 64²) and a weight perturbation."""

from __future__ import annotations

import torch

SIZE = 64


def example_inputs(name: str, batch: int = 2, size: int = SIZE, seed: int = 0
                   ) -> tuple[torch.Tensor, ...]:
    """Random inputs of the right shapes for model ``name`` (images in [-1, 1], binary masks)."""
    generator = torch.Generator().manual_seed(seed)

    def image() -> torch.Tensor:
        return torch.rand(batch, 3, size, size, generator=generator) * 2 - 1

    def mask() -> torch.Tensor:
        return (torch.rand(batch, 1, size, size, generator=generator) > 0.5).float()

    if name == "reenactment":
        return image(), torch.rand(batch, 68, size, size, generator=generator)
    if name in ("segmentation", "discriminator"):
        return (image(),)
    if name == "inpainting":
        return image(), mask()
    if name == "blending":
        return image(), image(), mask()
    raise KeyError(name)


def perturb_parameters(model: torch.nn.Module, scale: float = 0.05, seed: int = 1) -> None:
    """Add noise to every parameter so zero-initialised heads produce non-trivial outputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)
