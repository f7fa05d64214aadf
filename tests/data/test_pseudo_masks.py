import numpy as np
import pytest

from openfsgan.data.pseudo_masks import (
    BACKGROUND,
    FACE,
    HAIR,
    face_mask,
    forehead_points,
    pseudo_segmentation,
)
from openfsgan.data.synthetic import synthetic_video
from openfsgan.face.align import canonical_landmarks


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_pseudo_labels_match_the_drawn_face_and_hair(seed):
    for frame in synthetic_video(seed, 2, 128):
        labels = pseudo_segmentation(frame.rgb, frame.landmarks)
        assert set(np.unique(labels)) <= {BACKGROUND, FACE, HAIR}
        assert _iou(labels == FACE, frame.labels == FACE) > 0.95
        assert _iou(labels == HAIR, frame.labels == HAIR) > 0.8
        # the skin-coloured neck below the chin is not hair
        chin_y = int(frame.landmarks[8, 1])
        assert not (labels[chin_y + 4:] == HAIR).any()


def test_face_mask_contains_the_landmarks_and_the_forehead():
    points = canonical_landmarks(128)
    mask = face_mask(points, (128, 128))
    inside = np.round(points).astype(int)
    assert mask[inside[27:, 1], inside[27:, 0]].all()  # nose, eyes, mouth
    forehead = forehead_points(points)
    assert (forehead[:, 1] < points[17:27, 1]).all()  # raised above the brows
    top = np.round(forehead.mean(axis=0)).astype(int)
    assert mask[top[1] + 2, top[0]]


def test_pseudo_labels_on_a_real_photo(astronaut_rgb):
    from openfsgan.face.align import estimate_alignment, transform_points, warp_to_crop
    from openfsgan.face.analyzer import FaceAnalyzer

    face = FaceAnalyzer().analyze_image(np.ascontiguousarray(astronaut_rgb)).largest()
    assert face is not None
    transform = estimate_alignment(face.landmarks, 128)
    crop = warp_to_crop(astronaut_rgb, transform)
    points = transform_points(face.landmarks, transform.matrix)
    labels = pseudo_segmentation(crop, points)
    eyes = np.round(points[36:48].mean(axis=0)).astype(int)
    assert labels[eyes[1], eyes[0]] == FACE
    # her hair surrounds the top of the face: a sizeable hair region above the brows
    above = labels[: int(points[17:27, 1].min())]
    assert (above == HAIR).sum() > 0.05 * (labels == FACE).sum()


def test_pseudo_segmentation_rejects_bad_input():
    with pytest.raises(ValueError):
        pseudo_segmentation(np.zeros((8, 8), np.uint8), canonical_landmarks(8))
    with pytest.raises(ValueError):
        pseudo_segmentation(np.zeros((8, 8, 3), np.uint8), np.zeros((5, 2)))
