"""Self-reenactment accuracy of ``openfsgan reenact``: the source photo is the driver clip's own
first frame, so each output frame should reproduce the driver's frame.

With ``--source PHOTO`` (another person) the clip drives that photo instead (cross-identity),
and the head-pose change error is measured: the angle between the driver's rotation since its
first frame and the output's rotation since the source photo (degrees, median over frames).

Per method (``classic``, ``neural``), over the first ``--frames`` frames of the clip (each
driver frame's face found by the project's analyzer): the keypoint error (mean distance
between the 68 landmarks detected on the output and on the driver frame, in % of the driver's
eye distance), the L1 error (grey levels) and the PSNR (dB) inside the driver face's box grown
by 25 %. Medians over the frames. ``--frames-dir`` writes driver | classic | neural PNGs of a
few frames there (keep them out of the repository: the clips are research data).

Default clip: the shared research video ``video-retalking/examples/face/1.mp4``.

Usage::

    python benchmarks/reenact_self.py [--clip CLIP] [--frames 40] [--frames-dir DIR]
    python benchmarks/reenact_self.py --source PHOTO [--clip CLIP] [--frames 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

import numpy as np

from openfsgan.pipelines.stages import Reenactor
from openfsgan.types import Face

SHARED = Path(os.environ.get("OPENFSGAN_SHARED_FACES",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"))
DEFAULT_CLIP = SHARED / "video-retalking" / "examples" / "face" / "1.mp4"


def _reenactor(method: str) -> Reenactor:
    from openfsgan.inference import NeuralModels
    from openfsgan.pipelines.config import build_reenactor, resolve_config

    return build_reenactor(resolve_config(method), NeuralModels.load)


def _box(face: Face, shape: tuple[int, ...]) -> tuple[slice, slice]:
    box, grow = face.box, 0.25
    x0 = int(max(0, box.x0 - grow * box.width))
    x1 = int(min(shape[1], box.x1 + grow * box.width))
    y0 = int(max(0, box.y0 - grow * box.height))
    y1 = int(min(shape[0], box.y1 + grow * box.height))
    return slice(y0, y1), slice(x0, x1)


def measure(clip: Path, frames: int, frames_dir: Path | None) -> dict[str, dict[str, float]]:
    """The medians per method (see the module docstring)."""
    import cv2

    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.io.media import iter_frames
    from openfsgan.pipelines.reenact import reenact_face

    analyzer = FaceAnalyzer()
    driver = [f.rgb for _, f in zip(range(frames), iter_frames(clip), strict=False)]
    faces = [analyzer.analyze_image(rgb).faces for rgb in driver]
    reference = faces[0][0]
    results: dict[str, dict[str, float]] = {}
    outputs: dict[str, list[np.ndarray]] = {}
    for method in ("classic", "neural"):
        reenactor = _reenactor(method)
        source = reenactor.prepare(driver[0], reference)
        errors, l1, psnr, outs = [], [], [], []
        for rgb, found in zip(driver, faces, strict=True):
            if not found:
                continue
            out = reenact_face(reenactor, source, found[0], reference, driver_rgb=rgb)
            outs.append(out)
            seen = analyzer.analyze_image(out).faces
            truth = found[0].landmarks
            eyes = float(np.linalg.norm(truth[36:42].mean(axis=0) - truth[42:48].mean(axis=0)))
            if seen:
                errors.append(100.0 * float(np.linalg.norm(seen[0].landmarks - truth,
                                                           axis=1).mean()) / eyes)
            region = _box(found[0], rgb.shape)
            diff = out[region].astype(np.float64) - rgb[region]
            l1.append(float(np.abs(diff).mean()))
            psnr.append(float(10 * np.log10(255.0 ** 2 / max((diff ** 2).mean(), 1e-9))))
        results[method] = {"keypoint_error_pct": statistics.median(errors),
                           "l1": statistics.median(l1), "psnr_db": statistics.median(psnr),
                           "frames": len(l1), "missed_detections": len(l1) - len(errors)}
        outputs[method] = outs
    if frames_dir is not None:
        frames_dir.mkdir(parents=True, exist_ok=True)
        for index in np.linspace(0, len(outputs["classic"]) - 1, 4).astype(int):
            row = np.hstack([driver[index], outputs["classic"][index], outputs["neural"][index]])
            cv2.imwrite(str(frames_dir / f"self_reenact_{index:03d}.png"),
                        cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
    return results


def pose_change_error(clip: Path, photo: Path, frames: int) -> dict[str, dict[str, float]]:
    """Cross-identity: the median head-pose change error (degrees) per method."""
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.face.pose import rotation_matrix
    from openfsgan.io.media import iter_frames, read_image
    from openfsgan.pipelines.reenact import reenact_face

    analyzer = FaceAnalyzer()
    image = read_image(photo)
    source_face = analyzer.analyze_image(image).faces[0]
    driver = [f.rgb for _, f in zip(range(frames), iter_frames(clip), strict=False)]
    faces = [analyzer.analyze_image(rgb).faces for rgb in driver]
    reference = faces[0][0]
    results: dict[str, dict[str, float]] = {}
    for method in ("classic", "neural"):
        reenactor = _reenactor(method)
        source = reenactor.prepare(image, source_face)
        errors = []
        for rgb, found in zip(driver, faces, strict=True):
            if not found:
                continue
            out = reenact_face(reenactor, source, found[0], reference, driver_rgb=rgb)
            seen = analyzer.analyze_image(out).faces
            if not seen:
                continue
            wanted = rotation_matrix(found[0].pose) @ rotation_matrix(reference.pose).T
            got = rotation_matrix(seen[0].pose) @ rotation_matrix(source_face.pose).T
            cos = (np.trace(wanted.T @ got) - 1.0) / 2.0
            errors.append(float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))))
        results[method] = {"pose_change_error_deg": statistics.median(errors),
                           "frames": len(errors)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--frames-dir", type=Path, default=None)
    parser.add_argument("--source", type=Path, default=None,
                        help="another person's photo: measure the cross-identity pose change")
    args = parser.parse_args()
    if args.source is not None:
        print(json.dumps(pose_change_error(args.clip, args.source, args.frames), indent=2))
        return
    print(json.dumps(measure(args.clip, args.frames, args.frames_dir), indent=2))


if __name__ == "__main__":
    main()
