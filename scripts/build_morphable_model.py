"""Learn the 68-point 3D morphable model of ``openfsgan.face.morphable`` from the shared faces.

The model is ``shape = mean + identity_basis @ a + expression_basis @ b`` (``[68, 3]`` in the
canonical face frame of :mod:`openfsgan.face.template`, whose generic template is the mean).
It is learned from 68-point landmarks only (no image is kept):

1. Landmarks: every video's face tracks (the analyzer, through the analysis cache), the 300-W
   photos' ground-truth ``.pts`` and the detected landmarks of the other photos. Every file of
   ``eval/heldout_identities.txt`` is left out (those people are for evaluation only).
2. Lifting (faces turned by more than ``--max-turn-deg`` are left out): each face's pose
   comes from SQPnP on the template; its landmarks are lifted to 3D (x, y from the image,
   depth from the template along the viewing ray), turned frontal and scaled to template
   units (:func:`openfsgan.face.pose.canonical_shape`), then aligned to the template by a
   similarity Procrustes fit (what pose and scale the fit left behind).
3. Expression: within one face track the person is fixed, so every frame's deviation from its
   track's mean is expression. PCA of those deviations (each track weighted equally, mirrored
   copies added so the basis is left/right balanced) gives the expression basis.
4. Identity: each person's mean shape (a track's mean, or one photo), with its expression part
   shrunk away (a ridge fit on the expression basis), minus the template; PCA of those
   (mirrored copies added) gives the identity basis. It is not forced orthogonal to the
   expression basis: lifting errors of slightly turned heads make some within-video modes
   look like face width or eye spacing, and removing those from identity cost most of the
   identity signal (``--orthogonal`` does it). Pooling over a track separates the two anyway:
   identity is what stays, expression what varies.
5. Each basis column is stored with the standard deviation of its coefficient, so the fit's
   prior (coefficient / std) is in natural units.

Usage (inside the checkout; the landmark collection is cached in ``--landmarks-npz``)::

    python scripts/build_morphable_model.py --data ../shared/data/faces \
        --heldout eval/heldout_identities.txt --landmarks-npz /tmp/morphable_landmarks.npz \
        --output src/openfsgan/assets/morphable_model.npz
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from openfsgan.data.prepare import exclude_inputs, load_exclude_list
from openfsgan.face.landmarks import MIRROR_68
from openfsgan.face.pose import canonical_shape, fit_landmarks_3d, solve_pose
from openfsgan.face.template import FACE_TEMPLATE_68
from openfsgan.types import EulerAngles, Face

if TYPE_CHECKING:
    from openfsgan.face.morphable import MorphableModel

log = logging.getLogger("build_morphable_model")

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".webm", ".mkv"}
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}
MIN_TRACK_FRAMES = 30
MIN_PHOTO_SCORE = 0.8


@dataclass(frozen=True)
class Sample:
    """One face's 2D landmarks and the size of its image."""

    landmarks: np.ndarray
    width: int
    height: int


# -- collection ---------------------------------------------------------------------------------

def media_files(data: Path, suffixes: set[str]) -> list[Path]:
    return sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def kept_files(files: list[Path], excluded: tuple[str, ...]) -> list[Path]:
    """``files`` without the held-out ones (matched on trailing path components)."""
    from openfsgan.data.prepare import InputItem

    kept, dropped = exclude_inputs([InputItem(p, p.stem) for p in files], excluded)
    for item in dropped:
        log.info("held out: %s", item.path)
    return [item.path for item in kept]


def video_tracks(path: Path, analyzer: object, cache: object, stride: int) -> dict[str, Sample]:
    """Every ``stride``-th frame of each long enough face track of ``path``."""
    from openfsgan.io.cache import analyze_cached
    from openfsgan.io.media import probe

    info = probe(path)
    frames, _ = analyze_cached(path, analyzer, cache)  # type: ignore[arg-type]
    tracks: dict[int, list[np.ndarray]] = {}
    for frame in frames[::stride]:
        for face in frame.faces:
            tracks.setdefault(face.track_id, []).append(face.landmarks)
    return {str(track): Sample(np.asarray(points, np.float32), info.width, info.height)
            for track, points in tracks.items() if len(points) * stride >= MIN_TRACK_FRAMES}


def read_pts(path: Path) -> np.ndarray | None:
    """``[68, 2]`` from an iBUG ``.pts`` (plain ``x y`` lines or the versioned format)."""
    rows = []
    for line in path.read_text().splitlines():
        parts = line.replace("{", " ").replace("}", " ").split()
        if len(parts) == 2:
            try:
                rows.append((float(parts[0]), float(parts[1])))
            except ValueError:
                continue
    return np.asarray(rows, np.float32) if len(rows) == 68 else None


def photo_landmarks(path: Path, analyzer: object, cache: object) -> np.ndarray | None:
    """Ground truth beside the photo if any, else the most confident detection."""
    from openfsgan.io.cache import analyze_cached

    pts = path.with_suffix(".pts")
    if pts.is_file():
        return read_pts(pts)
    frames, _ = analyze_cached(path, analyzer, cache)  # type: ignore[arg-type]
    faces = [f for f in frames[0].faces if f.score >= MIN_PHOTO_SCORE] if frames else []
    return faces[0].landmarks if faces else None


def collect(data: Path, excluded: tuple[str, ...], stride: int) -> dict[str, np.ndarray]:
    """``{name: [F, 68, 2] float32}`` plus ``{name + '#size': [2]}``: videos' tracks are
    ``video:<path>:<track>``, photos ``photo:<path>``."""
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.io.cache import AnalysisCache
    from openfsgan.io.media import probe

    analyzer, cache = FaceAnalyzer(), AnalysisCache()
    out: dict[str, np.ndarray] = {}
    for path in kept_files(media_files(data, VIDEO_SUFFIXES), excluded):
        for track, sample in video_tracks(path, analyzer, cache, stride).items():
            name = f"video:{path.relative_to(data)}:{track}"
            out[name] = sample.landmarks
            out[name + "#size"] = np.array([sample.width, sample.height])
            log.info("%s: %d frames", name, len(sample.landmarks))
    for path in kept_files(media_files(data, PHOTO_SUFFIXES), excluded):
        try:
            points = photo_landmarks(path, analyzer, cache)
            info = probe(path)
        except Exception as error:
            log.warning("skip %s: %s", path, error)
            continue
        if points is not None:
            name = f"photo:{path.relative_to(data)}"
            out[name] = np.asarray(points, np.float32)[None]
            out[name + "#size"] = np.array([info.width, info.height])
    return out


# -- learning -----------------------------------------------------------------------------------

def lift(points: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    """Pose-normalised 3D shape ``[68, 3]`` (template units) of 2D landmarks ``[68, 2]`` and
    the head's turn away from frontal (degrees, the larger of yaw and pitch)."""
    pose = solve_pose(points, width, height)
    landmarks_3d, _ = fit_landmarks_3d(points, pose.rotation)
    face = Face(box=(0.0, 0.0, 1.0, 1.0), score=1.0, landmarks=points.astype(np.float32),
                landmarks_3d=landmarks_3d, pose=EulerAngles(*pose.euler.as_array()))
    turn = float(max(abs(pose.euler.yaw), abs(pose.euler.pitch)))
    return canonical_shape(face), turn


def procrustes(shape: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``shape`` moved by the similarity that best fits it onto ``reference`` (both centred)."""
    a = shape - shape.mean(axis=0)
    b = reference - reference.mean(axis=0)
    u, sv, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    correction = np.diag([1.0, 1.0, d])
    rotation = u @ correction @ vt
    scale = float((sv * np.diag(correction)).sum() / (a**2).sum())
    return scale * a @ rotation


def mirrored(shapes: np.ndarray) -> np.ndarray:
    """Left/right mirror images ``[N, 68, 3]`` (x negated, point order mirrored)."""
    return shapes[:, MIRROR_68] * np.array([-1.0, 1.0, 1.0])


def pca(deviations: np.ndarray, weights: np.ndarray, components: int
        ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted PCA of ``[N, 204]``: basis ``[204, K]`` (orthonormal) and coefficient stds."""
    w = weights / weights.sum()
    covariance = (deviations * w[:, None]).T @ deviations
    eigval, eigvec = np.linalg.eigh(covariance)
    order = np.argsort(eigval)[::-1][:components]
    return eigvec[:, order], np.sqrt(np.clip(eigval[order], 1e-12, None))


def learn(collected: dict[str, np.ndarray], expression_components: int,
          identity_components: int, max_turn_deg: float, orthogonal: bool
          ) -> tuple[MorphableModel, dict[str, float]]:
    from openfsgan.face.morphable import MorphableModel
    template = FACE_TEMPLATE_68 - FACE_TEMPLATE_68.mean(axis=0)
    expression_rows, expression_weights = [], []
    identity_rows = []
    names = [n for n in collected if not n.endswith("#size")]
    for name in names:
        width, height = (int(v) for v in collected[name + "#size"])
        lifted = [lift(p.astype(np.float64), width, height) for p in collected[name]]
        # lifting takes depth from the template: on turned heads its error looks like a
        # deformation, so only faces near frontal teach the model
        kept = [procrustes(shape, template) for shape, turn in lifted if turn <= max_turn_deg]
        if not kept:
            continue
        shapes = np.stack(kept)
        mean = shapes.mean(axis=0)
        if name.startswith("video:") and len(shapes) >= MIN_TRACK_FRAMES // 2:
            deviations = (shapes - mean).reshape(len(shapes), -1)
            expression_rows.append(deviations)
            expression_weights.append(np.full(len(shapes), 1.0 / len(shapes)))
        identity_rows.append(procrustes(mean, template))
    expression = np.concatenate(expression_rows)
    expression_3d = expression.reshape(-1, 68, 3)
    expression = np.concatenate([expression, mirrored(expression_3d).reshape(len(expression), -1)])
    weights = np.concatenate(expression_weights)
    weights = np.concatenate([weights, weights])
    expression_basis, expression_std = pca(expression, weights, expression_components)
    # identity: each person's mean minus the template, its expression part removed (ridge fit
    # in the expression prior's units), so the identity basis spans what expression cannot
    people = np.stack(identity_rows)
    people = np.concatenate([people, mirrored(people)]) - template
    flat = people.reshape(len(people), -1)
    coefficients = flat @ expression_basis
    shrink = expression_std**2 / (expression_std**2 + (0.5 * expression_std.min()) ** 2)
    flat = flat - (coefficients * shrink) @ expression_basis.T
    if orthogonal:
        flat = flat - (flat @ expression_basis) @ expression_basis.T
    identity_basis, identity_std = pca(flat, np.ones(len(flat)), identity_components)
    model = MorphableModel(mean=template, identity_basis=identity_basis.reshape(68, 3, -1),
                           identity_std=identity_std,
                           expression_basis=expression_basis.reshape(68, 3, -1),
                           expression_std=expression_std)
    stats = {"tracks": float(len(expression_rows)), "frames": float(len(weights) // 2),
             "identities": float(len(identity_rows)),
             "expression_explained": float((expression_std**2).sum()
                                           / _total_variance(expression, weights)),
             "identity_explained": float((identity_std**2).sum()
                                         / _total_variance(flat, np.ones(len(flat))))}
    return model, stats


def _total_variance(rows: np.ndarray, weights: np.ndarray) -> float:
    w = weights / weights.sum()
    return float((w[:, None] * rows**2).sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces"))
    parser.add_argument("--heldout", type=Path, default=Path("eval/heldout_identities.txt"))
    parser.add_argument("--landmarks-npz", type=Path,
                        help="keep/reuse the collected landmarks here (never in the checkout)")
    parser.add_argument("--stride", type=int, default=2, help="every n-th video frame")
    parser.add_argument("--expression-components", type=int, default=8)
    parser.add_argument("--identity-components", type=int, default=16)
    parser.add_argument("--max-turn-deg", type=float, default=20.0,
                        help="faces turned further (yaw or pitch) are not used")
    parser.add_argument("--orthogonal", action="store_true",
                        help="make the identity basis orthogonal to the expression basis")
    parser.add_argument("--output", type=Path,
                        default=Path("src/openfsgan/assets/morphable_model.npz"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.landmarks_npz is not None and args.landmarks_npz.is_file():
        collected = dict(np.load(args.landmarks_npz))
    else:
        collected = collect(args.data, load_exclude_list(args.heldout), args.stride)
        if args.landmarks_npz is not None:
            np.savez_compressed(args.landmarks_npz, **collected)
    model, stats = learn(collected, args.expression_components, args.identity_components,
                         args.max_turn_deg, args.orthogonal)
    from openfsgan.face.morphable import save_model

    save_model(model, args.output)
    print(" ".join(f"{k}={v:.3f}" for k, v in stats.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
