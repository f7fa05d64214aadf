"""Fine-tuning G_r on one source by self-reenactment (torch on the CPU).

Each step draws pairs of the source's views ``(i, j)`` (with one view, ``i = j``), moves both
views of a pair by the same small random similarity (rotation, scale, shift: new framings of
the same face), drives view ``i`` to view ``j``'s landmark heatmaps and reconstructs view ``j``:

    L = λ_perc L_perc(G_r(I_i; H(p_j)), I_j) + λ_pixel L1(...) + λ_id L_id(...)
        + λ_seg CE(S(G_r), S_0(I_j))

with the training losses (:mod:`openfsgan.losses`; dlib face features and descriptor) and
``S_0`` the shipped G_r's own segmentation of view ``j``, which keeps the face mask the swap
reads from G_r from drifting. The pair draws and moves of step ``k`` come from a generator
seeded with ``(seed, k)``, so a resumed fine-tuning draws exactly what it would have.

Why one move per pair: in a swap both of G_r's crops are aligned on their own face (the view
and the target geometry), so G_r is never asked to rotate, scale or shift a face within its
crop, and the shipped G_r's flow was not trained to. Moved independently, the pairs asked for
exactly that; the flow could not follow, and the loss was lowered through the synthesis head
instead: G_r's occlusion mask (its share of the warped source) over the face fell from 0.82 to
0.59 in 200 steps, the swapped face became the softer synthesized one and looked more like
the target (ID gain of the swap's G_r crop 0.121 -> 0.039 on a held-out pair).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from openfsgan.errors import ModelError
from openfsgan.face.align import rescale_points
from openfsgan.face.heatmaps import landmark_heatmaps_torch
from openfsgan.io.atomic import atomic_output
from openfsgan.losses import identity_loss, perceptual_loss, pixel_loss, segmentation_ce_loss
from openfsgan.models.checkpoint import load_pretrained, read_checkpoint_config, save_pretrained
from openfsgan.models.reenactment import ReenactmentGenerator
from openfsgan.pipelines.finetune import FinetuneConfig, FinetuneProgress

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"


def base_resolution(base: Path) -> int:
    """The crop size G_r was trained at (its checkpoint metadata; 128 for the shipped one)."""
    metadata = read_checkpoint_config(base).get("metadata") or {}
    return int(metadata.get("resolution", 128))


class ViewSet:
    """The source views at the network's size, as tensors, with the base segmentation.

    Args:
        views: ``(crop [S, S, 3] uint8, landmarks [68, 2] crop pixels)``.
        size: the network's crop size.
    """

    def __init__(self, views: list[tuple[np.ndarray, np.ndarray]], size: int) -> None:
        if not views:
            raise ModelError("fine-tuning needs at least one view of the source face")
        self.size = size
        self.images = []
        self.points = []
        for crop, landmarks in views:
            if crop.shape[0] != size:
                points = rescale_points(np.asarray(landmarks, np.float32), crop.shape[0], size)
                crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
            else:
                points = np.asarray(landmarks, np.float32)
            self.images.append(crop.astype(np.float32) / 127.5 - 1.0)
            self.points.append(points.astype(np.float32))
        self.labels: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def label_with(self, model: ReenactmentGenerator) -> None:
        """``S_0``: the base model's segmentation of each view reenacted to itself."""
        self.labels = []
        for image, points in zip(self.images, self.points, strict=True):
            batch = torch.from_numpy(image.transpose(2, 0, 1)[None].copy())
            heat = landmark_heatmaps_torch(torch.from_numpy(points[None]), self.size)
            logits = model(batch, heat).segmentation_logits
            self.labels.append(logits.argmax(1)[0].numpy().astype(np.uint8))

    def _move(self, rng: np.random.Generator, config: FinetuneConfig) -> np.ndarray:
        """A random similarity about the crop's centre, ``[2, 3]``."""
        size = self.size
        angle = rng.uniform(-config.max_rotation_deg, config.max_rotation_deg)
        scale = 1.0 + rng.uniform(-config.max_scale, config.max_scale)
        shift = rng.uniform(-config.max_shift, config.max_shift, 2) * size
        matrix = np.asarray(cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle,
                                                    scale), np.float64)
        matrix[:, 2] = matrix[:, 2] + shift
        return matrix

    def _moved(self, index: int, matrix: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        size = self.size
        image = cv2.warpAffine(self.images[index], matrix, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        points = self.points[index] @ matrix[:, :2].T + matrix[:, 2]
        label = (cv2.warpAffine(self.labels[index], matrix, (size, size),
                                flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
                 if self.labels else np.zeros((size, size), np.uint8))
        return image, points.astype(np.float32), label

    def batch(self, step: int, config: FinetuneConfig) -> dict[str, torch.Tensor]:
        """The pairs of ``step`` (the same for the same step and seed)."""
        rng = np.random.default_rng([config.seed, step])
        sources, targets, points, labels = [], [], [], []
        for _ in range(config.batch_size):
            i, j = rng.integers(len(self), size=2)
            move = self._move(rng, config)
            source, _, _ = self._moved(int(i), move)
            if not config.move_views_together:
                move = self._move(rng, config)
            target, target_points, label = self._moved(int(j), move)
            sources.append(source.transpose(2, 0, 1))
            targets.append(target.transpose(2, 0, 1))
            points.append(target_points)
            labels.append(label)
        return {"source": torch.from_numpy(np.stack(sources)),
                "target": torch.from_numpy(np.stack(targets)),
                "target_landmarks": torch.from_numpy(np.stack(points)),
                "target_segmentation": torch.from_numpy(np.stack(labels).astype(np.int64))}


class Finetuner:
    """G_r, its optimiser and the self-reenactment loss."""

    def __init__(self, model: ReenactmentGenerator, config: FinetuneConfig,
                 describer: torch.nn.Module | None = None) -> None:
        self.model = model
        self.config = config
        if describer is None and (config.lambda_perc > 0 or config.lambda_identity > 0):
            from openfsgan.nn.features import build_feature_network

            describer = build_feature_network("dlib")
            for parameter in describer.parameters():
                parameter.requires_grad_(False)
        self.describer = describer
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.999))
        self.step = 0

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The loss terms of one batch and their weighted sum (``total``)."""
        config = self.config
        target = batch["target"]
        heat = landmark_heatmaps_torch(batch["target_landmarks"], target.shape[-1])
        output = self.model(batch["source"], heat)
        out = {"pixel": pixel_loss(output.image, target)}
        total = config.lambda_pixel * out["pixel"]
        if self.describer is not None:
            describer: torch.nn.Module = self.describer
            features, embedding = describer.features_and_embedding(output.image)  # type: ignore[operator]
            with torch.no_grad():
                wanted_features, wanted = describer.features_and_embedding(target)  # type: ignore[operator]
            out["perceptual"] = perceptual_loss(features, [f.detach() for f in wanted_features])
            out["identity"] = identity_loss(embedding, wanted.detach())
            total = (total + config.lambda_perc * out["perceptual"]
                     + config.lambda_identity * out["identity"])
        if config.lambda_seg > 0:
            out["seg"] = segmentation_ce_loss(output.segmentation_logits,
                                              batch["target_segmentation"])
            total = total + config.lambda_seg * out["seg"]
        out["total"] = total
        return out

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        losses = self.losses(batch)
        if not torch.isfinite(losses["total"].detach()):
            raise FloatingPointError(f"non-finite fine-tuning loss at step {self.step}")
        losses["total"].backward()
        self.optimizer.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in losses.items()}

    def save(self, folder: Path) -> Path:
        """The resumable state (model, optimiser, step), written atomically."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CHECKPOINT_FILE
        with atomic_output(path) as tmp:
            torch.save({"step": self.step, "model": self.model.state_dict(),
                        "optimizer": self.optimizer.state_dict()}, tmp)
        return path

    def load(self, folder: Path) -> bool:
        """Continue from ``folder``'s checkpoint, if there is a readable one."""
        path = folder / CHECKPOINT_FILE
        if not path.is_file():
            return False
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step = int(state["step"])
        except (OSError, RuntimeError, KeyError, ValueError) as error:
            log.warning("ignoring unreadable fine-tuning checkpoint %s (%s)", path, error)
            return False
        log.info("fine-tuning resumed from %s (step %d)", path, self.step)
        return True


def finetune(base: Path, views: list[tuple[np.ndarray, np.ndarray]], config: FinetuneConfig,
             work_dir: Path, progress: FinetuneProgress | None = None) -> ReenactmentGenerator:
    """Fine-tune the G_r of checkpoint folder ``base`` on ``views`` for ``config.steps``.

    A checkpoint is written to ``work_dir`` every ``config.checkpoint_every`` steps and when
    the run is interrupted (KeyboardInterrupt, re-raised); a checkpoint already there is
    continued from.

    Returns:
        The tuned generator (eval mode).
    """
    model = load_pretrained(base, expected_model="reenactment")
    assert isinstance(model, ReenactmentGenerator)
    views_set = ViewSet(views, base_resolution(base))
    views_set.label_with(model)
    tuner = Finetuner(model, config)
    tuner.load(work_dir)
    if progress is not None:
        progress(min(tuner.step, config.steps), config.steps)
    last: dict[str, float] = {}
    try:
        while tuner.step < config.steps:
            last = tuner.train_step(views_set.batch(tuner.step, config))
            if tuner.step % config.checkpoint_every == 0 and tuner.step < config.steps:
                tuner.save(work_dir)
            if progress is not None:
                progress(tuner.step, config.steps)
    except KeyboardInterrupt:
        tuner.save(work_dir)
        log.warning("fine-tuning interrupted at step %d; checkpoint kept in %s (run the job "
                    "again to continue)", tuner.step, work_dir)
        raise
    if last:
        log.info("fine-tuned G_r for %d steps: %s", tuner.step,
                 ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
    return model.eval()


def export_tuned(model: ReenactmentGenerator, folder: Path, resolution: int) -> Path:
    """``folder``: config.json + model.safetensors, then ``model.onnx`` at ``resolution``
    (checked against torch by the exporter)."""
    from openfsgan.export.onnx import export_onnx

    metadata = {"resolution": resolution, "finetuned": True}
    save_pretrained(model, folder, metadata=metadata)
    export_onnx(folder, folder / "model.onnx", resolution=resolution)
    return folder


def self_reconstruction_loss(model: ReenactmentGenerator, batch: dict[str, torch.Tensor]
                             ) -> float:
    """Mean L1 of G_r reconstructing the batch's targets (no gradients; for checks)."""
    with torch.no_grad():
        heat = landmark_heatmaps_torch(batch["target_landmarks"], batch["target"].shape[-1])
        return float(F.l1_loss(model(batch["source"], heat).image, batch["target"]))


__all__ = ["Finetuner", "ViewSet", "base_resolution", "export_tuned", "finetune",
           "self_reconstruction_loss"]
