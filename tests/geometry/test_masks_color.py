"""Face masks from landmarks and colour correction (with temporal smoothing)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from openfsgan.face.align import canonical_landmarks
from openfsgan.geometry.color import (
    ColorStatsSmoother,
    masked_stats,
    match_color,
    rgb_to_lab,
)
from openfsgan.geometry.masks import (
    MaskConfig,
    MaskSmoother,
    face_mask,
    face_outline,
    hard_face_mask,
    inner_face,
    skin_likelihood,
    skin_region,
)

SIZE = 128


def test_mask_covers_the_face_and_rises_above_the_brows() -> None:
    landmarks = canonical_landmarks(SIZE)
    mask = face_mask(landmarks, (SIZE, SIZE))
    assert mask.dtype == np.float32 and mask.min() >= 0.0 and mask.max() <= 1.0
    for index in (30, 36, 45, 48, 54, 57):  # nose, eye corners, mouth
        x, y = np.round(landmarks[index]).astype(int)
        assert mask[y, x] > 0.95, index
    brow_x, brow_y = np.round(landmarks[19]).astype(int)
    assert mask[brow_y - 3, brow_x] > 0.5  # above the eyebrow: forehead
    assert mask[2, 2] == 0.0 and mask[SIZE - 3, SIZE // 2] < 0.05
    assert face_outline(landmarks).shape == (27, 2)


def test_mask_is_feathered_and_configurable() -> None:
    landmarks = canonical_landmarks(SIZE)
    soft = face_mask(landmarks, (SIZE, SIZE), MaskConfig(feather_fraction=0.05))
    partial = ((soft > 0.05) & (soft < 0.95)).sum()
    hard = hard_face_mask(landmarks, (SIZE, SIZE))
    assert partial > 0.1 * (hard > 0).sum() / 4
    sharp = face_mask(landmarks, (SIZE, SIZE), MaskConfig(feather_fraction=0.0,
                                                          erode_fraction=0.0))
    assert ((sharp > 0.05) & (sharp < 0.95)).sum() < partial / 4
    with pytest.raises(ValueError, match="brow_raise"):
        MaskConfig(brow_raise=-1.0)


def test_skin_region_and_forehead_gate() -> None:
    landmarks = canonical_landmarks(SIZE)
    skin = skin_region(landmarks, (SIZE, SIZE))
    nose_x, nose_y = np.round(landmarks[30]).astype(int)
    eye_x, eye_y = np.round(landmarks[37:39].mean(axis=0)).astype(int)
    assert skin[nose_y, nose_x] and not skin[eye_y, eye_x]
    # skin-coloured face with a dark fringe over the left half of the forehead
    lab = np.zeros((SIZE, SIZE, 3), np.float32)
    lab[...] = (65.0, 15.0, 18.0)
    lab += np.random.default_rng(0).normal(0, 1.5, lab.shape).astype(np.float32)
    brow_y = int(landmarks[17:27, 1].min())
    lab[: brow_y - 2, : SIZE // 2] = (20.0, 2.0, 5.0)
    likelihood = skin_likelihood(lab, skin)
    assert likelihood[nose_y, nose_x] == 1.0 and likelihood[brow_y - 6, 10] == 0.0
    gated = face_mask(landmarks, (SIZE, SIZE), forehead_gate=likelihood)
    plain = face_mask(landmarks, (SIZE, SIZE))
    left, right = SIZE // 2 - 14, SIZE // 2 + 14
    # the fringe is gated above the brows' own margin (which always comes from the source)
    assert plain[brow_y - 10, left] > 0.5 and gated[brow_y - 10, left] < 0.5
    assert gated[brow_y - 10, right] > 0.5  # the skin half of the forehead stays
    assert gated[nose_y, nose_x] > 0.95


def test_gates_never_remove_the_inner_face() -> None:
    """Brows, eyes, nose and mouth carry the identity: a gate that rejects them (dark brows are
    not skin) trims only the outline and forehead."""
    landmarks = canonical_landmarks(SIZE)
    reject_all = np.zeros((SIZE, SIZE), np.float32)
    gated = face_mask(landmarks, (SIZE, SIZE), forehead_gate=reject_all, outline_gate=reject_all)
    plain = face_mask(landmarks, (SIZE, SIZE))
    for index in (19, 24, 37, 44, 30, 51, 57):  # brows, eyes, nose tip, lips
        x, y = np.round(landmarks[index]).astype(int)
        assert gated[y, x] > 0.9, index
    jaw_x, jaw_y = np.round(0.8 * landmarks[4] + 0.2 * landmarks[30]).astype(int)
    assert plain[jaw_y, jaw_x] > 0.9 and gated[jaw_y, jaw_x] < 0.5  # the outline is trimmed
    inner = inner_face(landmarks, (SIZE, SIZE))
    chin_x, chin_y = np.round(landmarks[8]).astype(int)
    assert inner[chin_y, chin_x] == 0 and gated.sum() < plain.sum()


def test_shading_tolerant_skin_likelihood() -> None:
    skin = np.zeros((32, 32), bool)
    skin[8:24, 8:24] = True
    lab = np.zeros((32, 32, 3), np.float32)
    lab[...] = (60.0, 15.0, 18.0)
    lab[0, 0] = (78.0, 15.0, 18.0)  # lit skin
    lab[0, 1] = (60.0, -12.0, 20.0)  # green
    strict = skin_likelihood(lab, skin)
    tolerant = skin_likelihood(lab, skin, min_std=(12.0, 2.0, 2.0))
    assert strict[0, 0] == 0.0 and tolerant[0, 0] == 1.0
    assert strict[0, 1] == 0.0 and tolerant[0, 1] == 0.0


def test_mask_smoother_damps_jitter() -> None:
    smoother = MaskSmoother(momentum=0.5)
    first = smoother(np.zeros((4, 4)))
    second = smoother(np.ones((4, 4)))
    assert first.max() == 0.0 and np.allclose(second, 0.5)


def _patch(mean: tuple[float, float, float], std: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(mean, std, (48, 48, 3)), 0, 255).astype(np.uint8)


def test_color_transfer_matches_the_target_statistics_inside_the_mask() -> None:
    source = _patch((180, 120, 100), 10.0, 0)
    target = _patch((90, 70, 60), 20.0, 1)
    mask = np.zeros((48, 48), bool)
    mask[8:40, 8:40] = True
    result = match_color(source, target, mask, max_gain=3.0)
    got = masked_stats(rgb_to_lab(result), mask)
    want = masked_stats(rgb_to_lab(target), mask)
    np.testing.assert_allclose(got.mean, want.mean, atol=1.5)
    np.testing.assert_allclose(got.std, want.std, rtol=0.15)
    # the contrast gain is bounded: std can grow at most 1.5x by default
    bounded = masked_stats(rgb_to_lab(match_color(source, target, mask)), mask)
    source_std = masked_stats(rgb_to_lab(source), mask).std
    assert (bounded.std <= 1.5 * source_std * 1.1).all()
    assert np.array_equal(match_color(source, target, np.zeros((48, 48), bool)), source)


def test_smoothed_statistics_change_slowly() -> None:
    smoother = ColorStatsSmoother(momentum=0.9)
    mask = np.ones((48, 48), bool)
    source = _patch((150, 110, 90), 10.0, 2)
    dark, bright = _patch((60, 60, 60), 5.0, 3), _patch((200, 200, 200), 5.0, 4)
    match_color(source, dark, mask, smoother)
    after_jump = match_color(source, bright, mask, smoother)
    unsmoothed = match_color(source, bright, mask)
    # one bright frame after a dark one: the smoothed result moved only ~10 % of the way
    assert after_jump.mean() < 0.5 * (dark.mean() + unsmoothed.mean())


def test_relight_replaces_the_source_light_and_keeps_its_detail() -> None:
    from openfsgan.geometry.color import relight_lab
    from openfsgan.geometry.masks import face_skin_region

    landmarks = canonical_landmarks(SIZE)
    region = face_skin_region(landmarks, (SIZE, SIZE))
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    # the source lit from the left (L falls by 30 across the face), with fine detail; the
    # target lit evenly; a bright green background that must not leak in
    detail = 3.0 * np.sin(xs * 1.3) * np.sin(ys * 1.1)
    source = np.zeros((SIZE, SIZE, 3), np.float32)
    source[..., 0] = 75.0 - 30.0 * xs / SIZE + detail
    source[..., 1], source[..., 2] = 12.0, 15.0
    target = np.zeros_like(source)
    target[..., 0], target[..., 1], target[..., 2] = 62.0, 10.0, 18.0
    target[~region] = (80.0, -60.0, 50.0)
    relit = relight_lab(source, target, region, sigma=0.06 * SIZE)
    inner = region & (cv2.erode(region.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    left = inner & (xs < SIZE * 0.4)
    right = inner & (xs > SIZE * 0.6)
    # the light: before, the two cheeks differ by ~8; after, by little
    before = source[..., 0][left].mean() - source[..., 0][right].mean()
    after = relit[..., 0][left].mean() - relit[..., 0][right].mean()
    assert before > 6.0 and abs(after) < 0.25 * before
    assert abs(relit[..., 0][inner].mean() - 62.0) < 2.0
    assert abs(relit[..., 1][inner].mean() - 10.0) < 1.0  # tint: the target's, not the green
    # the detail (far finer than sigma) is the source's
    residual = relit[..., 0] - cv2.GaussianBlur(relit[..., 0], (0, 0), 2.0)
    expected = detail - cv2.GaussianBlur(detail, (0, 0), 2.0)
    assert np.corrcoef(residual[inner], expected[inner])[0, 1] > 0.9
    # far outside the face nothing changes
    assert np.allclose(relit[0, 0], source[0, 0])
