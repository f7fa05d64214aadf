"""ID gain and retrieval with distractors, on two real, different people (the astronaut and
Grace Hopper) and on vectors with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.metrics.identity import (
    FaceDescriptor,
    identity_gain,
    retrieval_top1,
    with_distractors,
)


def _largest_face_descriptor(descriptor: FaceDescriptor, rgb: np.ndarray) -> np.ndarray:
    from openfsgan.face.analyzer import FaceAnalyzer

    face = FaceAnalyzer().analyze_image(rgb).largest()
    assert face is not None
    return descriptor.describe(rgb, face.landmarks)


@pytest.fixture(scope="module")
def two_people() -> tuple[np.ndarray, np.ndarray]:
    """dlib descriptors of the astronaut and of Grace Hopper."""
    import matplotlib.cbook
    from skimage import data

    from openfsgan.io.media import read_image

    descriptor = FaceDescriptor()
    astronaut = np.ascontiguousarray(data.astronaut())
    hopper = read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return (_largest_face_descriptor(descriptor, astronaut),
            _largest_face_descriptor(descriptor, np.ascontiguousarray(hopper)))


def test_id_gain_is_negative_when_the_output_is_the_target(two_people) -> None:
    astronaut, hopper = two_people
    # An output that IS the target (a swap that changed nothing) is nearer the target.
    assert identity_gain(hopper, astronaut, hopper) < -0.05
    # An output that is the source has the opposite sign and the same size.
    assert identity_gain(astronaut, astronaut, hopper) == pytest.approx(
        -identity_gain(hopper, astronaut, hopper))
    assert identity_gain(astronaut, astronaut, hopper) > 0.05


def test_id_gain_is_the_difference_of_cosines() -> None:
    source, target = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    halfway = np.array([1.0, 1.0])
    assert identity_gain(halfway, source, target) == pytest.approx(0.0)
    assert identity_gain(np.array([3.0, 1.0]), source, target) == pytest.approx(
        (3 - 1) / np.sqrt(10))


def test_distractors_join_the_gallery_and_can_take_top1() -> None:
    gallery = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    labels = ["ann", "bob"]
    query = np.array([[0.8, 0.1, 0.6]])  # nearer ann than bob, nearer still to a distractor
    assert retrieval_top1(query, ["ann"], gallery, labels).tolist() == [True]
    names, extended = with_distractors(labels, gallery, np.array([[0.7, 0.0, 0.7],
                                                                  [0.0, 0.0, -1.0]]))
    assert names == ["ann", "bob", "distractor:0", "distractor:1"]
    assert extended.shape == (4, 3)
    assert retrieval_top1(query, ["ann"], extended, names).tolist() == [False]
    # a query far from every distractor is still retrieved
    assert retrieval_top1(np.array([[1.0, 0.05, 0.0]]), ["ann"], extended, names).tolist() == [
        True]


def test_descriptor_scale_separates_same_and_different_people() -> None:
    from openfsgan.metrics.identity import descriptor_scale

    rng = np.random.default_rng(0)
    ann = np.array([1.0, 0.0, 0.0]) + 0.05 * rng.standard_normal((5, 3))
    bob = np.array([0.0, 1.0, 0.0]) + 0.05 * rng.standard_normal((4, 3))
    scale = descriptor_scale({"ann": ann, "bob": bob, "nobody": np.zeros((0, 3))})
    assert scale["same_min"] > 0.9 > 0.2 > scale["different_max"]
    assert scale["same_mean"] > scale["different_mean"]
    assert descriptor_scale({})["same_mean"] is None


def test_gain_bounds_score_the_pairs_own_people_leave_one_out() -> None:
    from openfsgan.metrics.identity import gain_bounds, mean_identity

    rng = np.random.default_rng(1)
    ann = np.array([1.0, 0.2, 0.0]) + 0.05 * rng.standard_normal((6, 3))
    bob = np.array([0.2, 1.0, 0.0]) + 0.05 * rng.standard_normal((5, 3))
    bounds = gain_bounds(ann, bob)
    assert bounds["ceiling"] > 0.3 and bounds["floor"] < -0.3
    # ann's frames scored like outputs, each left out of its own identity (a frame compared
    # with an identity it is part of would inflate the ceiling)
    expected = np.mean([identity_gain(frame, mean_identity(np.delete(ann, i, 0)),
                                      mean_identity(bob)) for i, frame in enumerate(ann)])
    assert bounds["ceiling"] == pytest.approx(expected, abs=1e-12)
    included = np.mean([identity_gain(frame, mean_identity(ann), mean_identity(bob))
                        for frame in ann])
    assert included > bounds["ceiling"]
    swapped = gain_bounds(bob, ann)
    assert swapped["ceiling"] > 0.3 and swapped["floor"] < -0.3
    one_frame = gain_bounds(ann[:1], bob)
    assert one_frame["ceiling"] is None and one_frame["floor"] is not None
