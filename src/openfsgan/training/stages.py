"""The four training stages of FSGAN, each a ``step(batch) -> losses`` for the one loop.

* reenactment (G_r, with D):
  ``L(G_r) = λ_stepwise L_rec(I_{r_n}, I_t) + λ_rec L_rec(I_r, I_t) + λ_adv L_adv
  + λ_seg L_seg(S_r, S_t) + λ_id L_id(I_r, I_s)``. ``I_r = G_r(I_s; H(p_t))`` is the direct
  result; ``I_{r_n}`` is the iterative one, reenacted through the intermediate landmarks
  ``p_1 .. p_{n-1}`` (source pose interpolated towards the target's,
  :func:`openfsgan.face.pose.interpolate_landmarks`) and finally ``p_t``. The earlier steps run
  without gradients (memory stays that of two forward passes); the last step and the direct one
  share a batch. ``L_seg`` is pixel-wise cross-entropy against the target's face/hair
  pseudo-labels. ``L_id = 1 − cos(e(I_r), e(I_s))`` with ``e`` dlib's face descriptor
  (:func:`openfsgan.losses.identity_loss`): source and target show one person in training, and
  the reenactment must keep who that is.
* segmentation (G_s): cross-entropy against the pseudo-labels, plus
  ``λ_reenact L1(S_t, S_t^r)`` where ``S_t^r`` is the segmentation a trained, frozen G_r
  predicts for the target's geometry; λ_reenact grows linearly from 0 to its final value.
* inpainting (G_c, with D): self-supervised: random holes in a face crop
  (:mod:`openfsgan.data.occlusion`), ``λ_rec L_rec(G_c(I ⊙ (1 − M), M), I) + λ_adv L_adv``.
* blending (G_b, with D): self-supervised: the face of a crop recoloured and relit
  (:func:`openfsgan.data.augment.recolour_relight`) is blended back; the target is the Poisson
  blending of the recoloured face into the crop,
  ``λ_rec L_rec(G_b(I_r, I_t, M), P(I_r, I_t, M)) + λ_adv L_adv``.

Each GAN stage also returns the discriminator's loss on real crops against detached results.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from openfsgan.data.dataset import (
    BlendingDataset,
    InpaintingDataset,
    PreparedDataset,
    ReenactmentDataset,
    SegmentationDataset,
    StageDataset,
)
from openfsgan.errors import ConfigError, InvalidInputError
from openfsgan.face.heatmaps import landmark_heatmaps_torch
from openfsgan.losses import (
    adversarial_loss,
    discriminator_loss,
    identity_loss,
    pixel_loss,
    poisson_blend_target,
    reconstruction_loss,
    segmentation_ce_loss,
)
from openfsgan.models.registry import build_model
from openfsgan.training.config import TrainConfig
from openfsgan.training.distributed import unwrap
from openfsgan.training.loop import Batch, Objective, Stage
from openfsgan.training.schedule import linear_ramp

log = logging.getLogger(__name__)

GENERATOR_ROLES = {
    "reenactment": "reenactment_generator",
    "segmentation": "segmentation_generator",
    "inpainting": "inpainting_generator",
    "blending": "blending_generator",
}
"""Role (checkpoint sub-folder) of each stage's trained generator."""

DISCRIMINATOR = "discriminator"

# colours of background / face / hair in previews (RGB in [-1, 1])
_LABEL_COLOURS = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 0.6, 0.2], [-0.2, -0.6, -1.0]])


def build_feature_net(kind: str, vgg_weights: str | Path | None = None) -> nn.Module | None:
    """The frozen feature network of the perceptual loss (None for ``none``)."""
    if kind == "none":
        return None
    from openfsgan.nn.features import build_feature_network

    if kind not in ("dlib", "vgg19"):
        raise ConfigError(f"unknown perceptual network {kind!r}; valid: dlib, vgg19, none")
    net = build_feature_network(kind, vgg_weights if kind == "vgg19" else None)  # type: ignore[arg-type]
    net.eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net


def _labels_to_image(labels: torch.Tensor) -> torch.Tensor:
    """``[B, H, W]`` class indices -> ``[B, 3, H, W]`` colours in ``[-1, 1]``."""
    return _LABEL_COLOURS.to(labels.device)[labels].permute(0, 3, 1, 2)


class _GeneratorStage(Stage):
    """What every stage shares: config, reconstruction loss, the discriminator step."""

    dataset_class: type[StageDataset] = SegmentationDataset

    def __init__(self, config: TrainConfig, feature_net: nn.Module | None) -> None:
        super().__init__()
        self.config = config
        self.losses = config.losses
        self.role = GENERATOR_ROLES[config.stage]
        self.nets[self.role] = build_model(config.stage,
                                           config.generator.build_config(config.stage))
        if config.uses_discriminator:
            self.nets[DISCRIMINATOR] = build_model(
                "discriminator", config.discriminator.build_config("discriminator"))
            self.objectives = (Objective("generator", (self.role,)),
                               Objective("discriminator", (DISCRIMINATOR,)))
        else:
            self.objectives = (Objective("generator", (self.role,)),)
        if feature_net is not None:
            self.nets["features"] = feature_net
        self.generator.manual_seed(config.seed)

    def reconstruction(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``L_rec = λ_perc L_perc + λ_pixel L1`` (L1 alone without a feature network)."""
        features = self.nets.get("features")
        if features is None:
            return self.losses.lambda_pixel * pixel_loss(x, y)
        return reconstruction_loss(features, x, y, self.losses.lambda_perc,
                                   self.losses.lambda_pixel)

    def adversarial(self, fake: torch.Tensor) -> torch.Tensor:
        """Generator term; the discriminator is frozen so only the generator learns from it."""
        with self.frozen(self.nets[DISCRIMINATOR]) as discriminator:
            return adversarial_loss(discriminator(fake), self.losses.gan_loss)

    def discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Discriminator loss on real images vs detached results (one batched forward)."""
        count = real.shape[0]
        logits = self.nets[DISCRIMINATOR](torch.cat([real, fake.detach()]))
        return discriminator_loss([x[:count] for x in logits], [x[count:] for x in logits],
                                  self.losses.gan_loss)

    def heatmaps(self, landmarks: torch.Tensor) -> torch.Tensor:
        return landmark_heatmaps_torch(landmarks, self.config.resolution)

    def datasets(self, prepared: PreparedDataset) -> tuple[StageDataset, StageDataset | None]:
        """Training and validation datasets of this stage (validation None when empty)."""
        train = self._dataset(prepared, "train", augment=True)
        try:
            val = self._dataset(prepared, "val", augment=False)
        except InvalidInputError as error:  # an empty validation split disables validation
            log.info("no validation data: %s", error)
            val = None
        if val is not None and len(val) == 0:
            val = None
        return train, val

    def _dataset(self, prepared: PreparedDataset, split: str, augment: bool) -> StageDataset:
        return self.dataset_class(prepared, split, self.config.resolution,
                                  self.config.augment if augment else None)

    def preview_columns(self) -> int | None:
        return min(self.config.batch_size, 4)


class ReenactmentStage(_GeneratorStage):
    """G_r with stepwise (iterative) reenactment, segmentation output and adversarial term."""

    name = "reenactment"
    dataset_class = ReenactmentDataset

    def __init__(self, config: TrainConfig, feature_net: nn.Module | None) -> None:
        super().__init__(config, feature_net)
        self.identity_role: str | None = None
        if self.losses.lambda_identity > 0:
            from openfsgan.nn.features import DlibFaceFeatures

            # dlib's face descriptor; the perceptual loss's network when it is that one
            if isinstance(feature_net, DlibFaceFeatures):
                self.identity_role = "features"
            else:
                describer = build_feature_net("dlib")
                assert describer is not None
                self.nets["identity"] = describer
                self.identity_role = "identity"

    def _dataset(self, prepared: PreparedDataset, split: str, augment: bool) -> StageDataset:
        return ReenactmentDataset(prepared, split, self.config.resolution,
                                  self.config.augment if augment else None,
                                  stepwise_steps=self.losses.stepwise_steps)

    def identity(self, image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """``L_id``: how far ``image``'s face descriptor turns from ``reference``'s (whose
        descriptor is a constant: only the generator's output is pulled)."""
        assert self.identity_role is not None
        describer: Any = self.nets[self.identity_role]
        with torch.no_grad():
            wanted = describer.embed(reference.float())
        return identity_loss(describer.embed(image.float()), wanted)

    def _reenact(self, batch: Batch, generator: nn.Module | None = None
                 ) -> tuple[Any, torch.Tensor | None]:
        generator = generator or self.nets[self.role]
        source = batch["source_image"]
        target_heatmaps = self.heatmaps(batch["target_landmarks"])
        path = batch["intermediate_landmarks"]
        if path.shape[1] == 0:
            return generator(source, target_heatmaps), None
        # I_{r_j} = G_r(I_{r_{j-1}}; H(p_j)) for the intermediate poses, without gradients
        with torch.no_grad():
            stepped = source
            for j in range(path.shape[1]):
                stepped = unwrap(generator)(stepped, self.heatmaps(path[:, j])).image
        # the last step and the direct reenactment in one batch: one DDP forward
        output = generator(torch.cat([source, stepped.detach()]),
                           torch.cat([target_heatmaps, target_heatmaps]))
        count = source.shape[0]
        direct = type(output)(output.image[:count], output.segmentation_logits[:count])
        return direct, output.image[count:]

    def step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        target = batch["target_image"]
        direct, stepwise = self._reenact(batch)
        rec = self.reconstruction(direct.image, target)
        seg = segmentation_ce_loss(direct.segmentation_logits.float(),
                                   batch["target_segmentation"])
        adv = self.adversarial(direct.image)
        total = self.losses.lambda_rec * rec + self.losses.lambda_adv * adv + \
            self.losses.lambda_seg * seg
        out = {"rec": rec, "adv": adv, "seg": seg}
        if self.identity_role is not None:
            out["identity"] = self.identity(direct.image, batch["source_image"])
            total = total + self.losses.lambda_identity * out["identity"]
        if stepwise is not None:
            out["stepwise"] = self.reconstruction(stepwise, target)
            total = total + self.losses.lambda_stepwise * out["stepwise"]
        out["generator"] = total
        out["discriminator"] = self.discriminator_step(target, direct.image)
        return out

    @torch.no_grad()
    def previews(self, batch: Batch) -> dict[str, torch.Tensor]:
        count = min(batch["source_image"].shape[0], 4)
        small = {k: v[:count] for k, v in batch.items()}
        direct, stepwise = self._reenact(small, unwrap(self.nets[self.role]))
        rows = [small["source_image"], small["target_image"], direct.image.float()]
        if stepwise is not None:
            rows.append(stepwise.float())
        rows.append(_labels_to_image(direct.segmentation_logits.argmax(1)))
        return {"reenactment": torch.cat(rows)}


class SegmentationStage(_GeneratorStage):
    """G_s: cross-entropy on the pseudo-labels + λ_reenact agreement with a frozen G_r."""

    name = "segmentation"

    def __init__(self, config: TrainConfig, feature_net: nn.Module | None) -> None:
        super().__init__(config, None)  # no reconstruction term: no feature network
        if config.reenactment_model is not None:
            from openfsgan.models.checkpoint import load_pretrained

            self.nets["reenactment_generator"] = load_pretrained(config.reenactment_model,
                                                                 expected_model="reenactment")
        else:
            log.info("no reenactment model given: training G_s with cross-entropy only "
                     "(the λ_reenact term needs a trained G_r)")

    def _dataset(self, prepared: PreparedDataset, split: str, augment: bool) -> StageDataset:
        if "reenactment_generator" in self.nets:
            return ReenactmentDataset(prepared, split, self.config.resolution,
                                      self.config.augment if augment else None,
                                      stepwise_steps=1)
        return SegmentationDataset(prepared, split, self.config.resolution,
                                   self.config.augment if augment else None)

    @staticmethod
    def _inputs(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        if "image" in batch:
            return batch["image"], batch["segmentation"]
        return batch["target_image"], batch["target_segmentation"]

    def step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        image, labels = self._inputs(batch)
        logits = self.nets[self.role](image).float()
        ce = segmentation_ce_loss(logits, labels)
        weight = linear_ramp(step, self.losses.reenact_ramp_steps, 0.0, self.losses.lambda_reenact)
        out = {"ce": ce, "lambda_reenact": torch.tensor(weight)}
        total = ce
        if "reenactment_generator" in self.nets:
            # S_t^r: G_r's segmentation of the source reenacted to the target's geometry
            with torch.no_grad():
                reenacted = self.nets["reenactment_generator"](
                    batch["source_image"], self.heatmaps(batch["target_landmarks"]))
                reference = F.softmax(reenacted.segmentation_logits.float(), dim=1)
            agreement = F.l1_loss(F.softmax(logits, dim=1), reference)
            out["reenact_agreement"] = agreement
            total = total + weight * agreement
        out["generator"] = total
        return out

    @torch.no_grad()
    def previews(self, batch: Batch) -> dict[str, torch.Tensor]:
        image, labels = self._inputs(batch)
        count = min(image.shape[0], 4)
        predicted = unwrap(self.nets[self.role])(image[:count]).argmax(1)
        return {"segmentation": torch.cat([image[:count], _labels_to_image(labels[:count]),
                                           _labels_to_image(predicted)])}


class InpaintingStage(_GeneratorStage):
    """G_c on random holes in face crops."""

    name = "inpainting"
    dataset_class = InpaintingDataset

    def _dataset(self, prepared: PreparedDataset, split: str, augment: bool) -> StageDataset:
        return InpaintingDataset(prepared, split, self.config.resolution,
                                 self.config.augment if augment else None,
                                 holes=self.config.occlusion)

    def step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        filled = self.nets[self.role](image, mask)
        rec = self.reconstruction(filled, image)
        adv = self.adversarial(filled)
        return {"rec": rec, "adv": adv,
                "generator": self.losses.lambda_rec * rec + self.losses.lambda_adv * adv,
                "discriminator": self.discriminator_step(image, filled)}

    @torch.no_grad()
    def previews(self, batch: Batch) -> dict[str, torch.Tensor]:
        count = min(batch["image"].shape[0], 4)
        image, mask = batch["image"][:count], batch["mask"][:count]
        filled = unwrap(self.nets[self.role])(image, mask).float()
        return {"inpainting": torch.cat([image, image * (1 - mask), filled])}


class BlendingStage(_GeneratorStage):
    """G_b on recoloured faces, towards their Poisson blending."""

    name = "blending"
    dataset_class = BlendingDataset

    def _dataset(self, prepared: PreparedDataset, split: str, augment: bool) -> StageDataset:
        return BlendingDataset(prepared, split, self.config.resolution,
                               self.config.augment if augment else None,
                               recolour=self.config.recolour)

    def step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        target, reenacted, mask = batch["target"], batch["reenacted"], batch["mask"]
        with torch.no_grad():
            poisson = poisson_blend_target(reenacted.float(), target.float(), mask.float())
        blended = self.nets[self.role](reenacted, target, mask)
        rec = self.reconstruction(blended, poisson)
        adv = self.adversarial(blended)
        return {"rec": rec, "adv": adv,
                "generator": self.losses.lambda_rec * rec + self.losses.lambda_adv * adv,
                "discriminator": self.discriminator_step(target, blended)}

    @torch.no_grad()
    def previews(self, batch: Batch) -> dict[str, torch.Tensor]:
        count = min(batch["target"].shape[0], 4)
        target, reenacted, mask = (batch[k][:count] for k in ("target", "reenacted", "mask"))
        poisson = poisson_blend_target(reenacted.float(), target.float(), mask.float())
        blended = unwrap(self.nets[self.role])(reenacted, target, mask).float()
        naive = reenacted * mask + target * (1 - mask)
        return {"blending": torch.cat([target, naive, poisson, blended])}


STAGES: dict[str, type[_GeneratorStage]] = {
    "reenactment": ReenactmentStage,
    "segmentation": SegmentationStage,
    "inpainting": InpaintingStage,
    "blending": BlendingStage,
}


def build_stage(config: TrainConfig, vgg_weights: str | Path | None = None) -> _GeneratorStage:
    """The stage ``config.stage`` with its networks built (and its perceptual network)."""
    if config.stage not in STAGES:
        raise ConfigError(f"unknown stage {config.stage!r}; valid: {', '.join(STAGES)}")
    kind = config.losses.perceptual
    if vgg_weights is not None and kind != "vgg19":
        kind = "vgg19"
    feature_net = None
    if config.stage != "segmentation" and config.losses.lambda_perc > 0:
        feature_net = build_feature_net(kind, vgg_weights)
    return STAGES[config.stage](config, feature_net)
