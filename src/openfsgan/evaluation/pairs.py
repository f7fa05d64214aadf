"""Evaluation pairs: which source goes onto which target, read from a CSV or made from folders.

CSV format (UTF-8, comma-separated, one header row; lines starting with ``#`` are comments)::

    pair_id,source,target,source_identity,target_identity,source_start,source_end,target_start
    d0_to_obama,LivePortrait/assets/examples/driving/d0.mp4,3DDFA/demo@obama/obama.mp4,lp_d0,obama,,,
    obama_self,3DDFA/demo@obama/obama.mp4,3DDFA/demo@obama/obama.mp4,obama,obama,0,60,80

Only ``source`` and ``target`` are required. Relative paths are resolved against a data root
(by default the CSV's folder). ``source_start``/``source_end`` restrict the source to frames
``[start, end)``; ``target_start`` is the first target frame evaluated. A pair whose two
identities are equal is a *self-reenactment* pair: the real target frame is then the ground
truth of the output. Identities default to the file's path without extension, so the same
person in two files must be labelled explicitly to count as one identity.

The optional ``mode`` column is ``swap`` (the default: the source's identity onto the target
video) or ``reenact`` (the source *photo* animated by the target video, the driver). For a
reenactment pair whose source is a video, ``source_start`` names the frame used as the photo
(``source_end`` must be empty); on a self pair it should equal ``target_start``, so that the
driver's first frame is the photo and every driven frame has the real frame as ground truth.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from openfsgan.errors import ConfigError, InputNotFoundError

PAIR_COLUMNS = ("pair_id", "source", "target", "source_identity", "target_identity",
                "source_start", "source_end", "target_start", "mode", "note")
MODES = ("swap", "reenact")
REQUIRED_COLUMNS = ("source", "target")
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


@dataclass(frozen=True)
class EvalPair:
    """One evaluation pair; frames are 0-based, ``source_end`` exclusive (None: to the end)."""

    pair_id: str
    source: Path
    target: Path
    source_identity: str
    target_identity: str
    source_start: int = 0
    source_end: int | None = None
    target_start: int = 0
    note: str = ""
    mode: str = "swap"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode == "reenact" and self.source_end is not None:
            raise ValueError("a reenactment pair animates one source frame (source_start); "
                             "leave source_end empty")
        if not _ID_PATTERN.match(self.pair_id):
            raise ValueError(f"pair_id {self.pair_id!r} must be letters, digits, _ . @ -")
        if self.source_start < 0 or self.target_start < 0:
            raise ValueError("frame indices must be >= 0")
        if self.source_end is not None and self.source_end <= self.source_start:
            raise ValueError(f"source_end ({self.source_end}) must be greater than "
                             f"source_start ({self.source_start})")

    @property
    def is_self(self) -> bool:
        """Source and target are the same person: the real target frame is the ground truth."""
        return self.source_identity == self.target_identity

    @property
    def kind(self) -> str:
        """``cross`` (identity swap), ``self`` (swap onto the same person: self-reenactment),
        ``reenact-cross`` or ``reenact-self`` (a photo driven by another person's or by its own
        video)."""
        who = "self" if self.is_self else "cross"
        return who if self.mode == "swap" else f"reenact-{who}"

    @property
    def trims_source(self) -> bool:
        return self.source_start > 0 or self.source_end is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "pair_id": self.pair_id,
            "source": str(self.source),
            "target": str(self.target),
            "source_identity": self.source_identity,
            "target_identity": self.target_identity,
            "source_start": self.source_start,
            "source_end": self.source_end,
            "target_start": self.target_start,
            "kind": self.kind,
            "mode": self.mode,
            "note": self.note,
        }


def default_identity(path: str) -> str:
    """An identity label from a file path as written: the path without its extension."""
    stem = str(Path(path).with_suffix("")).replace(os.sep, "/")
    return re.sub(r"[^A-Za-z0-9_.@/-]", "_", stem)


def _pair_id(source_identity: str, target_identity: str) -> str:
    def short(label: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.@-]", "_", label.rsplit("/", 1)[-1])

    return f"{short(source_identity)}_to_{short(target_identity)}"


def _int_cell(value: str, column: str, line: int, where: Path) -> int | None:
    text = value.strip()
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        raise ConfigError(f"{where}:{line}: column {column!r} must be a whole number of "
                          f"frames, got {text!r}") from None
    if number < 0:
        raise ConfigError(f"{where}:{line}: column {column!r} must be >= 0, got {number}")
    return number


def _resolve(path_text: str, root: Path) -> Path:
    path = Path(path_text).expanduser()
    return path if path.is_absolute() else root / path


def parse_pairs(text: str, root: Path, where: Path = Path("<pairs>")) -> list[EvalPair]:
    """Pairs from CSV ``text``; relative paths are joined to ``root``.

    Raises:
        ConfigError: naming the file, line and column of the first problem.
    """
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ConfigError(f"{where}: no header row and no pairs (expected columns "
                          f"{', '.join(PAIR_COLUMNS)})")
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)))
    rows = list(reader)
    header = [cell.strip() for cell in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ConfigError(f"{where}:{lines[0][0]}: header lacks column(s) {', '.join(missing)} "
                          f"(expected columns {', '.join(PAIR_COLUMNS)})")
    unknown = [c for c in header if c not in PAIR_COLUMNS]
    if unknown:
        raise ConfigError(f"{where}:{lines[0][0]}: unknown column(s) {', '.join(unknown)} "
                          f"(valid: {', '.join(PAIR_COLUMNS)})")
    pairs: list[EvalPair] = []
    seen: set[str] = set()
    for (line, _), row in zip(lines[1:], rows[1:], strict=True):
        if len(row) > len(header):
            raise ConfigError(f"{where}:{line}: {len(row)} cells but {len(header)} columns")
        cells = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        if not cells["source"] or not cells["target"]:
            raise ConfigError(f"{where}:{line}: source and target must not be empty")
        source, target = _resolve(cells["source"], root), _resolve(cells["target"], root)
        source_identity = cells.get("source_identity") or default_identity(cells["source"])
        target_identity = cells.get("target_identity") or default_identity(cells["target"])
        pair_id = cells.get("pair_id") or _pair_id(source_identity, target_identity)
        if pair_id in seen:
            raise ConfigError(f"{where}:{line}: duplicate pair_id {pair_id!r}")
        seen.add(pair_id)
        try:
            pairs.append(EvalPair(
                pair_id=pair_id, source=source, target=target,
                source_identity=source_identity, target_identity=target_identity,
                source_start=_int_cell(cells.get("source_start", ""), "source_start", line,
                                       where) or 0,
                source_end=_int_cell(cells.get("source_end", ""), "source_end", line, where),
                target_start=_int_cell(cells.get("target_start", ""), "target_start", line,
                                       where) or 0,
                note=cells.get("note", ""),
                mode=cells.get("mode", "") or "swap",
            ))
        except ValueError as error:
            raise ConfigError(f"{where}:{line}: {error}") from None
    if not pairs:
        raise ConfigError(f"{where}: the header is there but no pair rows follow")
    return pairs


def load_pairs(path: str | os.PathLike[str], data_root: str | os.PathLike[str] | None = None
               ) -> list[EvalPair]:
    """Read a pairs CSV (see the module docstring); ``data_root`` defaults to its folder."""
    csv_path = Path(path)
    if not csv_path.is_file():
        raise InputNotFoundError(f"pairs file not found: {csv_path}")
    try:
        text = csv_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{csv_path}: pairs file is not UTF-8 text") from None
    root = Path(data_root) if data_root is not None else csv_path.parent
    return parse_pairs(text, root, csv_path)


def list_videos(folder: str | os.PathLike[str]) -> list[Path]:
    """The video files directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


def pairs_from_dirs(source_dir: str | os.PathLike[str],
                    target_dir: str | os.PathLike[str] | None = None) -> list[EvalPair]:
    """Every ordered (source, target) pair of videos: all pairs of distinct files within one
    folder, or the cross product of two folders. Each file is its own identity."""
    sources = list_videos(source_dir)
    same_folder = target_dir is None or Path(target_dir).resolve() == Path(source_dir).resolve()
    targets = sources if same_folder else list_videos(target_dir)  # type: ignore[arg-type]
    if not sources or not targets:
        empty = source_dir if not sources else target_dir
        raise ConfigError(f"no video files ({', '.join(sorted(VIDEO_EXTENSIONS))}) in {empty}")
    pairs: list[EvalPair] = []
    seen: set[str] = set()
    for source in sources:
        for target in targets:
            if same_folder and source == target:
                continue
            source_identity = default_identity(str(source.name))
            target_identity = default_identity(str(target.name))
            if not same_folder and source_identity == target_identity:
                source_identity = f"src.{source_identity}"
                target_identity = f"tgt.{target_identity}"
            pair_id = _pair_id(source_identity, target_identity)
            if pair_id in seen:  # e.g. a.mp4 and a.mov
                pair_id = f"{pair_id}.{len(pairs)}"
            seen.add(pair_id)
            pairs.append(EvalPair(pair_id, source, target, source_identity, target_identity))
    if not pairs:
        raise ConfigError(f"need at least two videos in {source_dir} to make a pair")
    return pairs


def load_heldout_identities(path: str | os.PathLike[str]) -> dict[str, tuple[str, ...]]:
    """The held-out list (``eval/heldout_identities.txt``): identity -> its files.

    One ``<identity> <path>`` per line, paths relative to the shared faces folder; ``#``
    starts a comment. Training data preparation drops these files; evaluation uses them.

    Raises:
        InputNotFoundError: no such file.
        ConfigError: a line that is not two fields.
    """
    list_path = Path(path)
    if not list_path.is_file():
        raise InputNotFoundError(f"held-out identity list not found: {list_path}")
    identities: dict[str, list[str]] = {}
    for number, raw in enumerate(list_path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ConfigError(f"{list_path}:{number}: expected '<identity> <path>', got {raw!r}")
        identities.setdefault(fields[0], []).append(fields[1])
    return {identity: tuple(paths) for identity, paths in identities.items()}
