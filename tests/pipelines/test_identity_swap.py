"""A swap carries the source person's identity: two different people, both ways, both methods.

The astronaut and Grace Hopper (:mod:`people`) are swapped onto each other, photo onto photo and
photo onto a synthetic clip, through the library's job API; dlib's face descriptor must find each
output nearer its source person than its target person. A swap that returns the target, or that
swaps the target onto itself, fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from openfsgan.io.media import read_image
from openfsgan.jobs import NullLabeler, SwapRequest, run_swap
from people import identity_distances, photo

DIRECTIONS = [("astronaut", "hopper"), ("hopper", "astronaut")]


@pytest.mark.parametrize("method", ["classic", "neural"])
@pytest.mark.parametrize(("source", "target"), DIRECTIONS)
def test_swap_output_is_nearer_its_source_than_its_target(
        two_people_photos: dict[str, Path], tmp_path: Path, method: str, source: str,
        target: str) -> None:
    out = tmp_path / f"{source}_onto_{target}.png"
    summary = run_swap(SwapRequest(two_people_photos[source], two_people_photos[target], out,
                                   method=method), labeler=NullLabeler())
    assert summary.frames_swapped == 1
    distances = identity_distances(read_image(out), photo(source), photo(target))
    print(f"{method} {source} onto {target}: {distances}")
    assert distances.to_source < distances.to_target, f"{method} {source} onto {target}: " \
        f"{distances}"
    assert distances.margin > 0.0, distances


@pytest.mark.parametrize("method", ["classic", "neural"])
@pytest.mark.parametrize(("source", "target"), DIRECTIONS)
def test_video_swap_frames_are_nearer_the_source(two_people_photos: dict[str, Path],
                                                 tmp_path: Path, method: str, source: str,
                                                 target: str) -> None:
    """The video path (tracking, temporal smoothing, H.264) keeps the source's identity too."""
    from openfsgan.io.media import iter_frames
    from people import write_person_clip

    clip = write_person_clip(tmp_path / f"{target}.mp4", target, 320, 384, 4)
    out = tmp_path / f"{source}_onto_{target}.mp4"
    summary = run_swap(SwapRequest(two_people_photos[source], clip, out, method=method),
                       labeler=NullLabeler())
    assert summary.frames_swapped == 4
    frames = [frame.rgb for frame in iter_frames(out)]
    originals = [frame.rgb for frame in iter_frames(clip)]
    for index in (0, 3):
        distances = identity_distances(frames[index], photo(source), originals[index])
        print(f"{method} {source} onto a clip of {target}, frame {index}: {distances}")
        assert distances.to_source < distances.to_target, distances
