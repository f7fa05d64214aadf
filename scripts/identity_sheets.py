"""Side-by-side sheets of the identity transfer: source | target | before | after.

"before" is the swap at ``--identity-strength 0`` (the target's geometry, FSGAN's original
swap), "after" at the default strength (the source's face shape through the 3D morphable
model, the target's outline moved onto it, target glasses painted out). Only freely
distributable faces are used (scikit-image's astronaut, matplotlib's Grace Hopper) and
synthetic motion made from them (a head turned by a mesh warp of its own landmarks), so the
sheets may live in ``docs/``. Each sheet also prints the dlib descriptor distances of both
outputs to the source and the target.

Usage::

    python scripts/identity_sheets.py --out docs/identity
    python scripts/identity_sheets.py --out /tmp/sheets --pair SOURCE TARGET   # any photos
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from openfsgan.face.pose import canonical_shape, face_scale, project_landmarks
from openfsgan.geometry.mesh_warp import extend_landmarks, face_mesh
from openfsgan.io.media import read_image, write_image
from openfsgan.jobs import JobOptions, SwapRequest, run_swap
from openfsgan.types import EulerAngles

TILE = 256


def people() -> dict[str, np.ndarray]:
    from matplotlib import cbook
    from PIL import Image
    from skimage import data

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        hopper = np.asarray(Image.open(handle).convert("RGB"))
    return {"astronaut": np.ascontiguousarray(data.astronaut()), "hopper": hopper}


def turned(rgb: np.ndarray, yaw_deg: float) -> np.ndarray:
    """The photo's head turned by ``yaw_deg``: its 68 landmarks' 3D shape rotated and
    projected, the image mesh-warped onto them (synthetic motion, no other person's data)."""
    from openfsgan.face.analyzer import FaceAnalyzer

    face = FaceAnalyzer().analyze_image(rgb).faces[0]
    pose = EulerAngles(face.pose.yaw + yaw_deg, face.pose.pitch, face.pose.roll)
    moved = project_landmarks(canonical_shape(face), pose, face_scale(face),
                              face.landmarks.mean(axis=0))
    height, width = rgb.shape[:2]
    mesh = face_mesh(moved, (height, width))
    return mesh.warp(rgb, extend_landmarks(face.landmarks, width, height))


def face_window(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """A square around the photo's face (1.9 times its landmarks' extent)."""
    from openfsgan.face.analyzer import FaceAnalyzer

    points = FaceAnalyzer().analyze_image(rgb).faces[0].landmarks
    centre = points.mean(axis=0)
    half = 0.95 * float(np.ptp(points, axis=0).max())
    height, width = rgb.shape[:2]
    x0, y0 = max(int(centre[0] - half), 0), max(int(centre[1] - 1.15 * half), 0)
    return x0, y0, min(int(centre[0] + half), width), min(int(centre[1] + 0.85 * half), height)


def tile(rgb: np.ndarray, label: str, window: tuple[int, int, int, int]) -> np.ndarray:
    """The ``window`` of ``rgb`` fitted into a TILE x TILE square with a caption."""
    x0, y0, x1, y1 = window
    rgb = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    height, width = rgb.shape[:2]
    scale = TILE / max(height, width)
    small = cv2.resize(rgb, (round(width * scale), round(height * scale)),
                       interpolation=cv2.INTER_AREA)
    out = np.full((TILE + 28, TILE, 3), 255, np.uint8)
    y0, x0 = (TILE - small.shape[0]) // 2, (TILE - small.shape[1]) // 2
    out[28 + y0:28 + y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    cv2.putText(out, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def swap(source: Path, target: Path, output: Path, strength: float | None) -> np.ndarray:
    run_swap(SwapRequest(source, target, output, watermark=False, overwrite=True,
                         identity_strength=strength), options=JobOptions(use_cache=False))
    return read_image(output)


def distances(describe, output: np.ndarray, source: np.ndarray, target: np.ndarray
              ) -> tuple[float, float]:
    vector = describe(output)
    return (float(np.linalg.norm(vector - describe(source))),
            float(np.linalg.norm(vector - describe(target))))


def sheet(name: str, source: np.ndarray, target: np.ndarray, folder: Path, work: Path,
          describe) -> str:
    source_path = write_image(work / f"{name}_source.png", source)
    target_path = write_image(work / f"{name}_target.png", target)
    before = swap(source_path, target_path, work / f"{name}_before.png", 0.0)
    after = swap(source_path, target_path, work / f"{name}_after.png", None)
    b_src, b_tgt = distances(describe, before, source, target)
    a_src, a_tgt = distances(describe, after, source, target)
    window = face_window(target)
    row = np.concatenate([tile(source, "source", face_window(source)),
                          tile(target, "target", window),
                          tile(before, f"before: src {b_src:.2f} tgt {b_tgt:.2f}", window),
                          tile(after, f"after: src {a_src:.2f} tgt {a_tgt:.2f}", window)],
                         axis=1)
    write_image(folder / f"{name}.png", row)
    return (f"| {name} | {b_src:.3f} | {b_tgt:.3f} | {b_tgt - b_src:+.3f} | {a_src:.3f} | "
            f"{a_tgt:.3f} | {a_tgt - a_src:+.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder of the PNG sheets")
    parser.add_argument("--pair", nargs=2, metavar=("SOURCE", "TARGET"),
                        help="one sheet of two photos of your own instead of the built-in four")
    args = parser.parse_args()
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.metrics.identity import FaceDescriptor

    analyzer, descriptor = FaceAnalyzer(), FaceDescriptor()

    def describe(rgb: np.ndarray) -> np.ndarray:
        return descriptor.describe(rgb, analyzer.analyze_image(rgb).faces[0].landmarks)

    args.out.mkdir(parents=True, exist_ok=True)
    if args.pair:
        pairs = [("pair", read_image(args.pair[0]), read_image(args.pair[1]))]
    else:
        faces = people()
        pairs = [("astronaut_onto_hopper", faces["astronaut"], faces["hopper"]),
                 ("hopper_onto_astronaut", faces["hopper"], faces["astronaut"]),
                 ("hopper_onto_turned_astronaut", faces["hopper"],
                  turned(faces["astronaut"], 20.0)),
                 ("astronaut_onto_turned_hopper", faces["astronaut"],
                  turned(faces["hopper"], -20.0))]
    print("| sheet | before: to source | to target | margin | after: to source | to target "
          "| margin |\n|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for name, source, target in pairs:
            print(sheet(name, source, target, args.out, Path(work), describe), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
