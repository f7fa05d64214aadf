"""dlib's face descriptor read from its .dat file: parity with dlib on real faces."""

from __future__ import annotations

import dlib
import face_recognition_models
import numpy as np
import pytest
import torch

from openfsgan.errors import ModelError
from openfsgan.nn.dlib_resnet import (
    CHIP_PADDING,
    CHIP_SIZE,
    _Reader,
    default_model_path,
    load_dlib_face_resnet,
    parse_dlib_network,
)
from openfsgan.nn.features import DlibFaceFeatures, build_feature_network

SHARED_PHOTOS = ("3DDFA/samples/emma_input.jpg", "3DDFA/demo@obama/0013.jpg",
                 "CelebAMask-HQ/face_parsing/Data_preprocessing/test_img/0.jpg")


@pytest.fixture(scope="module")
def dlib_models():
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    recognizer = dlib.face_recognition_model_v1(str(default_model_path()))
    return detector, predictor, recognizer


def _chips_and_descriptors(image: np.ndarray, dlib_models) -> list[tuple[np.ndarray, np.ndarray]]:
    detector, predictor, recognizer = dlib_models
    results = []
    for rect in detector(image, 0):
        shape = predictor(image, rect)
        chip = dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        descriptor = np.array(recognizer.compute_face_descriptor(image, shape))
        results.append((chip, descriptor))
    return results


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def _assert_parity(image: np.ndarray, dlib_models) -> int:
    network = load_dlib_face_resnet()
    pairs = _chips_and_descriptors(np.ascontiguousarray(image), dlib_models)
    for chip, descriptor in pairs:
        x = torch.from_numpy(chip).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            ours = network(network.normalize(x))[0].numpy()
        assert _cosine(ours, descriptor) >= 0.99
        np.testing.assert_allclose(ours, descriptor, atol=1e-4)
    return len(pairs)


def test_parity_with_dlib_on_the_astronaut(astronaut_rgb, dlib_models):
    assert _assert_parity(astronaut_rgb, dlib_models) >= 1


@pytest.mark.shared_data
def test_parity_with_dlib_on_shared_photos(shared_faces, dlib_models):
    from skimage import io

    checked = 0
    for relative in SHARED_PHOTOS:
        path = shared_faces / relative
        if path.is_file():
            image = io.imread(path)[..., :3]
            checked += _assert_parity(image, dlib_models)
    if checked == 0:
        pytest.skip("none of the shared photos used here is present")


def test_feature_network_gives_levels_and_the_embedding(astronaut_rgb, dlib_models):
    chip, descriptor = _chips_and_descriptors(astronaut_rgb, dlib_models)[0]
    features = DlibFaceFeatures()
    image = (torch.from_numpy(chip).permute(2, 0, 1)[None].float() / 127.5 - 1).requires_grad_()
    levels, embedding = features.features_and_embedding(image)
    assert [tuple(x.shape[1:]) for x in levels] == [(32, 35, 35), (64, 17, 17), (128, 8, 8),
                                                   (256, 4, 4), (256, 2, 2)]
    assert _cosine(embedding[0].detach().numpy(), descriptor) > 0.9999
    embedding.sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in features.parameters())
    assert isinstance(build_feature_network("dlib"), DlibFaceFeatures)


def test_reader_primitives():
    def read(data: bytes) -> _Reader:
        return _Reader(data, "test")

    assert read(b"\x01\x05").read_int() == 5
    assert read(b"\x00").read_int() == 0
    assert read(b"\x81\x1c").read_int() == -28
    assert read(b"\x02\x34\x12").read_int() == 0x1234
    # 0.04 as dlib writes it: mantissa 0xa3d70a, exponent -28
    assert read(b"\x03\x0a\xd7\xa3\x81\x1c").read_float() == pytest.approx(0.04, rel=1e-7)
    assert read(b"\x01\x04relu").read_str() == "relu"
    assert read(b"1").read_bool() is True
    tensor = read(b"\x01\x02\x01\x01\x01\x02\x01\x01\x01\x01" +
                  np.array([1.5, -2.0], "<f4").tobytes()).read_tensor()
    assert tensor.shape == (1, 2, 1, 1) and tensor.ravel().tolist() == [1.5, -2.0]
    with pytest.raises(ModelError, match="unexpected end of file"):
        read(b"\x02\x01").read_int()
    with pytest.raises(ModelError, match="bad bool"):
        read(b"x").read_bool()


def test_damaged_files_raise_model_errors(tmp_path):
    data = default_model_path().read_bytes()
    with pytest.raises(ModelError, match="unexpected end of file"):
        parse_dlib_network(data[: len(data) // 2], "half.dat")
    with pytest.raises(ModelError, match="trailing bytes"):
        parse_dlib_network(data + b"\x00", "longer.dat")
    with pytest.raises(ModelError, match="not a dlib network file"):
        parse_dlib_network(b"\x01\x01\x01\x05hello", "other.dat")
    with pytest.raises(ModelError, match="cannot read the dlib face descriptor"):
        load_dlib_face_resnet(tmp_path / "missing.dat")
