"""The method's networks: G_r, G_s, G_c, G_b and the multi-scale discriminator.

Build them by name through :func:`build_model`; save and load with :func:`save_pretrained` /
:func:`load_pretrained` (config.json + model.safetensors).
"""

from openfsgan.models.blending import BlendingConfig, BlendingGenerator
from openfsgan.models.checkpoint import load_pretrained, save_pretrained
from openfsgan.models.common import GeneratorConfig
from openfsgan.models.inpainting import InpaintingConfig, InpaintingGenerator
from openfsgan.models.reenactment import (
    ReenactmentComponents,
    ReenactmentConfig,
    ReenactmentGenerator,
    ReenactmentOutput,
)
from openfsgan.models.registry import build_model, config_class, model_names
from openfsgan.models.segmentation import (
    SEGMENTATION_CLASSES,
    SegmentationConfig,
    SegmentationNet,
)
from openfsgan.nn.discriminator import DiscriminatorConfig, MultiScaleDiscriminator

__all__ = [
    "SEGMENTATION_CLASSES",
    "BlendingConfig",
    "BlendingGenerator",
    "DiscriminatorConfig",
    "GeneratorConfig",
    "InpaintingConfig",
    "InpaintingGenerator",
    "MultiScaleDiscriminator",
    "ReenactmentComponents",
    "ReenactmentConfig",
    "ReenactmentGenerator",
    "ReenactmentOutput",
    "SegmentationConfig",
    "SegmentationNet",
    "build_model",
    "config_class",
    "load_pretrained",
    "model_names",
    "save_pretrained",
]
