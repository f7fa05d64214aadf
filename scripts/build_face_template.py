"""Build the generic 68x3 face template of ``openfsgan.face.template`` from talking-head videos.

Method (printed numbers are pasted into ``template.py``):

1. dlib HOG detector + 68-point predictor on every ``--stride``-th frame of each video
   (frames with exactly one face only).
2. Per video, Tomasi-Kanade factorisation: the centred ``[2F, 68]`` measurement matrix is cut
   to rank 3 by SVD (``W = M S``) and the affine ambiguity removed by the scaled-orthographic
   metric constraints (rows of each frame's camera orthogonal and of equal norm), giving the
   video's rigid shape up to a rotation and a mirror reflection.
3. Each shape is put in the canonical face frame (x: towards the subject's left eye = image
   right, y: from the eyes towards the mouth = down, z = x cross y = away from the camera),
   the reflection chosen so that the nose tip lies nearer the camera than the jaw line, and its
   scale set to an outer-eye-corner distance of 90 units (about millimetres).
4. Videos whose factorisation is ill-conditioned (too little head rotation) are dropped; the
   rest are averaged (median per coordinate) and the result made left/right symmetric.

Usage: ``python scripts/build_face_template.py ../shared/data/faces/*/**/*.mp4``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np

from openfsgan.face.detect import FaceDetector
from openfsgan.face.landmarks import MIRROR_68, LandmarkPredictor

EYE_CORNER_DISTANCE = 90.0


def video_landmarks(path: str, stride: int, max_frames: int) -> np.ndarray:
    """``[F, 68, 2]`` landmarks of the single face on sampled frames of ``path``."""
    detector, predictor = FaceDetector(), LandmarkPredictor()
    tracks = []
    with av.open(path) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % stride:
                continue
            rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
            found = detector.detect(rgb)
            if len(found) == 1:
                tracks.append(predictor.predict(rgb, found[0].box))
            if len(tracks) >= max_frames:
                break
    return np.asarray(tracks, dtype=np.float64).reshape(-1, 68, 2)


def factorise(tracks: np.ndarray) -> tuple[np.ndarray, float]:
    """Tomasi-Kanade: ``[F, 68, 2]`` -> rigid shape ``[68, 3]``, rotation spread in degrees."""
    frames = tracks.shape[0]
    centred = tracks - tracks.mean(axis=1, keepdims=True)
    measurements = centred.transpose(0, 2, 1).reshape(2 * frames, 68)  # rows: x_f, y_f
    u, s, vt = np.linalg.svd(measurements, full_matrices=False)
    motion = u[:, :3] * np.sqrt(s[:3])
    shape = np.sqrt(s[:3])[:, None] * vt[:3]
    # metric upgrade: find symmetric L = Q Q^T with m L m^T = n L n^T and m L n^T = 0
    def row(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array([a[0] * b[0], a[0] * b[1] + a[1] * b[0], a[0] * b[2] + a[2] * b[0],
                         a[1] * b[1], a[1] * b[2] + a[2] * b[1], a[2] * b[2]])
    rows, rhs = [], []
    for f in range(frames):
        m, n = motion[2 * f], motion[2 * f + 1]
        rows.append(row(m, m) - row(n, n))
        rhs.append(0.0)
        rows.append(row(m, n))
        rhs.append(0.0)
    rows.append(row(motion[0], motion[0]))  # fixes the overall scale
    rhs.append(1.0)
    coef, *_ = np.linalg.lstsq(np.asarray(rows), np.asarray(rhs), rcond=None)
    gram = np.array([[coef[0], coef[1], coef[2]],
                     [coef[1], coef[3], coef[4]],
                     [coef[2], coef[4], coef[5]]])
    eigval, eigvec = np.linalg.eigh(gram)
    q = eigvec * np.sqrt(np.clip(eigval, 1e-12, None))
    motion = motion @ q
    # out-of-plane rotation of each frame: the viewing direction is the cross product of the
    # frame's two camera rows; its spread is what makes depth observable at all
    views = np.cross(motion[0::2], motion[1::2])
    views /= np.linalg.norm(views, axis=1, keepdims=True)
    mean_view = views.mean(axis=0) / np.linalg.norm(views.mean(axis=0))
    spread_deg = float(np.degrees(np.arccos(np.clip(views @ mean_view, -1, 1))).std())
    return (np.linalg.inv(q) @ shape).T, spread_deg


def canonical(shape: np.ndarray) -> np.ndarray:
    """Rotate/reflect/scale ``[68, 3]`` into the canonical face frame (see module docstring)."""
    shape = shape - shape.mean(axis=0)
    right_side = [i for i in range(68) if MIRROR_68[i] > i and i not in range(27, 31)]
    x_axis = (shape[MIRROR_68[right_side]] - shape[right_side]).sum(axis=0)
    x_axis /= np.linalg.norm(x_axis)
    down = shape[list(range(48, 68))].mean(axis=0) - shape[list(range(36, 48))].mean(axis=0)
    y_axis = down - x_axis * (down @ x_axis)
    y_axis /= np.linalg.norm(y_axis)
    z_axis = np.cross(x_axis, y_axis)
    rotated = shape @ np.stack([x_axis, y_axis, z_axis], axis=1)
    # mirror ambiguity of the factorisation: the nose tip must face the camera (negative z)
    if rotated[30, 2] > rotated[list(range(0, 17)), 2].mean():
        rotated[:, 2] *= -1.0
    eye_corners = np.linalg.norm(rotated[45] - rotated[36])
    return rotated * (EYE_CORNER_DISTANCE / eye_corners)


def symmetrise(shape: np.ndarray) -> np.ndarray:
    mirrored = shape[MIRROR_68] * np.array([-1.0, 1.0, 1.0])
    out = (shape + mirrored) / 2.0
    return out - out.mean(axis=0)


def normalised(tracks: np.ndarray) -> np.ndarray:
    """Each frame centred and scaled to unit RMS radius (people differ in size)."""
    centred = tracks - tracks.mean(axis=1, keepdims=True)
    return centred / np.sqrt((centred**2).sum(axis=2).mean(axis=1))[:, None, None]


def refine(shape: np.ndarray, frames: np.ndarray, iterations: int) -> tuple[np.ndarray, float]:
    """Rigid structure from motion by alternating least squares (scaled orthographic cameras).

    ``frames`` ``[F, 68, 2]`` centred; alternates (a) each frame's camera ``s R[:2]`` given the
    shape (affine fit projected onto scaled rotations) and (b) the shape given all cameras,
    keeping it symmetric. Returns the shape and the RMS residual (in ``frames``' units).
    """
    residual = float("nan")
    for _ in range(iterations):
        cameras = []
        pinv = np.linalg.pinv(shape.T)  # [68, 3]
        for points in frames:
            affine = points.T @ pinv  # [2, 3]
            u, sv, vt = np.linalg.svd(affine, full_matrices=False)
            cameras.append(sv.mean() * (u @ vt))
        motion = np.concatenate(cameras)  # [2F, 3]
        measurements = frames.transpose(0, 2, 1).reshape(-1, 68)
        shape = np.linalg.lstsq(motion, measurements, rcond=None)[0].T
        residual = float(np.sqrt(((motion @ shape.T - measurements) ** 2).mean()))
        shape = symmetrise(canonical(shape))
    return shape, residual


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="+")
    parser.add_argument("--stride", type=int, default=3)
    parser.add_argument("--max-frames", type=int, default=150)
    parser.add_argument("--min-rotation-deg", type=float, default=7.0,
                        help="videos whose out-of-plane rotation spread is below this are "
                             "left out (their depth is unobservable)")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--landmarks-npz", help="reuse/keep the collected landmarks here")
    args = parser.parse_args()
    collected: dict[str, np.ndarray] = {}
    if args.landmarks_npz and Path(args.landmarks_npz).exists():
        collected = dict(np.load(args.landmarks_npz))
    for path in args.videos:
        if path not in collected:
            collected[path] = video_landmarks(path, args.stride, args.max_frames)
    if args.landmarks_npz:
        np.savez(args.landmarks_npz, **collected)
    shapes = []
    for path in args.videos:
        tracks = collected[path]
        if len(tracks) < 20:
            print(f"skip {path}: {len(tracks)} usable frames", file=sys.stderr)
            continue
        shape, spread_deg = factorise(tracks)
        shape = canonical(shape)
        depth = float(shape[list(range(0, 17)), 2].mean() - shape[30, 2])
        keep = spread_deg >= args.min_rotation_deg
        print(f"{path}: {len(tracks)} frames, rotation spread {spread_deg:.1f} deg, "
              f"nose depth {depth:.1f}{'' if keep else ' (left out)'}", file=sys.stderr)
        if keep:
            shapes.append(shape)
    if not shapes:
        print("no usable video", file=sys.stderr)
        return 1
    # start from the median of the well-conditioned videos' factorisations, then refine over
    # the frames of every video (rigid SfM by alternating least squares)
    start = symmetrise(np.median(np.stack(shapes), axis=0))
    frames = np.concatenate([normalised(collected[p]) * 50.0 for p in args.videos
                             if len(collected[p]) >= 20])
    template, residual = refine(start, frames, args.iterations)
    print(f"# {len(shapes)} factorised videos; refined on {len(frames)} frames; RMS residual "
          f"{residual:.2f} (face RMS radius 50); nose depth "
          f"{template[list(range(0, 17)), 2].mean() - template[30, 2]:.1f}", file=sys.stderr)
    print("np.array([")
    for x, y, z in template:
        print(f"    [{x:7.2f}, {y:7.2f}, {z:7.2f}],")
    print("], dtype=np.float64)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
