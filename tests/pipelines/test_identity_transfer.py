"""Identity transfer: the swap carries the source's face shape (3D morphable model), moves the
target's outline onto it and paints out target glasses.

The two-person test swaps scikit-image's astronaut and matplotlib's Grace Hopper both ways
through the library entry point and judges each output with the dlib descriptor: within 0.5 of
its source and at least 0.15 nearer the source than the target. The target's geometry
(``identity_strength=0``, FSGAN's original swap) fails that bar; the default passes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openfsgan.face.align import estimate_alignment, transform_points, warp_to_crop
from openfsgan.geometry.mesh_warp import forehead_points
from openfsgan.io.media import read_image, write_image
from openfsgan.jobs import JobOptions, SwapRequest, run_swap
from openfsgan.pipelines.identity import (
    DEFAULT_IDENTITY_STRENGTH,
    TrackIdentity,
    move_target_face,
    target_geometry,
    views_identity,
)
from openfsgan.pipelines.occluders import glasses_mask, remove_glasses

MAX_SOURCE_DISTANCE = 0.5
MIN_MARGIN = 0.15
PAIRS = [("astronaut", "hopper"), ("hopper", "astronaut")]


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from matplotlib import cbook
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("people")
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        hopper = np.asarray(Image.open(handle).convert("RGB"))
    return {"astronaut": write_image(folder / "astronaut.png", data.astronaut()),
            "hopper": write_image(folder / "hopper.png", hopper)}


@pytest.fixture(scope="module")
def judge(people: dict[str, Path]):
    """Descriptor distances of an output photo to the two people."""
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.metrics.identity import FaceDescriptor

    analyzer, descriptor = FaceAnalyzer(), FaceDescriptor()

    def describe(rgb: np.ndarray) -> np.ndarray:
        face = analyzer.analyze_image(rgb).faces[0]
        return descriptor.describe(rgb, face.landmarks)

    own = {name: describe(read_image(path)) for name, path in people.items()}

    def distances(output: Path, source: str, target: str) -> tuple[float, float]:
        vector = describe(read_image(output))
        return (float(np.linalg.norm(vector - own[source])),
                float(np.linalg.norm(vector - own[target])))

    return distances


@pytest.fixture(scope="module")
def faces(people: dict[str, Path]):
    from openfsgan.face.analyzer import FaceAnalyzer

    analyzer = FaceAnalyzer()
    return {name: analyzer.analyze_image(read_image(path)).faces[0]
            for name, path in people.items()}


def swap(people: dict[str, Path], source: str, target: str, folder: Path,
         strength: float | None) -> Path:
    output = folder / f"{source}_on_{target}_{strength}.png"
    run_swap(SwapRequest(people[source], people[target], output, watermark=False,
                         identity_strength=strength), options=JobOptions(use_cache=False))
    return output


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_the_swap_looks_like_the_source_at_the_default_strength(people, judge, tmp_path,
                                                                source, target):
    assert DEFAULT_IDENTITY_STRENGTH > 0
    to_source, to_target = judge(swap(people, source, target, tmp_path, None), source, target)
    assert to_source <= MAX_SOURCE_DISTANCE, (to_source, to_target)
    assert to_target - to_source >= MIN_MARGIN, (to_source, to_target)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_the_target_geometry_alone_fails_the_same_bar(people, judge, tmp_path, source, target):
    to_source, to_target = judge(swap(people, source, target, tmp_path, 0.0), source, target)
    assert to_source > MAX_SOURCE_DISTANCE or to_target - to_source < MIN_MARGIN


def test_strength_zero_keeps_the_target_landmarks_and_one_moves_them(faces):
    source = views_identity([faces["hopper"].landmarks], 512)
    target = faces["astronaut"]
    size = (512, 512)
    assert target_geometry(target.landmarks, size, source, 0.0) is target.landmarks
    assert target_geometry(target.landmarks, size, None, 1.0) is target.landmarks
    moved = target_geometry(target.landmarks, size, source, 1.0)
    half = target_geometry(target.landmarks, size, source, 0.5)
    shift = np.linalg.norm(moved - target.landmarks, axis=1).mean()
    assert shift > 0.01 * target.inter_ocular
    # the offset is linear in the strength
    assert np.allclose(half - target.landmarks, 0.5 * (moved - target.landmarks), atol=1e-3)
    # a face given its own shape does not move
    itself = views_identity([target.landmarks], 512)
    same = target_geometry(target.landmarks, size, itself, 1.0)
    assert np.abs(same - target.landmarks).max() < 1e-3


def test_a_track_pools_its_faces_and_starts_over_on_a_new_track(faces):
    from openfsgan.face.pose import rotation_matrix

    def face(name: str) -> tuple[np.ndarray, np.ndarray]:
        return faces[name].landmarks, rotation_matrix(faces[name].pose)

    track = TrackIdentity()
    first = track.update(*face("astronaut"), track_id=0)
    again = track.update(*face("astronaut"), track_id=0)
    assert track.pool.count == 2
    other = track.update(*face("hopper"), track_id=7)
    assert track.pool.count == 1  # a new track: Hopper's pool does not hold the astronaut
    # the same face twice is the same person (more evidence, a little less prior shrinkage)
    repeat = np.linalg.norm(again.identity - first.identity)
    assert repeat < 0.25 * np.linalg.norm(other.identity - first.identity)


def test_moving_the_outline_carries_the_jaw_and_leaves_the_rest(faces, people):
    frame = read_image(people["hopper"])
    points = faces["hopper"].landmarks.astype(np.float64)
    centre = points.mean(axis=0)
    narrower = points.copy()
    narrower[:17, 0] = centre[0] + 0.9 * (points[:17, 0] - centre[0])  # a narrower jaw
    assert move_target_face(frame, points, points) is frame
    moved = move_target_face(frame, points, narrower)
    assert moved.shape == frame.shape and moved is not frame
    # only near the face anything changes (a box 0.25 face sizes around it); at the jaw it did
    changed_y, changed_x = np.nonzero((moved != frame).any(axis=2))
    face = np.concatenate([points, forehead_points(points), narrower, forehead_points(narrower)])
    size = float(np.ptp(face, axis=0).max())
    low, high = face.min(axis=0) - 0.26 * size, face.max(axis=0) + 0.26 * size
    assert changed_x.min() >= low[0] and changed_x.max() <= high[0]
    assert changed_y.min() >= low[1] and changed_y.max() <= high[1]
    jaw = np.round(narrower[3]).astype(int)
    assert not np.array_equal(moved[jaw[1] - 3:jaw[1] + 3, jaw[0] - 6:jaw[0] + 6],
                              frame[jaw[1] - 3:jaw[1] + 3, jaw[0] - 6:jaw[0] + 6])


def test_moving_the_outline_is_the_float_blend_of_the_resampled_box(faces, people):
    # the displacement in full float arithmetic, as first written: the (faster) move gives the
    # same frame up to rounding
    import cv2

    from openfsgan.geometry.mesh_warp import TriangleMesh, border_points

    frame = read_image(people["hopper"])
    points = faces["hopper"].landmarks.astype(np.float64)
    centre = points.mean(axis=0)
    moved_points = points + 0.08 * (points - centre)  # a wider face, every point moving
    moved_points[48:68, 1] += 4.0  # and the mouth lower
    face_src = np.concatenate([points, forehead_points(points)])
    face_dst = np.concatenate([moved_points, forehead_points(moved_points)])
    both = np.concatenate([face_src, face_dst])
    size = float(np.ptp(both, axis=0).max())
    x0, y0 = np.maximum(np.floor(both.min(axis=0) - 0.25 * size).astype(int), 0)
    x1, y1 = np.ceil(both.max(axis=0) + 0.25 * size).astype(int)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    offset = np.array([x0, y0], np.float64)
    pins = border_points(x1 - x0, y1 - y0, 5)
    mesh = TriangleMesh.build(np.concatenate([face_dst - offset, pins]), (y1 - y0, x1 - x0))
    map_x, map_y = mesh.maps_from(np.concatenate([face_src - offset, pins]))
    box = frame[y0:y1, x0:x1].astype(np.float32)
    resampled = cv2.remap(frame[y0:y1, x0:x1], map_x, map_y, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    ys, xs = np.mgrid[0:y1 - y0, 0:x1 - x0].astype(np.float32)
    weight = np.clip((np.hypot(map_x - xs, map_y - ys) - 0.1) / 0.4, 0.0, 1.0)[..., None]
    expected = frame.copy()
    expected[y0:y1, x0:x1] = np.clip(box + weight * (resampled - box) + 0.5, 0, 255)
    moved = move_target_face(frame, points, moved_points)
    difference = np.abs(moved.astype(int) - expected)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3
    assert (moved != frame).any(axis=2).mean() > 0.05  # the face did move


def crop_of(frame: np.ndarray, face):
    transform = estimate_alignment(face.landmarks, 256)
    return warp_to_crop(frame, transform), transform_points(face.landmarks, transform.matrix), \
        transform


def test_glasses_are_found_on_hopper_and_not_on_the_astronaut(faces, people):
    hopper, hopper_points, _ = crop_of(read_image(people["hopper"]), faces["hopper"])
    astronaut, astronaut_points, _ = crop_of(read_image(people["astronaut"]),
                                             faces["astronaut"])
    found = glasses_mask(hopper, hopper_points)
    assert found is not None and found.sum() > 200
    assert glasses_mask(astronaut, astronaut_points) is None


def test_drawn_glasses_are_painted_out_and_a_bare_face_is_left_alone(faces, people):
    import cv2

    frame = read_image(people["astronaut"])
    face = faces["astronaut"]
    crop, points, transform = crop_of(frame, face)
    assert remove_glasses(frame, crop, points, transform) is frame
    # draw a dark frame: two rims and a bridge across the nose
    worn = frame.copy()
    pts = face.landmarks
    radius = int(0.3 * face.inter_ocular)
    for eye in (pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)):
        cv2.circle(worn, tuple(int(v) for v in eye), radius, (20, 20, 30), 4)
    cv2.line(worn, tuple(int(v) for v in pts[39] + (radius // 3, -radius // 3)),
             tuple(int(v) for v in pts[42] + (-radius // 3, -radius // 3)), (20, 20, 30), 4)
    worn_crop, _, _ = crop_of(worn, face)
    cleaned = remove_glasses(worn, worn_crop, points, transform)
    assert cleaned is not worn
    ring = (worn != frame).any(axis=2)
    still_dark = np.linalg.norm(cleaned[ring].astype(float) - (20, 20, 30), axis=1) < 40
    assert still_dark.mean() < 0.1, still_dark.mean()  # painted out, not half faded
