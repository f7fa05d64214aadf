"""The visible caption: drawn in a corner box, nothing else touched."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.provenance.caption import Caption, CaptionStyle, burn_caption


@pytest.mark.parametrize("shape", [(360, 640), (720, 1280), (512, 300), (40, 60)])
def test_caption_stays_in_its_box(shape: tuple[int, int]) -> None:
    frame = np.full((*shape, 3), 120, np.uint8)
    out = burn_caption(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    changed = np.argwhere(np.any(out != frame, axis=2))
    assert changed.size > 0
    height, width = shape
    (y0, x0), (y1, x1) = changed.min(axis=0), changed.max(axis=0)
    assert x1 < width - 1  # the box keeps a margin from the edge
    assert y0 > height / 2 and x0 < width / 2  # bottom-left corner
    assert (y1 - y0) < 0.5 * height
    assert np.array_equal(frame, np.full((*shape, 3), 120, np.uint8))  # input not modified


def test_text_is_bright_on_a_darkened_box() -> None:
    frame = np.full((360, 640, 3), 120, np.uint8)
    out = Caption("AI-generated", CaptionStyle(box_opacity=0.5)).apply(frame)
    box = out[np.any(out != frame, axis=2)]
    assert box.min() < 70  # the box darkens the background
    assert box.max() > 200  # the text is near white


def test_corners_and_non_ascii_text() -> None:
    frame = np.zeros((200, 300, 3), np.uint8) + 60
    out = Caption("Généré par IA", CaptionStyle(corner="top-right")).apply(frame)
    changed = np.argwhere(np.any(out != frame, axis=2))
    assert changed[:, 0].max() < 100 and changed[:, 1].min() > 150
    with pytest.raises(ValueError):
        CaptionStyle(corner="middle")
    with pytest.raises(ValueError):
        Caption().apply(np.zeros((10, 10), np.uint8))
