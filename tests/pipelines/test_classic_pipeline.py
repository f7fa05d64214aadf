"""Classic pipeline stages on synthetic faces (no detector): source views, swap, reenactment,
face selection."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.errors import ConfigError, NoFaceError
from openfsgan.face.align import canonical_landmarks
from openfsgan.face.pose import fit_landmarks_3d, project_landmarks, rotation_matrix
from openfsgan.face.template import FACE_TEMPLATE_68
from openfsgan.pipelines.appearance import (
    AppearanceConfig,
    SourceAppearance,
    SourceView,
    TemporalState,
    eye_openness,
    make_source_view,
    open_eyed,
)
from openfsgan.pipelines.classic import (
    ClassicConfig,
    LandmarkSegmenter,
    MeshWarpReenactor,
    NoInpainter,
    PoissonBlender,
    fill_mouth_cavity,
)
from openfsgan.pipelines.reenact import ReenactConfig, reenact_face, retarget_landmarks
from openfsgan.pipelines.select import FaceSelector, face_by_rank
from openfsgan.pipelines.stages import SwapStages
from openfsgan.pipelines.swap import swap_crop, swap_frame
from openfsgan.types import BoundingBox, EulerAngles, Face, FrameFaces

CONFIG = ClassicConfig(crop_size=96)
STAGES = SwapStages(MeshWarpReenactor(CONFIG), LandmarkSegmenter(CONFIG), NoInpainter(),
                    PoissonBlender(CONFIG))
SHARED = AppearanceConfig()
FRONTAL = EulerAngles(0, 0, 0)


def make_face(landmarks: np.ndarray, pose: EulerAngles = FRONTAL,
              track_id: int = 0) -> Face:
    points = np.asarray(landmarks, np.float32)
    landmarks_3d, _ = fit_landmarks_3d(points, rotation_matrix(pose))
    return Face(BoundingBox.around(points), 0.9, points, landmarks_3d, pose, track_id)


def template_face(pose: EulerAngles = FRONTAL, scale: float = 0.9,
                  centre: tuple[float, float] = (100.0, 90.0), track_id: int = 0) -> Face:
    return make_face(project_landmarks(FACE_TEMPLATE_68, pose, scale, centre), pose, track_id)


def textured_frame(seed: int, tint: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   noise: float = 4.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:180, 0:200].astype(np.float32)
    base = np.stack([120 + 60 * np.sin(xx / 9), 110 + 50 * np.cos(yy / 7),
                     100 + 40 * np.sin((xx + yy) / 11)], -1)
    noisy = base + rng.normal(0, noise, base.shape)
    return np.clip(noisy * np.array(tint), 0, 255).astype(np.uint8)


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="poisson_solver"):
        ClassicConfig(poisson_solver="jacobi")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="crop_size"):
        ClassicConfig(crop_size=8)
    with pytest.raises(ConfigError, match="margin"):
        ReenactConfig(margin=0.9)


def _view(yaw: float, pitch: float, value: int) -> SourceView:
    crop = np.full((96, 96, 3), value, np.uint8)
    return SourceView(crop, canonical_landmarks(96, CONFIG.margin), EulerAngles(yaw, pitch, 0))


def test_source_appearance_fuses_views_and_blends_three() -> None:
    views = [_view(-20, -10, 10), _view(20, -10, 20), _view(0, 15, 30), _view(0.5, 15.2, 40)]
    # the last view is a near duplicate of the third but sharper: it is the one kept
    source = SourceAppearance.from_views(views, 3.0, priority=np.array([1, 1, 1, 5.0]))
    assert [int(v.crop[0, 0, 0]) for v in source.views] == [10, 20, 40]
    chosen = source.select(EulerAngles(0.0, 0.0, 0.0))
    assert len(chosen) == 3 and sum(w for _, w in chosen) == pytest.approx(1.0)
    blended_pose = sum(w * np.array([v.pose.yaw, v.pose.pitch]) for v, w in chosen)
    np.testing.assert_allclose(blended_pose, [0.0, 0.0], atol=1e-9)
    # at a view's own pose that view alone is used; tiny weights are dropped
    only = source.select(EulerAngles(20, -10, 0), min_weight=0.05)
    assert len(only) == 1 and only[0][1] == pytest.approx(1.0)


def test_blinking_views_are_recognised() -> None:
    open_points = canonical_landmarks(96)
    shut = open_points.copy()
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        middle = (shut[upper] + shut[lower]) / 2
        shut[upper] = shut[lower] = middle
    assert eye_openness(shut) < 0.02 < 0.2 < eye_openness(open_points)
    np.testing.assert_array_equal(open_eyed([open_points, shut, open_points]),
                                  [True, False, True])


def test_swapping_a_face_with_itself_changes_little() -> None:
    frame = textured_frame(0)
    face = template_face()
    source = SourceAppearance.from_views([make_source_view(frame, face, CONFIG)])
    out = swap_frame(frame, face, source, STAGES)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - frame).mean() < 1.5


def test_swap_changes_only_the_face_region() -> None:
    target = textured_frame(1)
    source_frame = textured_frame(2, tint=(0.6, 0.9, 1.3))[:, ::-1].copy()
    target_face = template_face(EulerAngles(5, 0, 4))
    source_face = template_face(EulerAngles(-3, 2, -6), scale=0.8, centre=(95.0, 95.0))
    source = SourceAppearance.from_views([make_source_view(source_frame, source_face, CONFIG)])
    state = TemporalState.for_video(SHARED)
    swapped = swap_crop(target, target_face, source, STAGES, SHARED, state)
    inside = swapped.mask > 0.9
    assert inside.mean() > 0.2
    # the face interior now differs from the target; outside the mask the crop is the target
    assert np.abs(swapped.blended.astype(int) - swapped.target)[inside].mean() > 5
    outside = swapped.mask < 0.01
    assert np.array_equal(swapped.blended[outside], swapped.target[outside])
    # the frame changes only inside the blended region (pasted back with a thin inner feather);
    # at identity strength 0: with the source's face shape the target's outline is also moved
    # (a displacement near the face, tests/pipelines/test_identity_transfer.py)
    out = swap_frame(target, target_face, source, STAGES, AppearanceConfig(identity_strength=0.0),
                     state)
    changed = np.abs(out.astype(int) - target).max(axis=-1) > 0
    face_box = target_face.box
    ys, xs = np.nonzero(changed)
    assert xs.min() >= face_box.x0 - 3 and xs.max() <= face_box.x1 + 3
    assert ys.max() <= face_box.y1 + 3 and ys.min() >= face_box.y0 - 0.5 * face_box.height
    assert state.track_id == 0 and state.color.state is not None


def test_temporal_state_round_trips_through_json() -> None:
    frame = textured_frame(3)
    face = template_face()
    source = SourceAppearance.from_views([make_source_view(frame, face, CONFIG)])
    state = TemporalState.for_video(SHARED)
    swap_frame(frame, face, source, STAGES, SHARED, state)
    restored = TemporalState.for_video(SHARED)
    restored.load_dict(state.to_dict())
    assert restored.track_id == state.track_id
    assert restored.color.state is not None and state.color.state is not None
    np.testing.assert_allclose(restored.color.state[1].mean, state.color.state[1].mean)


def test_retargeting_transfers_the_drivers_motion() -> None:
    source = template_face(EulerAngles(0, 0, 0), scale=0.9, centre=(100.0, 90.0))
    reference = template_face(EulerAngles(0, 0, 0), scale=1.8, centre=(300.0, 200.0))
    np.testing.assert_allclose(retarget_landmarks(source, reference, reference),
                               source.landmarks, atol=1e-3)
    # the driver turns its head (roll 10 deg) and moves 36 px right (20 of its face units)
    driver = template_face(EulerAngles(0, 0, 10), scale=1.8, centre=(336.0, 200.0))
    driven = retarget_landmarks(source, driver, reference)
    expected = project_landmarks(FACE_TEMPLATE_68, EulerAngles(0, 0, 10), 0.9, (118.0, 90.0))
    np.testing.assert_allclose(driven, expected, atol=0.5)


def test_reenactment_moves_the_face_and_keeps_the_frame() -> None:
    frame = textured_frame(4, noise=0.0)
    face = template_face()
    config = ReenactConfig(margin=0.3)
    reenactor = MeshWarpReenactor(reenact=config)
    prepared = reenactor.prepare(frame, face)
    still = reenact_face(reenactor, prepared, face, face, config)
    assert still.shape == frame.shape and np.abs(still.astype(int) - frame).mean() < 1.0
    moved = template_face(EulerAngles(0, 0, 12))
    out = reenact_face(reenactor, prepared, moved, face, config)
    assert np.abs(out.astype(int) - frame).mean() > 2.0


def test_an_opening_mouth_gets_the_drivers_mouth_interior() -> None:
    crop = np.full((96, 96, 3), 150, np.uint8)
    closed = canonical_landmarks(96, 0.2)
    opened = closed.copy()
    opened[[65, 66, 67, 55, 56, 57, 58, 59], 1] += 8.0  # lower lip down: mouth open
    assert fill_mouth_cavity(crop, closed, closed) is crop
    dark = fill_mouth_cavity(crop, closed, opened)
    centre = np.round(opened[[62, 66]].mean(axis=0)).astype(int)
    assert dark[centre[1], centre[0]].max() < 100  # painted dark
    driver = np.full((96, 96, 3), 150, np.uint8)
    driver[int(opened[62, 1]):int(opened[66, 1]) + 1, 30:66] = 250  # "teeth"
    teeth = fill_mouth_cavity(crop, closed, opened, driver, opened)
    assert teeth[centre[1], centre[0]].min() > 200
    assert np.array_equal(teeth[:20], crop[:20])


def _frame(*faces: Face, index: int = 0) -> FrameFaces:
    return FrameFaces(index, index / 25.0, tuple(faces))


def test_selector_follows_the_largest_face_by_track() -> None:
    small = template_face(scale=0.5, centre=(40, 40), track_id=0)
    big = template_face(scale=0.9, centre=(120, 100), track_id=1)
    bigger = template_face(scale=1.0, centre=(40, 40), track_id=0)
    selector = FaceSelector()
    assert selector.select(_frame(small, big)).track_id == 1
    # face 0 grows past face 1: the swap keeps following face 1
    assert selector.select(_frame(bigger, big, index=1)).track_id == 1
    # face 1 leaves: the largest present takes over
    assert selector.select(_frame(bigger, index=2)).track_id == 0
    assert selector.select(_frame(index=3)) is None


def test_selector_by_number_and_by_reference() -> None:
    a = template_face(scale=0.5, centre=(40, 40), track_id=0)
    b = template_face(scale=0.9, centre=(120, 100), track_id=1)
    assert FaceSelector(face_index=0).select(_frame(a, b)).track_id == 0
    assert FaceSelector(face_index=5).select(_frame(a, b)) is None
    assert face_by_rank(_frame(a, b), 0) is b
    with pytest.raises(NoFaceError, match="2 face"):
        face_by_rank(_frame(a, b), 2)
    with pytest.raises(NoFaceError, match="no face"):
        face_by_rank(_frame(), 0)
    # a describer that tells faces apart by their position
    calls: list[int] = []

    def describe(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        calls.append(1)
        return np.array([landmarks[:, 0].mean() / 100.0, 0.0])

    selector = FaceSelector(reference=np.array([1.2, 0.0]), describer=describe)
    rgb = np.zeros((10, 10, 3), np.uint8)
    assert selector.select(_frame(a, b), rgb).track_id == 1
    assert selector.select(_frame(a, b, index=1), rgb).track_id == 1
    assert len(calls) <= 4  # matched tracks are not described again
    nobody = FaceSelector(reference=np.array([9.0, 9.0]), describer=describe)
    assert nobody.select(_frame(a, b), rgb) is None
