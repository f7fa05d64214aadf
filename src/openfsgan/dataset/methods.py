"""The dataset's manipulation methods: the swap pipeline's presets and named stage combinations.

A dataset method names how a fake was made: a preset of the pipeline
(:data:`openfsgan.pipelines.config.METHOD_STAGES`) with some stages swapped for another
implementation. ``openfsgan-<method>`` is its folder in ``manipulated_sequences`` and its label
in the labels table, and the per-video metadata records its stage choices and resolved
configuration, so a detector can be trained on some methods and tested on others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from openfsgan.errors import ConfigError

if TYPE_CHECKING:
    from openfsgan.pipelines.config import SwapConfig


@dataclass(frozen=True)
class DatasetMethod:
    """One way of making a fake.

    Attributes:
        name: the dataset's name of the method (folder ``openfsgan-<name>``).
        preset: the pipeline preset it starts from (``classic`` or ``neural``).
        changes: the stages whose implementation differs from the preset's.
        description: one line for the docs.
    """

    name: str
    preset: str
    changes: tuple[tuple[str, str], ...]
    description: str

    def swap_config(self) -> SwapConfig:
        """The pipeline configuration: the preset, then the changed stages."""
        from openfsgan.pipelines.config import resolve_config

        return resolve_config(method=self.preset, config=dict(self.changes))

    def stage_choices(self) -> dict[str, str]:
        """Stage -> implementation, all four stages."""
        return self.swap_config().stages


DATASET_METHODS: dict[str, DatasetMethod] = {
    method.name: method for method in (
        DatasetMethod("classic", "classic", (),
                      "mesh warp of the source views, landmark face mask, Poisson blending"),
        DatasetMethod("neural", "neural", (),
                      "the four shipped generators G_r, G_s, G_c, G_b"),
        DatasetMethod("classic-alpha", "classic", (("blending", "alpha"),),
                      "classic without blending: the face pasted through its soft mask"),
        DatasetMethod("classic-gb", "classic", (("blending", "neural"),),
                      "classic with the learned blending G_b instead of Poisson"),
        DatasetMethod("neural-poisson", "neural", (("blending", "poisson"),),
                      "neural with Poisson blending instead of G_b"),
        DatasetMethod("neural-noinpaint", "neural", (("inpainting", "none"),),
                      "neural without inpainting (G_c skipped)"),
    )
}


def parse_methods(text: str) -> tuple[str, ...]:
    """``"classic,neural"`` -> the method names, checked, duplicates dropped, order kept."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise ConfigError("--methods needs at least one method")
    for name in names:
        if name not in DATASET_METHODS:
            raise ConfigError(f"unknown method {name!r}; available: "
                              f"{', '.join(DATASET_METHODS)}")
    return names
