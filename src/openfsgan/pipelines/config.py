"""One configuration tree for a swap or reenactment: which implementation runs each stage, and
the settings of every implementation and of the shared steps.

``--method classic`` and ``--method neural`` are presets of the four stage choices
(:data:`METHOD_STAGES`); each stage can also be chosen on its own, and every setting read from
YAML::

    # swap.yaml
    method: classic          # the preset the stages start from
    blending: neural         # G_b instead of Poisson
    appearance:
      max_color_gain: 1.3
    classic:
      poisson_cycles: 3

:func:`resolve_config` applies preset -> YAML -> explicit choices (flags), in that order, and
fails on a stage name or key that does not exist with one line listing the valid ones.
:meth:`SwapConfig.to_dict` is the resolved configuration as JSON-ready data: it is what the
output's metadata tag, its C2PA manifest and a job's work folder record.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from openfsgan.config import Config, load_yaml, merge_options
from openfsgan.errors import ConfigError
from openfsgan.pipelines.appearance import AppearanceConfig
from openfsgan.pipelines.classic import ClassicConfig
from openfsgan.pipelines.finetune import FinetuneConfig
from openfsgan.pipelines.identity import DEFAULT_IDENTITY_STRENGTH
from openfsgan.pipelines.neural import NeuralConfig
from openfsgan.pipelines.reenact import ReenactConfig

if TYPE_CHECKING:
    from openfsgan.inference import NeuralModels
    from openfsgan.pipelines.stages import Reenactor, SwapStages

MethodName = Literal["classic", "neural"]
ReenactmentChoice = Literal["warp", "neural"]
SegmentationChoice = Literal["landmarks", "neural"]
InpaintingChoice = Literal["none", "neural"]
BlendingChoice = Literal["poisson", "neural", "alpha"]

METHODS: tuple[str, ...] = get_args(MethodName)
STAGE_CHOICES: dict[str, tuple[str, ...]] = {
    "reenactment": get_args(ReenactmentChoice),
    "segmentation": get_args(SegmentationChoice),
    "inpainting": get_args(InpaintingChoice),
    "blending": get_args(BlendingChoice),
}
"""Each stage and its implementations, in the order the swap runs them (the same as
:data:`openfsgan.stages.STAGE_IMPLEMENTATIONS`, which the command line reads)."""

METHOD_STAGES: dict[str, dict[str, str]] = {
    "classic": {"reenactment": "warp", "segmentation": "landmarks", "inpainting": "none",
                "blending": "poisson"},
    "neural": {"reenactment": "neural", "segmentation": "neural", "inpainting": "neural",
               "blending": "neural"},
}
"""``--method``: the stage choices each preset stands for."""

IDENTITY_STRENGTH_BY_REENACTMENT: dict[str, float] = {"warp": DEFAULT_IDENTITY_STRENGTH,
                                                     "neural": 0.5}
"""The default share of the source's face shape for each reenactment stage, set by measurement
on the held-out identity swaps (README, "Identity transfer"): the largest strength whose pose
and identity-invariant expression errors stay within 0.3 deg and 0.3 % of the eye distance of
the swap without identity transfer. G_r, driven to a face shape it was not trained on, bends
the head pose more than the mesh warp does (over the swap before identity transfer, strength 1:
+0.40 deg; 0.5: +0.23 deg). A file or flag that sets ``identity_strength`` wins."""

FINETUNED_IDENTITY_STRENGTH = 1.0
"""The default share of the source's face shape when G_r is fine-tuned on the source
(``finetune.steps`` > 0): tuned on the source's own views it follows the full shape without the
shipped G_r's pose bend (held-out identity swaps, 200 steps at strength 1: pose error 3.21 deg,
0.20 deg over the untuned G_r without identity transfer; README, "Fine-tuning on the source").
A file or flag that sets ``identity_strength`` wins."""


@dataclass(frozen=True)
class SwapConfig(Config):
    """Everything that decides how a swap (or reenactment) is made.

    Attributes:
        method: the preset the stage choices started from (``classic`` or ``neural``).
        reenactment: ``warp`` (Delaunay mesh warp) or ``neural`` (G_r).
        segmentation: ``landmarks`` (landmark face mask) or ``neural`` (G_s).
        inpainting: ``none`` or ``neural`` (G_c).
        blending: ``poisson``, ``neural`` (G_b) or ``alpha`` (soft mask only).
        appearance: the shared steps (view selection, colour transfer, temporal smoothing).
        classic: settings of the classic implementations (mesh warp crop, landmark mask,
            Poisson).
        neural: settings of the generators' implementations.
        reenact: settings of the reenactment mode (expression gain; the mesh warp's crop).
        finetune: fine-tuning of G_r on the source before the job (``--finetune N``,
            :mod:`openfsgan.pipelines.finetune`); used only with the neural reenactment stage
            (recorded but unused otherwise, so one file serves an evaluation of both methods).

    In ``reenact`` mode only the reenactment stage runs (the source photo is driven and pasted
    back through a border window); the other choices are recorded but not used.
    """

    method: MethodName = "classic"
    reenactment: ReenactmentChoice = "warp"
    segmentation: SegmentationChoice = "landmarks"
    inpainting: InpaintingChoice = "none"
    blending: BlendingChoice = "poisson"
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    classic: ClassicConfig = field(default_factory=ClassicConfig)
    neural: NeuralConfig = field(default_factory=NeuralConfig)
    reenact: ReenactConfig = field(default_factory=ReenactConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    PRESETS: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        name: {"method": name, **stages} for name, stages in METHOD_STAGES.items()}

    def __post_init__(self) -> None:
        for stage in STAGE_CHOICES:
            check_stage(stage, getattr(self, stage))

    @property
    def stages(self) -> dict[str, str]:
        """Stage -> chosen implementation."""
        return {stage: getattr(self, stage) for stage in STAGE_CHOICES}

    @property
    def needs_models(self) -> bool:
        """Whether any chosen stage runs a generator (the shipped ONNX models)."""
        return "neural" in self.stages.values()

    def describe(self) -> str:
        """One line: the stage choices, and the preset when they are exactly one."""
        text = ", ".join(f"{stage} {choice}" for stage, choice in self.stages.items())
        preset = next((name for name, stages in METHOD_STAGES.items()
                       if stages == self.stages), None)
        return f"{preset} ({text})" if preset else f"custom ({text})"


def check_stage(stage: str, choice: str) -> None:
    """Raise ConfigError (one line with the valid choices) unless ``choice`` implements
    ``stage``."""
    if stage not in STAGE_CHOICES:
        raise ConfigError(f"unknown stage {stage!r}; stages: {', '.join(STAGE_CHOICES)}")
    if choice not in STAGE_CHOICES[stage]:
        raise ConfigError(f"unknown {stage} {choice!r}; valid choices: "
                          f"{', '.join(STAGE_CHOICES[stage])}")


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; valid choices: {', '.join(METHODS)}")


def resolve_config(method: str | None = None, config: Mapping[str, Any] | None = None,
                   config_file: str | os.PathLike[str] | None = None,
                   **stages: str | None) -> SwapConfig:
    """The configuration of a run: the ``method`` preset, then a YAML file's options, then a
    mapping of options, then the stage choices given (``reenactment="warp"``; None = not
    given).

    ``method`` (a flag) wins over a ``method`` key of the file; without either, ``classic``.

    Raises:
        ConfigError: an unknown method, stage, implementation or key, a bad value, or a file
            that cannot be read (one line naming the valid choices).
    """
    data: dict[str, Any] = {}
    if config_file is not None:
        data = merge_options(data, load_yaml(config_file))
    if config is not None:
        data = merge_options(data, config)
    chosen = method or data.get("method") or "classic"
    if not isinstance(chosen, str):
        raise ConfigError(f"method must be a string; valid choices: {', '.join(METHODS)}")
    check_method(chosen)
    for stage, choice in stages.items():
        if choice is not None:
            check_stage(stage, choice)
    # the preset first, then the file and mapping, then the explicit stage choices
    values = merge_options({"method": chosen, **METHOD_STAGES[chosen]},
                           {key: value for key, value in data.items() if key != "method"})
    for stage in STAGE_CHOICES:
        if isinstance(values.get(stage), str):
            check_stage(stage, values[stage])
    values.update({stage: choice for stage, choice in stages.items() if choice is not None})
    appearance = values.get("appearance", {})
    reenactment = values.get("reenactment")
    if isinstance(appearance, Mapping) and "identity_strength" not in appearance and \
            reenactment in IDENTITY_STRENGTH_BY_REENACTMENT:
        finetune = values.get("finetune")
        tuned = isinstance(finetune, Mapping) and bool(finetune.get("steps"))
        strength = (FINETUNED_IDENTITY_STRENGTH if tuned and reenactment == "neural"
                    else IDENTITY_STRENGTH_BY_REENACTMENT[reenactment])
        values["appearance"] = {**appearance, "identity_strength": strength}
    return SwapConfig.from_dict(values)


def build_reenactor(config: SwapConfig, models: Callable[[], NeuralModels]) -> Reenactor:
    """The reenactment stage of ``config`` (``models`` is called only when a generator runs)."""
    from openfsgan.pipelines.classic import MeshWarpReenactor
    from openfsgan.pipelines.neural import GeneratorReenactor

    if config.reenactment == "neural":
        return GeneratorReenactor(models(), config.neural, config.reenact)
    return MeshWarpReenactor(config.classic, config.reenact)


def build_stages(config: SwapConfig, models: Callable[[], NeuralModels]) -> SwapStages:
    """One implementation per stage, as ``config`` chooses (the one registry of stages).

    Args:
        config: the resolved configuration.
        models: returns the shipped generators (called, once, only when a neural stage is
            chosen; e.g. ``NeuralModels.load``).
    """
    from openfsgan.pipelines import classic, neural
    from openfsgan.pipelines.stages import Blender, Inpainter, Segmenter, SwapStages

    loaded: list[NeuralModels] = []

    def once() -> NeuralModels:
        if not loaded:
            loaded.append(models())
        return loaded[0]

    segmenters: dict[str, Callable[[], Segmenter]] = {
        "landmarks": lambda: classic.LandmarkSegmenter(config.classic),
        "neural": lambda: neural.GeneratorSegmenter(once(), config.neural)}
    inpainters: dict[str, Callable[[], Inpainter]] = {
        "none": classic.NoInpainter,
        "neural": lambda: neural.GeneratorInpainter(once(), config.neural)}
    blenders: dict[str, Callable[[], Blender]] = {
        "poisson": lambda: classic.PoissonBlender(config.classic),
        "alpha": classic.AlphaBlender,
        "neural": lambda: neural.GeneratorBlender(once(), config.neural)}
    return SwapStages(build_reenactor(config, once), segmenters[config.segmentation](),
                      inpainters[config.inpainting](), blenders[config.blending]())
