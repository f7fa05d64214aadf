"""``openfsgan swap`` as a user runs it (labelled output) carries the source person's identity.

Grace Hopper and the astronaut (:mod:`people`), swapped both ways with both methods; dlib's face
descriptor must find each output nearer its source person than its target person.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import openfsgan

from openfsgan.io.media import read_image
from people import identity_distances, photo


@pytest.mark.parametrize("method", ["classic", "neural"])
@pytest.mark.parametrize(("source", "target"), [("astronaut", "hopper"), ("hopper", "astronaut")])
def test_cli_swap_is_nearer_its_source_than_its_target(
        two_people_photos: dict[str, Path], tmp_path: Path, method: str, source: str,
        target: str) -> None:
    out = tmp_path / f"{source}_onto_{target}.png"
    done = openfsgan("-q", "swap", two_people_photos[source], two_people_photos[target], "-o",
                     out, "--method", method, cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    distances = identity_distances(read_image(out), photo(source), photo(target))
    print(f"openfsgan swap --method {method} {source} onto {target}: {distances}")
    assert distances.to_source < distances.to_target, distances
    assert distances.margin > 0.0, distances
