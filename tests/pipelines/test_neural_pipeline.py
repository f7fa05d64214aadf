"""The neural path on the shipped generators: stage helpers, a swap and a reenactment."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.errors import ConfigError
from openfsgan.face.align import crop_footprint
from openfsgan.pipelines.appearance import AppearanceConfig
from openfsgan.pipelines.neural import (
    GeneratorBlender,
    GeneratorInpainter,
    GeneratorReenactor,
    GeneratorSegmenter,
    NeuralConfig,
    NeuralReenactSource,
    Reenactment,
    crop_face,
    face_region,
    from_network,
    inpaint,
    landmark_goal,
    reached_landmarks,
    refine_geometry,
    softmax,
    to_network,
)
from openfsgan.pipelines.reenact import reenact_frame
from openfsgan.pipelines.stages import SwapStages
from openfsgan.pipelines.swap import swap_crop, swap_frame

SHARED = AppearanceConfig()


def neural_stages(models, config: NeuralConfig) -> SwapStages:
    """The four generators as the swap's stages."""
    return SwapStages(GeneratorReenactor(models, config), GeneratorSegmenter(models, config),
                      GeneratorInpainter(models, config), GeneratorBlender(models, config))


@pytest.fixture(scope="module")
def models():
    from openfsgan.inference import NeuralModels

    return NeuralModels.load(threads=1)


@pytest.fixture(scope="module")
def astronaut_faces(astronaut_rgb: np.ndarray):
    from openfsgan.face.analyzer import FaceAnalyzer

    analyzer = FaceAnalyzer()
    frame = np.ascontiguousarray(astronaut_rgb)
    mirrored = np.ascontiguousarray(astronaut_rgb[:, ::-1])
    return (frame, analyzer.analyze_image(frame).faces[0],
            mirrored, analyzer.analyze_image(mirrored).faces[0])


def test_conversions_and_helpers() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert to_network(rgb).shape == (1, 3, 32, 32)
    assert np.array_equal(from_network(to_network(rgb)), rgb)
    probs = softmax(np.random.default_rng(1).normal(size=(2, 3, 4, 4)).astype(np.float32))
    assert np.allclose(probs.sum(axis=1), 1.0)
    with pytest.raises(ConfigError):
        NeuralConfig(reenactment_steps=0)
    with pytest.raises(ConfigError):
        NeuralConfig(detail_factor=0)
    with pytest.raises(ConfigError):
        NeuralConfig(landmark_tolerance=0.5)
    assert NeuralConfig(detail_factor=3).source_config(128).crop_size == 384


def test_inpaint_smooths_only_what_g_c_painted() -> None:
    class CheckerboardFill:
        def __call__(self, image: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
            board = np.where((np.indices((64, 64)).sum(axis=0) % 2) == 0, 0.5, -0.5)
            return [image * (1 - mask) + board.astype(np.float32) * mask]

    class Models:
        inpainting = CheckerboardFill()

    rng = np.random.default_rng(3)
    reenacted = rng.uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
    reenacted_face = np.ones((1, 1, 64, 64), np.float32)
    reenacted_face[..., 20:40, 20:40] = 0.0
    target_face = np.ones((1, 1, 64, 64), np.float32)
    raw = inpaint(Models(), reenacted, reenacted_face, target_face)  # type: ignore[arg-type]
    smooth = inpaint(Models(), reenacted, reenacted_face, target_face, 1.0)  # type: ignore[arg-type]
    assert np.ptp(raw[..., 24:36, 24:36]) == pytest.approx(1.0)
    assert np.ptp(smooth[..., 24:36, 24:36]) < 0.05
    outside = np.ones((64, 64), bool)
    outside[20:40, 20:40] = False
    assert np.array_equal(smooth[..., outside], reenacted[..., outside])
    assert inpaint(Models(), reenacted, target_face, target_face, 1.0) is reenacted  # no hole


def test_face_region_covers_the_landmarks_and_forehead() -> None:
    from openfsgan.face.align import canonical_landmarks

    points = canonical_landmarks(128)
    region = face_region(points, 128, 0.04)
    assert region.dtype == np.float32 and set(np.unique(region)) <= {0.0, 1.0}
    inside = np.round(points).astype(int)
    assert region[inside[:, 1], inside[:, 0]].all()
    brow_y = int(points[17:27, 1].min())
    assert region[brow_y - 8, 64] == 1.0  # forehead above the brows
    assert region[2, 2] == 0.0 and region[125, 2] == 0.0


def test_crop_face_refits_pose_in_the_crop(astronaut_faces) -> None:
    from openfsgan.face.align import estimate_alignment, transform_points

    _, face, _, _ = astronaut_faces
    transform = estimate_alignment(face.landmarks, 128)
    local = crop_face(transform_points(face.landmarks, transform.matrix), 128)
    assert local.landmarks.shape == (68, 2) and local.landmarks_3d.shape == (68, 3)
    assert abs(local.pose.yaw - face.pose.yaw) < 10.0


def _high_frequency_energy(image: np.ndarray) -> float:
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.mean(cv2.Laplacian(gray, cv2.CV_32F) ** 2))


@pytest.mark.parametrize("factor", [1, 4])
def test_neural_swap_of_the_astronaut(models, astronaut_faces, factor: int) -> None:
    from openfsgan.pipelines.appearance import SourceAppearance, make_source_view

    frame, face, mirrored, mirrored_face = astronaut_faces
    config = NeuralConfig(detail_factor=factor)
    view = make_source_view(mirrored, mirrored_face, config.source_config(models.resolution))
    source = SourceAppearance.from_views([view], 0.0)
    crop = swap_crop(frame, face, source, neural_stages(models, config))
    size = models.resolution
    assert crop.blended.shape == crop.reenacted.shape == (size, size, 3)
    # the astronaut's face spans about twice the generators' crop in the photo
    expected = size * (2 if factor > 1 else 1)
    assert crop.output.shape == (expected, expected, 3)
    assert crop.output_mask.shape == (expected, expected)
    assert crop.output_transform.crop_size == expected
    # the segmentation finds a face of plausible size, and G_b keeps the target outside it
    assert 0.1 < (crop.mask > 0.5).mean() < 0.7
    outside = crop.mask <= 0.5
    assert np.abs(crop.blended[outside].astype(int) - crop.target[outside]).max() <= 1
    out = swap_frame(frame, face, source, neural_stages(models, config))
    assert out.shape == frame.shape and out.dtype == np.uint8
    changed = np.abs(out.astype(int) - frame).sum(axis=2) > 0
    ys, xs = np.nonzero(changed)
    box = face.box
    # changes stay around the face and leave the rest of the frame untouched
    assert changed.any()
    assert xs.min() >= box.x0 - 0.5 * box.width and xs.max() <= box.x1 + 0.5 * box.width
    assert ys.min() >= box.y0 - 0.8 * box.height and ys.max() <= box.y1 + 0.5 * box.height


def test_neural_swap_keeps_a_videos_state_per_track(models, astronaut_faces) -> None:
    from dataclasses import replace

    from openfsgan.pipelines.appearance import SourceAppearance, TemporalState, make_source_view

    frame, face, mirrored, mirrored_face = astronaut_faces
    config = NeuralConfig(detail_factor=1)
    view = make_source_view(mirrored, mirrored_face, config.source_config(models.resolution))
    source = SourceAppearance.from_views([view], 0.0)
    stages = neural_stages(models, config)
    state = TemporalState.for_video(SHARED)
    darker = (frame * 0.6).astype(np.uint8)
    swap_frame(darker, face, source, stages, SHARED, state)
    assert state.track_id == face.track_id and state.color.state is not None
    # the same face on the next frame is smoothed with the last one ...
    smoothed = swap_frame(frame, face, source, stages, SHARED, state)
    fresh = swap_frame(frame, face, source, stages, SHARED, TemporalState.for_video(SHARED))
    assert not np.array_equal(smoothed, fresh)
    # ... another face (a new track) starts afresh, as with a new state
    state = TemporalState.for_video(SHARED)
    swap_frame(darker, face, source, stages, SHARED, state)
    other = replace(face, track_id=face.track_id + 1)
    again = swap_frame(frame, other, source, stages, SHARED, state)
    assert state.track_id == other.track_id
    assert np.array_equal(again, fresh)


def test_the_detail_layer_sharpens_the_swapped_face(models, astronaut_faces) -> None:
    from openfsgan.pipelines.appearance import SourceAppearance, make_source_view

    frame, face, mirrored, mirrored_face = astronaut_faces
    outputs = {}
    for factor in (1, 4):
        config = NeuralConfig(detail_factor=factor)
        view = make_source_view(mirrored, mirrored_face, config.source_config(models.resolution))
        outputs[factor] = swap_frame(frame, face, SourceAppearance.from_views([view], 0.0),
                                     neural_stages(models, config))
    box = face.box
    inner = (slice(int(box.y0 + 0.3 * box.height), int(box.y1 - 0.1 * box.height)),
             slice(int(box.x0 + 0.2 * box.width), int(box.x1 - 0.2 * box.width)))
    plain, detailed = (_high_frequency_energy(outputs[f][inner]) for f in (1, 4))
    assert detailed > 1.3 * plain
    # the detail is high frequency only: the face's colour stays the networks'
    means = [outputs[f][inner].mean(axis=(0, 1)) for f in (1, 4)]
    assert np.abs(means[1] - means[0]).max() < 2


def _astronaut_crop(astronaut_faces, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    from openfsgan.face.align import estimate_alignment, transform_points, warp_to_crop

    frame, face, _, _ = astronaut_faces
    transform = estimate_alignment(face.landmarks, size)
    return warp_to_crop(frame, transform), transform_points(face.landmarks, transform.matrix)


def _miss(a: np.ndarray, b: np.ndarray) -> float:
    """Mean landmark distance in % of the eye distance of ``b``."""
    eyes = np.linalg.norm(b[36:42].mean(axis=0) - b[42:48].mean(axis=0))
    return float(np.linalg.norm(a - b, axis=1).mean() / eyes * 100)


def test_reached_landmarks_finds_the_face_in_a_crop(astronaut_faces) -> None:
    crop, points = _astronaut_crop(astronaut_faces)
    assert _miss(reached_landmarks(crop, points), points) < 4.0
    # the search box comes from the wanted landmarks, but the answer from the image
    assert _miss(reached_landmarks(crop, points + np.array([2.0, 1.0])), points) < 4.0


def test_landmark_goal_keeps_small_misses_and_gives_up_on_huge_ones() -> None:
    from openfsgan.face.align import canonical_landmarks

    wanted = canonical_landmarks(128)
    eyes = np.linalg.norm(wanted[36:42].mean(axis=0) - wanted[42:48].mean(axis=0))
    reached = wanted.copy()
    reached[0] += [0.02 * eyes, 0.0]  # a small miss: kept as it is
    reached[48] += [0.0, 0.10 * eyes]  # a large one: brought down to the tolerance
    goal = landmark_goal(reached, wanted, tolerance=0.03, max_error=0.15)
    assert goal is not None
    assert np.allclose(goal[0], reached[0], atol=1e-4)
    assert np.allclose(goal[48], wanted[48] + [0.0, 0.03 * eyes], atol=1e-4)
    assert np.allclose(goal[1:48], wanted[1:48])
    assert np.allclose(landmark_goal(reached, wanted, 0.0, 0.15), wanted, atol=1e-4)
    assert landmark_goal(wanted + 0.2 * eyes, wanted, 0.03, 0.15) is None


def test_refine_geometry_moves_the_face_onto_the_wanted_landmarks(astronaut_faces) -> None:
    crop, points = _astronaut_crop(astronaut_faces)
    wanted = points.copy()
    wanted[48:68, 1] += 3.0  # a lower mouth
    wanted[17:27, 1] -= 2.0  # raised brows
    image = to_network(crop)
    probs = np.zeros((1, 3, 128, 128), np.float32)
    probs[:, 1, 40:100, 40:90] = 1.0
    detail = np.zeros((256, 256, 3), np.float32)
    detail[100:200:2] = 10.0
    done = refine_geometry(Reenactment(image, probs, detail), wanted, 0.15)
    before = _miss(reached_landmarks(crop, wanted), wanted)
    after = _miss(reached_landmarks(from_network(done.image), wanted), wanted)
    assert before > 4.0 and after < 0.6 * before
    assert done.image.shape == image.shape and done.probs.shape == probs.shape
    assert done.detail is not None and done.detail.shape == detail.shape
    # the crop's border stays where it is
    assert np.abs(done.image[..., 0, :] - image[..., 0, :]).max() < 0.01
    assert np.abs(done.image[..., :, -1] - image[..., :, -1]).max() < 0.01
    # landmarks nowhere near the face are a failed detection: nothing changes
    lost = refine_geometry(Reenactment(image, probs, detail), wanted + 30.0, 0.15)
    assert lost.image is image


def test_neural_reenactment_keeps_the_source_frame(models, astronaut_faces) -> None:
    frame, face, _, _ = astronaut_faces
    source = NeuralReenactSource.prepare(models, frame, face)
    driven = face.landmarks + np.array([3.0, 0.0], np.float32)
    out = reenact_frame(GeneratorReenactor(models), source, driven)
    assert out.shape == frame.shape
    # outside the pasted crop's footprint (the classic reenactment's wide crop) the frame is
    # the source's own
    x0, y0, x1, y1 = crop_footprint(source.transform, frame.shape)
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert outside.any() and np.array_equal(out[outside], frame[outside])
    assert source.detail_crop is not None and source.detail_crop.shape[0] == 256
    plain_reenactor = GeneratorReenactor(models, NeuralConfig(detail_factor=1))
    plain = reenact_frame(plain_reenactor, plain_reenactor.prepare(frame, face), driven)
    box = face.box
    inner = (slice(int(box.y0 + 0.3 * box.height), int(box.y1 - 0.1 * box.height)),
             slice(int(box.x0 + 0.2 * box.width), int(box.x1 - 0.2 * box.width)))
    assert _high_frequency_energy(out[inner]) > 1.3 * _high_frequency_energy(plain[inner])


def _moved_photo(photo: np.ndarray, centre: np.ndarray, dx: float, dy: float, angle: float,
                 scale: float) -> np.ndarray:
    """The photo moved, rolled (degrees) and scaled about ``centre``: a synthetic driver frame."""
    import cv2

    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(photo, matrix, photo.shape[1::-1], borderMode=cv2.BORDER_REFLECT)


def test_neural_self_reenactment_follows_the_drivers_motion(models, astronaut_rgb) -> None:
    """Self-reenactment: the source is the driver's first frame, so each output must reproduce
    the driver frame; its detected landmarks follow the driver's motion within 5 % of the eye
    distance (G_r alone cannot move or scale a face within its crop: 19-23 % before)."""
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.pipelines.reenact import reenact_face

    analyzer = FaceAnalyzer()
    photo = np.ascontiguousarray(astronaut_rgb)
    reference = analyzer.analyze_image(photo).faces[0]
    reenactor = GeneratorReenactor(models)
    source = reenactor.prepare(photo, reference)
    centre = reference.landmarks.mean(axis=0)
    for motion in [(12.0, 0.0, 0.0, 1.0), (-10.0, 6.0, -8.0, 1.08), (8.0, 8.0, 4.0, 0.93)]:
        frame = _moved_photo(photo, centre, *motion)
        driver = analyzer.analyze_image(frame).faces[0]
        out = reenact_face(reenactor, source, driver, reference, driver_rgb=frame)
        found = analyzer.analyze_image(out).faces[0].landmarks
        eyes = np.linalg.norm(driver.landmarks[36:42].mean(axis=0)
                              - driver.landmarks[42:48].mean(axis=0))
        error = np.linalg.norm(found - driver.landmarks, axis=1).mean() / eyes
        assert error < 0.05, (motion, error)
        # the face moved with the driver, not left where the source had it
        assert np.linalg.norm(found.mean(axis=0) - driver.landmarks.mean(axis=0)) < 0.1 * eyes


def test_batched_views_equal_one_run_per_view(models, astronaut_faces) -> None:
    """The views go through G_r as one batch per step: the same result as one run per view."""
    from openfsgan.pipelines.detail import DetailTrack, resize
    from openfsgan.pipelines.neural import reenact, reenact_batch

    frame, face, mirrored, mirrored_face = astronaut_faces
    sources = [NeuralReenactSource.prepare(models, image, found)
               for image, found in ((frame, face), (mirrored, mirrored_face))]
    target = crop_face(sources[1].crop_face.landmarks + np.float32(2.0), models.resolution)

    def tracks() -> list[DetailTrack]:
        return [DetailTrack(resize(s.detail_crop, 256), 64) for s in sources
                if s.detail_crop is not None]

    batched = reenact_batch(models, np.concatenate([s.image for s in sources]),
                            [s.crop_face for s in sources], target, 2, list(tracks()))
    for source, track, done in zip(sources, tracks(), batched, strict=True):
        alone = reenact(models, source.image, source.crop_face, target, 2, track)
        assert done.image.shape == alone.image.shape == (1, 3, 128, 128)
        np.testing.assert_allclose(done.image, alone.image, atol=1e-4)
        np.testing.assert_allclose(done.probs, alone.probs, atol=1e-4)
        assert done.detail is not None and alone.detail is not None
        np.testing.assert_allclose(done.detail, alone.detail, atol=1e-2)


def test_view_inputs_are_made_once_per_view_and_change_nothing(models, astronaut_faces,
                                                                monkeypatch) -> None:
    """What a view gives G_r (its shrunk crop, pose fit and detail layer) is made on its first
    frame and reused: the reenactment is the one made from scratch, bit for bit."""
    from openfsgan.face.align import estimate_alignment, transform_points, warp_to_crop
    from openfsgan.pipelines import neural
    from openfsgan.pipelines.appearance import SourceView

    frame, face, mirrored, mirrored_face = astronaut_faces
    size = models.resolution
    views = []
    for image, found, weight in ((frame, face, 0.7), (mirrored, mirrored_face, 0.3)):
        transform = estimate_alignment(found.landmarks, 3 * size)
        views.append((SourceView(warp_to_crop(image, transform),
                                 transform_points(found.landmarks, transform.matrix)
                                 .astype(np.float32), found.pose), weight))
    target = crop_face(views[1][0].landmarks / 3 + np.float32(1.5), size)
    made = []
    original = neural.ViewInput.of

    def counted(*args):
        made.append(args[0])
        return original(*args)

    monkeypatch.setattr(neural.ViewInput, "of", staticmethod(counted))
    inputs = neural.ViewInputs()
    first, second = (neural.reenact_views(models, views, target, 2, 2 * size, 64, inputs)
                     for _ in range(2))
    assert len(made) == 2  # one per view, on the first call only
    fresh = neural.reenact_views(models, views, target, 2, 2 * size, 64)
    assert len(made) == 4  # without a store: made again
    for done in (first, second):
        assert np.array_equal(done.image, fresh.image) and np.array_equal(done.probs, fresh.probs)
        assert done.detail is not None and np.array_equal(done.detail, fresh.detail)
