"""Media helpers of the provenance tests: a synthetic clip, H.264 and JPEG round trips, PSNR."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def talking_clip(frames: int, width: int, height: int, motion: float = 6.0) -> list[np.ndarray]:
    """A talking-head-like clip: a static astronaut background and a central region moving by
    up to ``motion`` pixels (at 640 px wide; proportional at other widths)."""
    import cv2
    from skimage import data

    side = max(width, height)
    base = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)
    top = min(side * 7 // 32, side - height)
    base = np.ascontiguousarray(base[:, :width])
    base = np.ascontiguousarray(base[top:top + height])
    clip = []
    for i in range(frames):
        shift = np.float32([[1, 0, motion * np.sin(i / 4) * width / 640],
                            [0, 1, motion / 2 * np.cos(i / 5) * width / 640]])
        moved = cv2.warpAffine(base, shift, (width, height), borderMode=cv2.BORDER_REFLECT)
        frame = base.copy()
        y0, y1, x0, x1 = height // 6, height * 5 // 6, width * 5 // 16, width * 11 // 16
        frame[y0:y1, x0:x1] = moved[y0:y1, x0:x1]
        clip.append(frame)
    return clip


def h264_round_trip(frames: list[np.ndarray], crf: int = 23, fps: int = 25) -> list[np.ndarray]:
    """Encode with libx264 (yuv420p, veryfast) in memory and decode again."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def read_frames(path: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` frames of a video as RGB arrays."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= count:
                break
    return frames


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def psnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    mse = float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
