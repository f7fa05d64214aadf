"""Which videos are swapped onto which, and in which split: PAIRS.csv or a folder of videos.

A pair is (source, target): the source person's face goes onto the target video. Every video
shows one identity: the video's file stem, or the name of its sub-folder when
``--from-folder`` finds videos grouped in one folder per person. Splits are by identity: an
identity that appears in two splits would let a detector recognise people instead of
artefacts, so :func:`check_disjoint_splits` refuses that and :func:`assign_splits` never does it.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from openfsgan.errors import ConfigError, InvalidInputError
from openfsgan.io.paths import check_input_dir, check_input_file

SPLITS: tuple[str, ...] = ("train", "val", "test")
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm"})
# FaceForensics++ names a fake "<target>_<source>": the separator must not occur in a name
NAME_SEPARATOR = "_"


@dataclass(frozen=True)
class Video:
    """One input video: its path, its name in the dataset and the identity it shows."""

    path: Path
    name: str
    identity: str


@dataclass(frozen=True)
class Pair:
    """The source's face onto the target video, in one split."""

    source: Video
    target: Video
    split: str

    @property
    def name(self) -> str:
        """The fake's file stem, as FaceForensics++ names it: ``<target>_<source>``."""
        return f"{self.target.name}{NAME_SEPARATOR}{self.source.name}"


def _dataset_name(path: Path) -> str:
    # names go into file names and the <target>_<source> convention, so keep them plain
    name = "".join(c if c.isalnum() or c in "-." else "-" for c in path.stem)
    return name.strip("-.") or "video"


def _video(path: Path, identity: str | None = None) -> Video:
    name = _dataset_name(path)
    return Video(path, name, identity or name)


def _check_unique_names(pairs: list[Pair]) -> None:
    by_name: dict[str, Path] = {}
    for pair in pairs:
        for video in (pair.source, pair.target):
            seen = by_name.setdefault(video.name, video.path)
            if seen.resolve() != video.path.resolve():
                raise ConfigError(f"two videos get the dataset name {video.name!r}: {seen} and "
                                  f"{video.path} (rename one)")


def check_disjoint_splits(pairs: list[Pair]) -> None:
    """Refuse pairs where one identity appears in two splits (as source or target)."""
    splits_of: dict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        if pair.source.identity == pair.target.identity:
            raise ConfigError(f"pair {pair.name}: source and target are the same identity "
                              f"({pair.source.identity!r})")
        splits_of[pair.source.identity].add(pair.split)
        splits_of[pair.target.identity].add(pair.split)
    for identity, splits in sorted(splits_of.items()):
        if len(splits) > 1:
            raise ConfigError(f"identity {identity!r} is in more than one split "
                              f"({', '.join(sorted(splits))}): splits must be identity-disjoint")


def _split_sizes(count: int, fractions: tuple[float, float, float]) -> list[int]:
    """Units per split: every split gets at least one unit once there are enough units."""
    sizes = [round(count * f) for f in fractions]
    if count >= len(SPLITS):
        sizes = [max(1, s) for s in sizes]
    while sum(sizes) > count:
        sizes[sizes.index(max(sizes))] -= 1
    sizes[0] += count - sum(sizes)
    return sizes


def _components(pairs: list[tuple[Video, Video]]) -> list[list[str]]:
    """Identities linked by a pair (they must share a split), each group sorted."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for source, target in pairs:
        parent[root(source.identity)] = root(target.identity)
    groups: dict[str, list[str]] = defaultdict(list)
    for identity in list(parent):
        groups[root(identity)].append(identity)
    return sorted(sorted(g) for g in groups.values())


def assign_splits(pairs: list[tuple[Video, Video]], seed: int,
                  fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> list[Pair]:
    """Give each pair a split so that no identity is in two splits.

    Identities linked through pairs form groups that must share a split; whole groups are
    shuffled (``seed``) and dealt to train/val/test in proportion to ``fractions``.
    """
    groups = _components(pairs)
    random.Random(seed).shuffle(groups)
    split_of: dict[str, str] = {}
    start = 0
    for split, size in zip(SPLITS, _split_sizes(len(groups), fractions), strict=True):
        for group in groups[start:start + size]:
            split_of.update(dict.fromkeys(group, split))
        start += size
    return [Pair(s, t, split_of[s.identity]) for s, t in pairs]


def read_pairs_csv(path: Path, seed: int = 0) -> list[Pair]:
    """Pairs from a CSV with columns ``source,target`` and optionally ``split``.

    Relative paths are relative to the CSV's folder. Without a ``split`` column the splits are
    assigned by identity (:func:`assign_splits`); with one, they are checked to be
    identity-disjoint.
    """
    check_input_file(path, "pairs CSV")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise InvalidInputError(f"pairs CSV could not be read: {path} ({error})") from error
    if not rows or not {"source", "target"} <= set(rows[0]):
        raise InvalidInputError(f"pairs CSV needs a header with 'source' and 'target' columns "
                                f"(and optionally 'split'): {path}")
    with_split = "split" in rows[0]
    raw: list[tuple[Video, Video]] = []
    splits: list[str] = []
    for line, row in enumerate(rows, start=2):
        source, target = (row.get("source") or "").strip(), (row.get("target") or "").strip()
        if not source or not target:
            raise InvalidInputError(f"{path}, line {line}: empty source or target")
        raw.append((_video(path.parent / source), _video(path.parent / target)))
        if with_split:
            split = (row.get("split") or "").strip().lower()
            if split not in SPLITS:
                raise InvalidInputError(f"{path}, line {line}: split must be one of "
                                        f"{', '.join(SPLITS)}, got {split!r}")
            splits.append(split)
    if with_split:
        pairs = [Pair(s, t, split) for (s, t), split in zip(raw, splits, strict=True)]
    else:
        pairs = assign_splits(raw, seed)
    _finish(pairs)
    return pairs


def _folder_videos(folder: Path) -> list[Video]:
    """Videos directly in ``folder`` (identity: the stem) or one level down (identity: the
    sub-folder's name)."""
    videos = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
            videos.append(_video(path))
        elif path.is_dir():
            videos.extend(_video(clip, _dataset_name(path)) for clip in sorted(path.iterdir())
                          if clip.is_file() and clip.suffix.lower() in VIDEO_EXTENSIONS
                          and not clip.name.startswith("."))
    return videos


def pairs_from_folder(folder: Path, seed: int = 0,
                      fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> list[Pair]:
    """Identity-disjoint splits and pairs from a folder of videos.

    Identities are dealt to train/val/test first (``seed``); inside each split every video is
    a target once, with a source video of another identity of the same split (a shuffled
    cycle over identities, as FaceForensics++ pairs each target with one source).
    """
    check_input_dir(folder, "videos folder")
    videos = _folder_videos(folder)
    by_identity: dict[str, list[Video]] = defaultdict(list)
    for video in videos:
        by_identity[video.identity].append(video)
    identities = sorted(by_identity)
    if len(identities) < 2:
        raise InvalidInputError(f"{folder} needs videos of at least two identities, found "
                                f"{len(identities)}")
    rng = random.Random(seed)
    rng.shuffle(identities)
    # a split needs two identities to pair inside it: fewer identities than 6 fill fewer splits
    usable = max(1, min(len(SPLITS), len(identities) // 2))
    sizes = _split_sizes(len(identities), fractions) if usable == len(SPLITS) else \
        [len(identities)] + [0] * (len(SPLITS) - 1)
    sizes = _merge_singletons(sizes)
    pairs: list[Pair] = []
    start = 0
    for split, size in zip(SPLITS, sizes, strict=True):
        members = identities[start:start + size]
        start += size
        for index, identity in enumerate(members):
            donor = members[(index + 1) % len(members)]
            for target in by_identity[identity]:
                source = by_identity[donor][rng.randrange(len(by_identity[donor]))]
                pairs.append(Pair(source, target, split))
    _finish(pairs)
    return pairs


def _merge_singletons(sizes: list[int]) -> list[int]:
    """A split of one identity cannot pair: give its identity to train."""
    sizes = list(sizes)
    for index in range(1, len(sizes)):
        if sizes[index] == 1:
            sizes[0] += 1
            sizes[index] = 0
    return sizes


def _finish(pairs: list[Pair]) -> None:
    if not pairs:
        raise InvalidInputError("no pairs to build")
    _check_unique_names(pairs)
    check_disjoint_splits(pairs)
