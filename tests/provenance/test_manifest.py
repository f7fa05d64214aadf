"""C2PA manifests: local signing identity, signing, reading, tampering, sidecars, own chains."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from openfsgan.errors import ConfigError
from openfsgan.provenance import keys
from openfsgan.provenance.manifest import (
    PROVENANCE_ASSERTION,
    build_manifest,
    read_manifest,
    sidecar_path,
    sign_file,
)
from openfsgan.provenance.metadata import ProvenanceTag

TAG = ProvenanceTag(run_id="12ab34cd", watermark=True, operation="swap", method="classic")


@pytest.fixture()
def image(astronaut_rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(astronaut_rgb[100:196, 150:278])


def _write(path: Path, rgb: np.ndarray) -> Path:
    if path.suffix == ".mp4":
        from openfsgan.io.media import VideoWriter

        with VideoWriter(path, 10, rgb.shape[1], rgb.shape[0]) as writer:
            for i in range(5):
                writer.write(np.roll(rgb, 3 * i, axis=0))
    else:
        cv2.imwrite(str(path), rgb[:, :, ::-1])
    return path


def _tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    # inside the video samples, or the last image data just before the trailer
    position = data.find(b"mdat") + 64 if path.suffix == ".mp4" else len(data) - 40
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def test_local_identity_is_made_once_with_private_permissions(c2pa_dir: Path) -> None:
    first = keys.load_signing_identity()
    second = keys.load_signing_identity()
    assert first.is_local and first.algorithm == "es256"
    assert first.private_key_pem == second.private_key_pem
    key_mode = stat.S_IMODE(os.stat(c2pa_dir / keys.KEY_FILE).st_mode)
    assert key_mode == 0o600
    assert stat.S_IMODE(os.stat(c2pa_dir).st_mode) == 0o700
    assert "PRIVATE" not in repr(first)


def test_manifest_declares_ai_generation() -> None:
    manifest = build_manifest(TAG, "out.mp4")
    actions = manifest["assertions"][0]["data"]["actions"]
    assert actions[0]["action"] == "c2pa.created"
    assert actions[0]["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    labels = [a["label"] for a in manifest["assertions"]]
    assert labels == ["c2pa.actions", "cawg.training-mining", PROVENANCE_ASSERTION]


@pytest.mark.parametrize("ext", [".png", ".jpg", ".mp4"])
def test_sign_read_and_detect_tampering(tmp_path: Path, image: np.ndarray, ext: str) -> None:
    path = _write(tmp_path / f"out{ext}", image)
    assert read_manifest(path).status == "not found"
    assert sign_file(path, TAG, keys.load_signing_identity(), title=f"final{ext}") == path
    reading = read_manifest(path)
    assert reading.status == "found"
    assert reading.validation_state == "Valid" and not reading.trusted
    assert reading.ai_generated and reading.tag == TAG
    assert reading.location == "embedded"
    assert reading.signer["common_name"] == "openfsgan signer"
    _tamper(path)
    tampered = read_manifest(path)
    assert tampered.status == "tampered"
    assert any("mismatch" in code for code in tampered.failures)


def test_sidecar_manifest(tmp_path: Path, image: np.ndarray) -> None:
    path = _write(tmp_path / "out.png", image)
    original = path.read_bytes()
    target = sign_file(path, TAG, keys.load_signing_identity(), sidecar=True)
    assert target == sidecar_path(path) and target.is_file()
    assert path.read_bytes() == original
    reading = read_manifest(path)
    assert reading.status == "found" and reading.location == str(target)
    _tamper(path)
    assert read_manifest(path).status == "tampered"


def test_format_without_c2pa_support(tmp_path: Path, image: np.ndarray) -> None:
    path = _write(tmp_path / "out.bmp", image)
    assert sign_file(path, TAG, keys.load_signing_identity()) is None
    assert read_manifest(path).status == "not found"


def _organisation_chain(folder: Path) -> tuple[Path, Path, Path]:
    chain, key, root = keys.make_local_identity_pem()
    paths = (folder / "chain.pem", folder / "key.pem", folder / "root.pem")
    for path, data in zip(paths, (chain, key, root), strict=True):
        path.write_bytes(data)
    return paths


def test_own_certificate_chain_and_trust_anchor(tmp_path: Path, image: np.ndarray,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    chain, key, root = _organisation_chain(tmp_path)
    identity = keys.load_signing_identity(chain, key)
    assert not identity.is_local and identity.source == str(chain)
    path = _write(tmp_path / "out.jpg", image)
    sign_file(path, TAG, identity)
    assert read_manifest(path).trusted is False
    monkeypatch.setenv(keys.ENV_TRUST_ANCHORS, str(root))
    reading = read_manifest(path)
    assert reading.status == "found" and reading.trusted
    assert reading.validation_state == "Trusted"
    # the environment works as well as explicit paths
    monkeypatch.setenv(keys.ENV_CERT, str(chain))
    monkeypatch.setenv(keys.ENV_KEY, str(key))
    assert keys.load_signing_identity().source == str(chain)


def test_bad_keys_fail_early_with_a_clear_message(tmp_path: Path) -> None:
    chain, key, _ = _organisation_chain(tmp_path)
    (tmp_path / "other").mkdir()
    other_chain, _, _ = _organisation_chain(tmp_path / "other")
    with pytest.raises(ConfigError, match="both"):
        keys.load_signing_identity(chain, None)
    with pytest.raises(ConfigError, match="not found"):
        keys.load_signing_identity(tmp_path / "missing.pem", key)
    (tmp_path / "text.pem").write_text("hello")
    with pytest.raises(ConfigError, match="not a PEM"):
        keys.load_signing_identity(tmp_path / "text.pem", key)
    mismatched = tmp_path / "mismatch.pem"
    mismatched.write_bytes(other_chain.read_bytes())
    with pytest.raises(ConfigError, match="does not match"):
        keys.load_signing_identity(mismatched, key)
