"""The dataset's manipulation methods: the swap pipeline's presets, each a set of stage choices.

A dataset method names how the fake was made. ``openfsgan-<method>`` is its folder in
``manipulated_sequences`` and its label in the labels table, and the per-video metadata
records the stage choices, so a detector can be tested on methods it never saw in training.
"""

from __future__ import annotations

from dataclasses import dataclass

from openfsgan.errors import ConfigError


@dataclass(frozen=True)
class DatasetMethod:
    """One way of making a fake.

    Attributes:
        name: the dataset's name of the method (folder ``openfsgan-<name>``).
        preset: the job's method (:data:`openfsgan.jobs.METHODS`).
        stages: the implementation chosen for each pipeline stage (for the metadata).
        description: one line for ``--help`` and the docs.
    """

    name: str
    preset: str
    stages: tuple[tuple[str, str], ...]
    description: str

    def stage_choices(self) -> dict[str, str]:
        return dict(self.stages)


DATASET_METHODS: dict[str, DatasetMethod] = {
    method.name: method for method in (
        DatasetMethod("classic", "classic",
                      (("reenactment", "warp"), ("segmentation", "landmarks"),
                       ("inpainting", "none"), ("blending", "poisson")),
                      "mesh warp of the source views, landmark face hull, Poisson blending"),
        DatasetMethod("neural", "neural",
                      (("reenactment", "neural"), ("segmentation", "neural"),
                       ("inpainting", "neural"), ("blending", "neural")),
                      "the four shipped generators G_r, G_s, G_c, G_b (ONNX Runtime)"),
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
