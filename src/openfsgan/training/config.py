"""Typed training configuration: one YAML file per run, validated, saved beside the run.

A config names the stage, the data resolution and batch, the loop's cadence (checkpoints, logs,
previews), the optimiser (Adam, lr 2e-4, betas (0.5, 0.999) as in FSGAN), the loss weights of
the method (λ_perc = 1, λ_pixel = 0.1, λ_adv = 0.001, λ_seg = 0.1, λ_stepwise = 1, λ_reenact
ramped 0 → 1) and the networks (a registry preset plus option overrides). ``configs/*.yaml``
holds a tiny (CPU smoke) and a full preset per stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from openfsgan.config import Config, check_positive, check_range
from openfsgan.data.augment import RecolourConfig
from openfsgan.data.dataset import AugmentConfig
from openfsgan.data.occlusion import OcclusionConfig
from openfsgan.errors import ConfigError
from openfsgan.stages import StageName


@dataclass(frozen=True)
class ModelSpec(Config):
    """A network of the registry: a preset (``default``, ``tiny``) and option overrides.

    Attributes:
        preset: a preset of the model's config class.
        options: mapping of config options overriding the preset (validated by the model's
            config class when the training config is built).
    """

    # the field shadows Config.preset (a classmethod) on this class only; nothing calls it here
    preset: str = "default"  # type: ignore[assignment]
    options: Any = None

    def build_config(self, model_name: str) -> Config:
        """The model's validated config object."""
        from openfsgan.models.registry import config_class

        options = self.options if self.options is not None else {}
        if not isinstance(options, dict):
            raise ConfigError(f"options of {model_name} must be a mapping, got {options!r}")
        return config_class(model_name).preset(self.preset, **options)


@dataclass(frozen=True)
class OptimizerConfig(Config):
    """Adam options (one optimiser per trained network)."""

    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        check_positive(self, "lr")
        check_positive(self, "weight_decay", allow_zero=True)
        check_range(self, "beta1", 0.0, 0.9999)
        check_range(self, "beta2", 0.0, 0.9999)

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)


@dataclass(frozen=True)
class LossConfig(Config):
    """Loss weights and their schedule (FSGAN's values are the defaults).

    Attributes:
        perceptual: feature network of the perceptual term: ``dlib`` (the dlib ResNet face
            descriptor, shipped), ``vgg19`` (needs ``--vgg-weights``) or ``none``.
        lambda_perc: perceptual term of L_rec.
        lambda_pixel: L1 term of L_rec.
        lambda_rec: L_rec of the direct result (reenactment, inpainting, blending).
        lambda_stepwise: L_rec of the result of the iterative reenactment.
        lambda_adv: generator adversarial term.
        lambda_seg: segmentation term of G_r.
        lambda_identity: identity term of G_r, ``identity_loss(e(I_r), e(I_s))`` with ``e``
            dlib's face descriptor: the reenacted face keeps its source's identity (FSGAN's
            known weakness; not in the paper, 0 turns it off).
        lambda_reenact: final weight of G_s's agreement with G_r's segmentation.
        reenact_ramp_steps: steps over which λ_reenact grows linearly from 0.
        stepwise_steps: reenactment steps from source to target (1: direct only).
        gan_loss: ``hinge`` or ``lsgan`` (least squares) adversarial objective.
    """

    perceptual: Literal["dlib", "vgg19", "none"] = "dlib"
    lambda_perc: float = 1.0
    lambda_pixel: float = 0.1
    lambda_rec: float = 1.0
    lambda_stepwise: float = 1.0
    lambda_adv: float = 0.001
    lambda_seg: float = 0.1
    lambda_identity: float = 0.1
    lambda_reenact: float = 1.0
    reenact_ramp_steps: int = 10_000
    stepwise_steps: int = 2
    gan_loss: Literal["hinge", "lsgan"] = "hinge"

    def __post_init__(self) -> None:
        check_positive(self, "lambda_perc", "lambda_pixel", "lambda_rec", "lambda_stepwise",
                       "lambda_adv", "lambda_seg", "lambda_identity", "lambda_reenact",
                       "reenact_ramp_steps",
                       allow_zero=True)
        check_positive(self, "stepwise_steps")


@dataclass(frozen=True)
class TrainConfig(Config):
    """Everything one training run depends on (saved as ``config.yaml`` in the run folder).

    Attributes:
        stage: which network is trained.
        resolution: crop size read from the dataset (256 or 128 for a 256 dataset).
        batch_size: samples per step and per process.
        max_steps: optimisation steps of the run.
        seed: seed of initialisation, data order and augmentation.
        num_workers: DataLoader worker processes (0: load in the training process).
        amp: mixed precision (float16 autocast + gradient scaling); CUDA only.
        checkpoint_every: steps between checkpoints (one is also written at the end and on
            SIGTERM/SIGINT).
        keep_checkpoints: most recent checkpoints kept (older ones are deleted).
        log_every: steps between scalar logs (values are means over the interval).
        image_every: steps between preview image grids (0: never).
        val_every: steps between validation losses (0: never).
        val_batches: batches of the validation split per validation.
        generator: the trained network (preset + options).
        discriminator: the multi-scale discriminator (reenactment, inpainting, blending).
        optimizer: Adam options.
        losses: loss weights.
        augment: training-crop augmentation.
        occlusion: random holes of the inpainting samples.
        recolour: face recolouring of the blending samples.
        reenactment_model: segmentation stage: a trained G_r checkpoint folder whose
            segmentation G_s is asked to agree with (λ_reenact term); none: the term is off.
    """

    stage: StageName = "reenactment"
    resolution: int = 256
    batch_size: int = 8
    max_steps: int = 100_000
    seed: int = 0
    num_workers: int = 2
    amp: bool = True
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    log_every: int = 50
    image_every: int = 1000
    val_every: int = 0
    val_batches: int = 4
    generator: ModelSpec = field(default_factory=ModelSpec)
    discriminator: ModelSpec = field(default_factory=ModelSpec)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    losses: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    occlusion: OcclusionConfig = field(default_factory=OcclusionConfig)
    recolour: RecolourConfig = field(default_factory=RecolourConfig)
    reenactment_model: str | None = None

    def __post_init__(self) -> None:
        check_positive(self, "resolution", "batch_size", "max_steps", "checkpoint_every",
                       "keep_checkpoints", "log_every")
        check_positive(self, "num_workers", "image_every", "val_every", "val_batches",
                       allow_zero=True)
        check_range(self, "seed", 0, 2**62)
        # validate the network options now, not after the data has loaded
        generator = self.generator.build_config(self.stage)
        self.discriminator.build_config("discriminator")
        multiple = getattr(generator, "size_multiple", 1)
        if self.resolution % multiple:
            raise ConfigError(f"TrainConfig.resolution {self.resolution} must be a multiple of "
                              f"{multiple} for this {self.stage} generator")
        if self.reenactment_model is not None and self.stage != "segmentation":
            raise ConfigError("TrainConfig.reenactment_model is only used by the segmentation "
                              "stage")

    @property
    def uses_discriminator(self) -> bool:
        return self.stage != "segmentation"
