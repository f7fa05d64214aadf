"""``openfsgan demo`` swaps two different people both ways, on built-in material only: every
output exists, is labelled as synthetic, and carries its source's identity."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from openfsgan.cli.demo import demo_frame, demo_people, side_by_side
from openfsgan.face.analyzer import FaceAnalyzer
from openfsgan.io.media import iter_frames, probe, read_image
from openfsgan.metrics.identity import FaceDescriptor
from openfsgan.provenance.verify import verify

FRAMES = 12
# (output name, source person, target person); the target file is the person's photo or clip
SWAPS = (("swap_astronaut_onto_grace_hopper_photo.png", "astronaut", "grace_hopper"),
         ("swap_grace_hopper_onto_astronaut_photo.png", "grace_hopper", "astronaut"),
         ("swap_astronaut_onto_grace_hopper_clip.mp4", "astronaut", "grace_hopper"),
         ("swap_grace_hopper_onto_astronaut_clip.mp4", "grace_hopper", "astronaut"))
REENACTMENTS = (("reenact_astronaut_by_grace_hopper_clip.mp4", "astronaut", "grace_hopper"),
                ("reenact_grace_hopper_by_astronaut_clip.mp4", "grace_hopper", "astronaut"))


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("demo")
    folder = tmp / "out"
    env = {**os.environ, "OPENFSGAN_CACHE_DIR": str(tmp / "cache")}
    done = subprocess.run([sys.executable, "-m", "openfsgan", "demo", "-o", str(folder),
                           "--frames", str(FRAMES)], env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    return folder, done.stdout


def test_clip_frames_move_and_keep_one_face() -> None:
    analyzer = FaceAnalyzer()
    for person in demo_people():
        boxes = []
        for index in (0, 15, 30):
            frame = demo_frame(person, index)
            assert frame.shape == (360, 480, 3) and frame.dtype == np.uint8
            faces = analyzer.analyze_image(frame).faces
            assert len(faces) == 1, (person.slug, index)  # no second face in the backdrop
            boxes.append(faces[0].box)
        centres = [((b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2) for b in boxes]
        assert max(abs(c[0] - centres[0][0]) for c in centres) > 10  # the face moves


def test_side_by_side_has_a_row_per_frame() -> None:
    image = np.zeros((100, 80, 3), np.uint8)
    grid = side_by_side(image, {0: image, 5: image}, {0: image, 5: image}, ("a", "b", "c"),
                        height=50)
    assert grid.shape[0] == 2 * (50 + 28 + 8)
    assert grid.shape[1] == 3 * 40 + 2 * 8


def test_demo_writes_every_output_and_says_where(demo_folder: tuple[Path, str]) -> None:
    folder, stdout = demo_folder
    assert str(folder.resolve()) in stdout
    for name in ("astronaut_clip.mp4", "grace_hopper_clip.mp4", "astronaut_clip_analysis.mp4",
                 "grace_hopper_clip_analysis.mp4"):
        assert probe(folder / name).frame_count == FRAMES, name
    for name, _, target in SWAPS + REENACTMENTS:
        output = folder / name
        if output.suffix == ".mp4":
            assert probe(output).frame_count == FRAMES, name
        else:
            assert read_image(output).shape == read_image(folder / f"{target}.png").shape
        compare = read_image(folder / f"{output.stem}_compare.png")
        rows = 3 if output.suffix == ".mp4" else 1  # first, middle and last frame of a clip
        assert compare.shape[0] >= rows * 300 and compare.shape[1] > 3 * 200, name
        assert f"{name} and {output.stem}_compare.png" in stdout
    # one identity line per job, each saying the output is nearer its source
    lines = [line for line in stdout.splitlines() if "identity:" in line]
    assert len(lines) == len(SWAPS + REENACTMENTS)
    assert all("(the source)" in line for line in lines), lines


def test_demo_outputs_are_labelled_and_inputs_are_not(demo_folder: tuple[Path, str]) -> None:
    folder, _ = demo_folder
    for name, _, _ in SWAPS + REENACTMENTS:
        report = verify(folder / name)
        assert report.labelled, name
        assert report.watermark.status == "found", name
        assert report.manifest.found, name
        # the side-by-side PNG shows that output: it carries the tag and manifest too (its mark
        # is embedded but not always found: a 1000 px grid of three frames with white bars)
        compare = verify(folder / f"{Path(name).stem}_compare.png")
        assert compare.labelled and compare.manifest.found, name
    assert not verify(folder / "grace_hopper_clip.mp4").labelled


def _frames(path: Path) -> list[np.ndarray]:
    if path.suffix == ".png":
        return [read_image(path)]
    frames = [frame.rgb for frame in iter_frames(path)]
    return [frames[0], frames[len(frames) // 2], frames[-1]]


@pytest.mark.parametrize(("name", "source", "target"), SWAPS + REENACTMENTS)
def test_each_output_is_nearer_its_source_than_its_target(
        demo_folder: tuple[Path, str], name: str, source: str, target: str) -> None:
    """dlib descriptor distance from the output face to the source person's photo is smaller
    than to the target person's face on the same frame (photo, or the clip frame)."""
    folder, _ = demo_folder
    analyzer, network = FaceAnalyzer(), FaceDescriptor()

    def describe(rgb: np.ndarray) -> np.ndarray:
        face = analyzer.analyze_image(rgb).largest()
        assert face is not None
        return network.describe(rgb, face.landmarks)

    kind = "photo" if name.endswith(".png") else "clip"
    target_file = folder / (f"{target}.png" if kind == "photo" else f"{target}_clip.mp4")
    source_descriptor = describe(read_image(folder / f"{source}.png"))
    to_source, to_target = [], []
    for output, target_frame in zip(_frames(folder / name), _frames(target_file), strict=True):
        found = describe(output)
        to_source.append(np.linalg.norm(found - source_descriptor))
        to_target.append(np.linalg.norm(found - describe(target_frame)))
    assert np.mean(to_source) < np.mean(to_target), (to_source, to_target)
