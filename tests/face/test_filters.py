"""1-euro filter: less jitter on a still signal, little lag on a fast ramp or step."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.errors import ConfigError
from openfsgan.face.filters import OneEuroConfig, OneEuroFilter

FPS = 30.0


def run_filter(signal: np.ndarray, config: OneEuroConfig, unit: float = 1.0) -> np.ndarray:
    one_euro = OneEuroFilter(config)
    return np.array([one_euro(np.array([v]), i / FPS, unit)[0] for i, v in enumerate(signal)])


def test_jitter_reduced_and_ramp_followed_with_small_lag() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(90) / FPS
    clean = np.clip((t - 1.0) * 3.0, 0.0, 1.0)  # still, then a fast ramp (3 units/s), still
    noisy = clean + rng.normal(0.0, 0.02, t.shape)
    smoothed = run_filter(noisy, OneEuroConfig(min_cutoff_hz=1.5, beta=5.0))
    still = slice(5, 30)
    assert smoothed[still].std() < 0.6 * noisy[still].std()
    ramp = slice(31, 40)
    assert np.abs(smoothed[ramp] - clean[ramp]).max() < 0.1  # < 1 frame of lag at 3 units/s
    # a plain low-pass with the same still-signal smoothing lags far more on the ramp
    plain = run_filter(noisy, OneEuroConfig(min_cutoff_hz=1.5, beta=0.0))
    assert np.abs(plain[ramp] - clean[ramp]).max() > 2 * np.abs(smoothed[ramp]
                                                                - clean[ramp]).max()


def test_step_settles_within_a_few_frames() -> None:
    signal = np.r_[np.zeros(30), np.full(30, 1.0)]
    smoothed = run_filter(signal, OneEuroConfig(min_cutoff_hz=1.5, beta=5.0))
    assert smoothed[29] == 0.0
    assert smoothed[33] > 0.9


def test_speed_unit_makes_the_filter_scale_free() -> None:
    rng = np.random.default_rng(1)
    signal = np.cumsum(rng.normal(0, 1, 60))
    config = OneEuroConfig(min_cutoff_hz=1.0, beta=2.0)
    small = run_filter(signal, config, unit=1.0)
    large = run_filter(signal * 100.0, config, unit=100.0)
    np.testing.assert_allclose(large, small * 100.0, rtol=1e-9, atol=1e-9)


def test_vector_rows_share_a_cutoff_and_reset() -> None:
    one_euro = OneEuroFilter(OneEuroConfig(), vector_axis=-1)
    first = one_euro(np.zeros((68, 2)), 0.0)
    assert first.shape == (68, 2)
    second = one_euro(np.ones((68, 2)), 1 / FPS)
    assert np.allclose(second[:, 0], second[:, 1])
    one_euro.reset()
    np.testing.assert_array_equal(one_euro(np.full((68, 2), 5.0), 2 / FPS), 5.0)


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ConfigError):
        OneEuroConfig(min_cutoff_hz=0.0)
