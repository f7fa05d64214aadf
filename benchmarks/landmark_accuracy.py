"""68-point landmark accuracy on 300-W (AFW + HELEN train) ground truth (prints Markdown).

For every image with a ``.pts`` file the analyzer's still-image path runs (detector, then the
68-point predictor); the detection overlapping the ground-truth face most is scored. NME is
the mean point-to-point error divided by the ground-truth outer-eye-corner distance (points 36
and 45); a face is *missed* when no detection overlaps its ground-truth box (IoU < 0.3).
Usage::

    python benchmarks/landmark_accuracy.py [--detector hog|cnn] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "300W-Spinkoo"
SUBSETS = {"AFW": SHARED / "afw" / "afw", "HELEN train": SHARED / "helen" / "trainset"}


def read_pts(path: Path) -> np.ndarray:
    """iBUG ``.pts`` (``x y`` per line, optional ``version``/braces header) -> ``[68, 2]``."""
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                rows.append((float(parts[0]), float(parts[1])))
            except ValueError:
                continue
    points = np.asarray(rows, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"{path}: expected 68 points, got {points.shape}")
    return points


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from openfsgan.face.analyzer import AnalyzerConfig, FaceAnalyzer
    from openfsgan.face.detect import DetectorConfig
    from openfsgan.io.media import read_image
    from openfsgan.types import BoundingBox

    cv2.setNumThreads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=("hog", "cnn"), default="hog")
    parser.add_argument("--upsample", type=int, default=1, help="detector upsampling (0..2)")
    parser.add_argument("--min-score", type=float, default=None,
                        help="detector score threshold (default: the analyzer's)")
    parser.add_argument("--limit", type=int, default=0, help="images per subset (0: all)")
    args = parser.parse_args()
    detector = DetectorConfig(kind=args.detector, upsample=args.upsample)
    if args.min_score is not None:
        detector = replace(detector, min_score=args.min_score)
    analyzer = FaceAnalyzer(AnalyzerConfig(image_detector=detector))

    print(f"| subset ({args.detector}, upsample {args.upsample}) | faces | missed | mean NME | "
          "median NME | "
          "NME > 0.08 | ms per image |")
    print("|---|---|---|---|---|---|---|")
    all_errors: list[float] = []
    all_missed = all_faces = 0
    for name, folder in SUBSETS.items():
        pts_files = sorted(folder.glob("*.pts"))
        if args.limit:
            pts_files = pts_files[: args.limit]
        errors, missed, elapsed = [], 0, 0.0
        for pts in pts_files:
            image_path = next((p for p in (pts.with_suffix(".jpg"), pts.with_suffix(".png"))
                               if p.exists()), None)
            if image_path is None:
                continue
            truth = read_pts(pts)
            truth_box = BoundingBox.around(truth)
            rgb = read_image(image_path)
            start = time.perf_counter()
            faces = analyzer.analyze_image(rgb).faces
            elapsed += time.perf_counter() - start
            best = max(faces, key=lambda f: BoundingBox.around(f.landmarks).iou(truth_box),
                       default=None)
            if best is None or BoundingBox.around(best.landmarks).iou(truth_box) < 0.3:
                missed += 1
                continue
            inter_ocular = float(np.linalg.norm(truth[45] - truth[36]))
            errors.append(float(np.linalg.norm(best.landmarks - truth, axis=1).mean())
                          / inter_ocular)
        count = len(errors) + missed
        e = np.asarray(errors)
        print(f"| {name} | {count} | {missed} ({100 * missed / max(count, 1):.1f} %) | "
              f"{e.mean():.4f} | {np.median(e):.4f} | {100 * (e > 0.08).mean():.1f} % | "
              f"{1000 * elapsed / max(count, 1):.0f} |", flush=True)
        all_errors += errors
        all_missed += missed
        all_faces += count
    e = np.asarray(all_errors)
    print(f"| all | {all_faces} | {all_missed} ({100 * all_missed / max(all_faces, 1):.1f} %) | "
          f"{e.mean():.4f} | {np.median(e):.4f} | {100 * (e > 0.08).mean():.1f} % | |")


if __name__ == "__main__":
    main()
