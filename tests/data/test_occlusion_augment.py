import numpy as np
import pytest

from openfsgan.data.augment import RecolourConfig, colour_jitter, hflip, recolour_relight
from openfsgan.data.occlusion import OcclusionConfig, random_occlusion_mask
from openfsgan.data.pseudo_masks import face_mask
from openfsgan.errors import ConfigError
from openfsgan.face.align import canonical_landmarks


@pytest.fixture
def face():
    return face_mask(canonical_landmarks(96), (96, 96))


def test_holes_stay_near_the_face_and_cover_a_bounded_part(face):
    config = OcclusionConfig(min_coverage=0.1, max_coverage=0.5)
    coverages = []
    for seed in range(20):
        mask = random_occlusion_mask(face, np.random.default_rng(seed), config)
        assert mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}
        ys, xs = np.nonzero(face)
        if mask.any():
            mys, mxs = np.nonzero(mask)
            margin = 0.1 * (xs.max() - xs.min()) + 2
            assert mxs.min() >= xs.min() - margin and mxs.max() <= xs.max() + margin
            assert mys.min() >= ys.min() - margin and mys.max() <= ys.max() + margin
        coverages.append((mask.astype(bool) & face).sum() / face.sum())
    assert max(coverages) <= 0.5 + 1e-6
    assert np.mean(coverages) > 0.1


def test_holes_are_reproducible(face):
    a = random_occlusion_mask(face, np.random.default_rng(5))
    b = random_occlusion_mask(face, np.random.default_rng(5))
    assert np.array_equal(a, b)
    assert not random_occlusion_mask(np.zeros((8, 8), bool), np.random.default_rng(0)).any()


def test_occlusion_config_is_validated():
    with pytest.raises(ConfigError):
        OcclusionConfig.from_dict({"min_coverage": 0.6, "max_coverage": 0.5})


def test_hflip_mirrors_pixels_landmarks_and_labels():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, (40, 40), dtype=np.uint8)
    points = canonical_landmarks(40)
    flipped, flipped_points, flipped_labels = hflip(rgb, points, labels)
    assert np.array_equal(flipped[:, 0], rgb[:, -1])
    assert np.array_equal(flipped_labels[:, 0], labels[:, -1])
    # the template is symmetric: flipping it gives it back
    np.testing.assert_allclose(flipped_points, points, atol=1e-3)
    # the right eye's outer corner (36) comes from the mirrored left eye corner (45)
    np.testing.assert_allclose(flipped_points[36, 0], 39 - points[45, 0], atol=1e-5)
    again, again_points, _ = hflip(flipped, flipped_points, flipped_labels)
    assert np.array_equal(again, rgb)
    np.testing.assert_allclose(again_points, points, atol=1e-5)


def test_recolour_changes_only_the_masked_region():
    rng = np.random.default_rng(1)
    rgb = rng.integers(40, 200, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), np.float32)
    mask[8:24, 8:24] = 1
    out = recolour_relight(rgb, mask, np.random.default_rng(3),
                           RecolourConfig(gain=0.3, bias=20, gamma=0.3, light=0.3))
    assert np.array_equal(out[mask == 0], rgb[mask == 0])
    assert np.abs(out[mask == 1].astype(int) - rgb[mask == 1]).mean() > 3


def test_colour_jitter_strength_zero_is_identity():
    rgb = np.full((4, 4, 3), 100, np.uint8)
    assert colour_jitter(rgb, np.random.default_rng(0), 0.0) is rgb
    assert colour_jitter(rgb, np.random.default_rng(0), 0.5).dtype == np.uint8
