"""The detail layer of the neural swap: resampling helpers, the moved detail, its band
replacement."""

from __future__ import annotations

import numpy as np

from openfsgan.pipelines.detail import (
    DetailTrack,
    add_detail,
    detail_factor,
    motion_maps,
    resize,
)


def test_detail_factor_follows_the_face_size_in_the_frame() -> None:
    from openfsgan.face.align import AlignTransform

    def transform(frame_pixels_per_crop_pixel: float) -> AlignTransform:
        scale = 1.0 / frame_pixels_per_crop_pixel
        return AlignTransform.from_matrix(np.array([[scale, 0, 0], [0, scale, 0]]), 128)

    assert detail_factor(transform(0.7), 4) == 1  # a small face: the crop is already enough
    assert detail_factor(transform(1.2), 4) == 1
    assert detail_factor(transform(2.6), 4) == 3
    assert detail_factor(transform(9.0), 4) == 4  # never above what the source views hold


def test_motion_maps_move_pixels_as_the_generator_does() -> None:
    """cv2.remap with the enlarged flow equals G_r's own grid_sample on a crop of that size."""
    import cv2
    import torch

    from openfsgan.models.reenactment import warp_image

    rng = np.random.default_rng(0)
    size = 64
    image = cv2.GaussianBlur(rng.uniform(0, 1, (size, size, 3)).astype(np.float32), (0, 0), 2)
    ys, xs = np.mgrid[0:16, 0:16] / 16.0
    flow = np.stack([0.1 * np.sin(3 * ys), 0.05 * xs - 0.02]).astype(np.float32)
    map_x, map_y = motion_maps(flow, size)
    got = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    big_flow = torch.from_numpy(resize(flow.transpose(1, 2, 0), size).transpose(2, 0, 1))[None]
    want = warp_image(torch.from_numpy(image.transpose(2, 0, 1))[None], big_flow)
    want_np = want[0].numpy().transpose(1, 2, 0)
    assert np.abs(got - want_np)[4:-4, 4:-4].max() < 1e-3
    still = motion_maps(np.zeros((2, 16, 16), np.float32), size)
    assert np.allclose(still[0], np.arange(size)[None]) and np.allclose(still[1],
                                                                        np.arange(size)[:, None])


def test_detail_track_keeps_only_what_the_small_crop_cannot_hold() -> None:
    rng = np.random.default_rng(1)
    ys, xs = np.mgrid[0:256, 0:256]
    smooth = np.repeat((100 + 50 * np.sin(xs / 40.0) + 30 * np.cos(ys / 50.0))[..., None], 3, 2)
    texture = smooth + rng.normal(0, 12, smooth.shape)
    assert np.abs(DetailTrack(smooth, 64).detail).mean() < 0.5
    track = DetailTrack(texture, 64)
    before = track.detail
    assert 5 < before.std() < 12 and abs(before.mean()) < 0.5
    still = np.zeros((1, 2, 64, 64), np.float32)
    track.follow(still, np.ones((1, 1, 64, 64), np.float32))  # no motion, source kept: as is
    assert np.allclose(track.detail, before, atol=1e-3)
    painted = np.ones((1, 1, 64, 64), np.float32)
    painted[..., :, :32] = 0.0  # G_r paints the left half: no source detail there
    track.follow(still, painted)
    assert np.abs(track.detail[:, :100]).max() == 0.0 and (track.kept[:, :100] == 0).all()
    assert np.allclose(track.detail[:, 160:], before[:, 160:], atol=1e-3)
    # a shift of 4 px of the 64 px crop moves the 256 px layer by 16 px, in one resampling
    shifted = DetailTrack(texture, 64)
    shift = np.zeros((1, 2, 64, 64), np.float32)
    shift[:, 0] = 8.0 / 64  # flow in half-crop units: 4 px of 64
    shifted.follow(shift, np.ones((1, 1, 64, 64), np.float32))
    assert np.allclose(shifted.detail[:, 20:-20], before[:, 36:-4], atol=1e-2)


def test_add_detail_replaces_the_high_band_where_the_source_shows() -> None:
    rng = np.random.default_rng(2)
    small = np.clip(100 + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
    detail = np.zeros((128, 128, 3), np.float32)
    detail[::2] = 20.0
    detail[1::2] = -20.0
    weight = np.zeros((32, 32), np.float32)
    weight[:, 16:] = 1.0
    out = add_detail(small, detail, weight, cutoff=16)
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    plain = resize(small.astype(np.float32), 128)
    # left: the networks' result, enlarged; right: its content below 16 px plus the detail
    assert np.abs(out[:, :56] - plain[:, :56]).max() <= 1
    low = resize(resize(plain, 16), 128)
    assert np.abs(out[:, 72:].astype(float) - (low + detail)[:, 72:]).max() <= 1
    # where G_r painted (an empty layer), the result's own finest band goes: no checkerboard
    board = np.full((32, 32, 3), 100, np.uint8)
    board[::2, ::2] = board[1::2, 1::2] = 140
    cleaned = add_detail(board, np.zeros_like(detail), np.ones((32, 32), np.float32), cutoff=16)
    assert np.ptp(cleaned[8:-8, 8:-8]) <= 2 and abs(cleaned.mean() - 120) < 1
