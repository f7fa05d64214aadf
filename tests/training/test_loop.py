"""The loop on a trivial stage: a linear regression, no face data involved."""

import os
import signal

import torch
from torch import nn

from openfsgan.training.checkpointing import latest_checkpoint
from openfsgan.training.config import OptimizerConfig
from openfsgan.training.logging import RunLogger, read_scalars
from openfsgan.training.loop import LoopConfig, Objective, Stage, Trainer


class Points(torch.utils.data.Dataset):
    """y = x . w_true, with per-sample noise drawn from the sample seed."""

    def __init__(self, count: int = 16) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(count, 4, generator=generator)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, key):
        index, seed = key
        noise = torch.randn(1, generator=torch.Generator().manual_seed(seed)) * 0.01
        return {"x": self.x[index], "y": self.y[index] + noise[0]}


class Regression(Stage):
    name = "regression"

    def __init__(self, stop_at: int | None = None) -> None:
        super().__init__()
        self.nets["model"] = nn.Linear(4, 1)
        self.objectives = (Objective("loss", ("model",)),)
        self.stop_at = stop_at

    def step(self, batch, step):
        if self.stop_at is not None and step + 1 == self.stop_at:
            os.kill(os.getpid(), signal.SIGTERM)
        # stage randomness comes from its own generator (saved in checkpoints)
        jitter = 1.0 + 0.01 * torch.randn(4, generator=self.generator)
        prediction = self.nets["model"](batch["x"] * jitter)[:, 0]
        return {"loss": (prediction - batch["y"]).square().mean()}


def _trainer(run_dir, max_steps, stop_at=None, **options):
    torch.manual_seed(0)
    config = LoopConfig(max_steps=max_steps, batch_size=4, log_every=1, checkpoint_every=5,
                        optimizer=OptimizerConfig(lr=0.2), **options)
    return Trainer(Regression(stop_at), Points(), run_dir, config, torch.device("cpu"))


def test_loss_falls_and_checkpoints_are_written(tmp_path):
    trainer = _trainer(tmp_path, 40)
    history = []
    result = trainer.run(40, on_log=lambda step, losses: history.append(losses["loss"]))
    assert result.status == "completed" and result.step == 40
    assert sum(history[-5:]) < 0.1 * sum(history[:5])
    assert result.checkpoint == latest_checkpoint(tmp_path)
    assert trainer.epoch == 10  # 16 samples, batch 4: 4 steps an epoch


def test_resume_continues_bit_exactly(tmp_path):
    straight = _trainer(tmp_path / "straight", 14)
    logger = RunLogger(tmp_path / "straight" / "logs", tensorboard=False)
    straight.run(14, logger)
    logger.close()

    first = _trainer(tmp_path / "split", 14)
    logger = RunLogger(tmp_path / "split" / "logs", tensorboard=False)
    first.run(7, logger)  # stops mid-epoch, checkpoint at 5 and at 7
    logger.close()
    second = _trainer(tmp_path / "split", 14)
    assert second.resume() is not None and second.step == 7
    logger = RunLogger(tmp_path / "split" / "logs", resume_step=7, tensorboard=False)
    second.run(14, logger)
    logger.close()

    def losses(name):
        return [(r["step"], r["loss"]) for r in read_scalars(tmp_path / name / "logs")]

    assert losses("split") == losses("straight")
    assert torch.equal(second.stage.nets["model"].weight, straight.stage.nets["model"].weight)


def test_resume_from_an_older_checkpoint_drops_later_logs(tmp_path):
    trainer = _trainer(tmp_path, 8)
    logger = RunLogger(tmp_path / "logs", tensorboard=False)
    trainer.run(8, logger)
    logger.close()
    logger = RunLogger(tmp_path / "logs", resume_step=5, tensorboard=False)
    logger.close()
    assert [r["step"] for r in read_scalars(tmp_path / "logs")] == [1, 2, 3, 4, 5]


def test_sigterm_stops_after_the_step_with_a_checkpoint(tmp_path):
    previous = signal.getsignal(signal.SIGTERM)
    trainer = _trainer(tmp_path, 100, stop_at=3)
    result = trainer.run(100)
    assert result.status == "interrupted" and result.signal_number == signal.SIGTERM
    assert result.step == 3
    assert latest_checkpoint(tmp_path).name == "step-000000003"
    assert signal.getsignal(signal.SIGTERM) is previous


def test_too_small_a_dataset_is_refused(tmp_path):
    import pytest

    from openfsgan.errors import ConfigError

    # a ConfigError: the command line reports it as one line (it was an "internal error")
    with pytest.raises(ConfigError, match="fewer than one batch"):
        Trainer(Regression(), Points(3), tmp_path, LoopConfig(max_steps=1, batch_size=4),
                torch.device("cpu"))
