"""The one explicit registry of trainable networks: name -> (module class, config class).

``build_model("blending", {"base_channels": 8})`` builds a model from its name and plain options;
an unknown name fails listing the valid ones. Checkpoints record the same name
(:mod:`openfsgan.models.checkpoint`), so a model's type is never guessed from tensor shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from torch import nn

from openfsgan.config import Config
from openfsgan.errors import ConfigError
from openfsgan.models.blending import BlendingConfig, BlendingGenerator
from openfsgan.models.inpainting import InpaintingConfig, InpaintingGenerator
from openfsgan.models.reenactment import ReenactmentConfig, ReenactmentGenerator
from openfsgan.models.segmentation import SegmentationConfig, SegmentationNet
from openfsgan.nn.discriminator import DiscriminatorConfig, MultiScaleDiscriminator


class ModelEntry(NamedTuple):
    model_class: type[nn.Module]
    config_class: type[Config]


_MODELS: dict[str, ModelEntry] = {
    "reenactment": ModelEntry(ReenactmentGenerator, ReenactmentConfig),
    "segmentation": ModelEntry(SegmentationNet, SegmentationConfig),
    "inpainting": ModelEntry(InpaintingGenerator, InpaintingConfig),
    "blending": ModelEntry(BlendingGenerator, BlendingConfig),
    "discriminator": ModelEntry(MultiScaleDiscriminator, DiscriminatorConfig),
}


def model_names() -> list[str]:
    """Names accepted by :func:`build_model`, in the method's order."""
    return list(_MODELS)


def _entry(name: str) -> ModelEntry:
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; valid models: "
                          f"{', '.join(_MODELS)}") from None


def config_class(name: str) -> type[Config]:
    """The frozen-dataclass config class of model ``name``."""
    return _entry(name).config_class


def build_model(name: str, config: Config | Mapping[str, Any] | None = None, *,
                preset: str | None = None) -> nn.Module:
    """Build model ``name`` from a config object or plain options.

    Args:
        name: one of :func:`model_names`.
        config: a config instance, a mapping of options (validated; unknown keys fail), or
            ``None`` for the defaults. With ``preset``, a mapping overrides the preset's values.
        preset: ``"default"`` or a named preset of the config class (e.g. ``"tiny"``).

    Raises:
        ConfigError: unknown name, preset or option, or an invalid value.
    """
    entry = _entry(name)
    if preset is not None:
        if isinstance(config, Config):
            raise ConfigError("give either a config object or a preset, not both")
        config = entry.config_class.preset(preset, **dict(config or {}))
    return entry.model_class(entry.config_class.resolve(config))


def model_name_of(model: nn.Module) -> str:
    """The registry name of ``model``'s class (for checkpoints)."""
    for name, entry in _MODELS.items():
        if type(model) is entry.model_class:
            return name
    raise ConfigError(f"{type(model).__name__} is not a registered model; registered: "
                      f"{', '.join(e.model_class.__name__ for e in _MODELS.values())}")
