"""The resumable work folder of a video job: its location, the fingerprint that tells whether
an interrupted run may be continued, the per-segment state, and the final join of segments.

Everything that touches ``.<output name>.openfsgan-work/`` is here, so the on-disk format and
its version are defined in one place. Besides the segments and ``state.json``, the folder holds
``config.yaml``, the resolved configuration of the run (what ``--config`` reads back).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openfsgan import __version__
from openfsgan.errors import OutputError
from openfsgan.io.atomic import write_text_atomic
from openfsgan.jobs.request import JobOptions, SwapRequest, list_photos

if TYPE_CHECKING:
    from openfsgan.pipelines.config import SwapConfig

log = logging.getLogger(__name__)

WORK_STATE_VERSION = 1


def work_folder(output: Path) -> Path:
    """The hidden folder beside ``output`` holding an unfinished video job."""
    return output.parent / f".{output.name}.openfsgan-work"


def _file_stamp(path: Path | None) -> list[Any]:
    if path is None:
        return []
    if path.is_dir():
        return [str(path.resolve())] + [_file_stamp(p) for p in list_photos(path)]
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


CONFIG_FILE = "config.yaml"


def request_fingerprint(request: SwapRequest, config: SwapConfig, options: JobOptions) -> str:
    """What the frames of a job depend on: inputs (path, size, mtime), the resolved
    configuration, options, version."""
    data = {
        "version": __version__,
        "source": _file_stamp(request.source),
        "target": _file_stamp(request.target),
        "target_reference": _file_stamp(request.target_reference),
        "request": {k: v for k, v in asdict(request).items()
                    if k in ("method", "mode", "source_face", "target_face", "watermark",
                             "watermark_profile", "label", "max_frames")},
        "config": config.to_dict(),
        # the observer watches frames, it does not make them (and is no JSON)
        "options": json.loads(json.dumps(asdict(replace(options, frame_observer=None,
                                                      finetune_progress=None)),
                                         default=str)),
    }
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Segment:
    file: str
    start: int
    frames: int
    swapped: int
    passed_through: int


class WorkState:
    """Segments finished so far and what the next segment needs to continue seamlessly."""

    def __init__(self, folder: Path, fingerprint: str, run_id: str | None = None) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self.run_id = run_id
        self.segments: list[Segment] = []
        self.processor_state: dict[str, Any] = {}
        self.last_box: list[float] | None = None

    @property
    def path(self) -> Path:
        return self.folder / "state.json"

    @property
    def frames_done(self) -> int:
        return sum(s.frames for s in self.segments)

    def save(self) -> None:
        data = {"format": "openfsgan-swap-work", "version": WORK_STATE_VERSION,
                "fingerprint": self.fingerprint, "run_id": self.run_id,
                "segments": [asdict(s) for s in self.segments],
                "processor_state": self.processor_state, "last_box": self.last_box}
        write_text_atomic(self.path, json.dumps(data, indent=1))

    @staticmethod
    def saved_run_id(output: Path) -> str | None:
        """The run id of the unfinished job writing ``output``, if there is one."""
        try:
            data = json.loads((work_folder(output) / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        run_id = data.get("run_id") if isinstance(data, dict) else None
        return run_id if isinstance(run_id, str) else None

    @staticmethod
    def open(output: Path, fingerprint: str, resume: bool, run_id: str | None = None,
             config: SwapConfig | None = None) -> WorkState:
        """The work folder of ``output``: the interrupted run's (``resume``, same
        fingerprint) or a new one, holding ``config`` as :data:`CONFIG_FILE`."""
        folder = work_folder(output)
        state = WorkState(folder, fingerprint, run_id)
        if folder.exists() and resume:
            state._load()
            log.info("resuming %s: %d frames already done", output, state.frames_done)
            return state
        if folder.exists():
            log.info("discarding the unfinished earlier run in %s (pass --resume to continue "
                     "it)", folder)
            shutil.rmtree(folder)
        elif resume:
            log.info("nothing to resume for %s: starting from the first frame", output)
        folder.mkdir(parents=True)
        if config is not None:
            config.to_yaml(folder / CONFIG_FILE)
        state.save()
        return state

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != "openfsgan-swap-work" or data.get(
                    "version") != WORK_STATE_VERSION:
                raise ValueError("not a work state of this version")
            fingerprint = data["fingerprint"]
            segments = [Segment(**s) for s in data["segments"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise OutputError(f"cannot resume: the work folder {self.folder} is unreadable "
                              f"({error}); run again without --resume") from error
        if fingerprint != self.fingerprint:
            raise OutputError(f"cannot resume: the inputs or options changed since the "
                              f"interrupted run ({self.folder}); run again without --resume")
        for segment in segments:
            if not (self.folder / segment.file).is_file():
                raise OutputError(f"cannot resume: segment {segment.file} is missing from "
                                  f"{self.folder}; run again without --resume")
        self.segments = segments
        self.processor_state = data.get("processor_state") or {}
        self.last_box = data.get("last_box")
        for leftover in self.folder.glob(".*.partial*"):  # a segment cut short by a kill
            leftover.unlink(missing_ok=True)


def concat_segments(segments: list[Path], output: Path, fps: Fraction,
                    frame_counts: list[int], audio_from: Path | None) -> None:
    """Join H.264 MP4 segments into ``output`` by remuxing (no re-encoding), adding the audio
    of ``audio_from`` (cut at the video's end).

    Each segment starts with a key frame and is encoded with the same settings, so the packets
    can follow each other; timestamps are shifted by the frames before each segment.
    """
    import av

    container: Any = av.open(str(output), mode="w", format="mp4")
    opened: list[Any] = []
    try:
        first: Any = av.open(str(segments[0]))
        opened.append(first)
        video_out = container.add_stream_from_template(first.streams.video[0])
        audio_in: Any = None
        audio_out: Any = None
        audio_source: Any = None
        if audio_from is not None:
            audio_source = av.open(str(audio_from))
            opened.append(audio_source)
            if audio_source.streams.audio:
                audio_in = audio_source.streams.audio[0]
                audio_out = container.add_stream_from_template(audio_in)
        frames_before = 0
        for segment, count in zip(segments, frame_counts, strict=True):
            source: Any = first if segment == segments[0] else av.open(str(segment))
            if source is not first:
                opened.append(source)
            stream = source.streams.video[0]
            offset = round(Fraction(frames_before) / fps / stream.time_base)
            for packet in source.demux(stream):
                if packet.dts is None:
                    continue
                packet.pts += offset
                packet.dts += offset
                packet.stream = video_out
                container.mux(packet)
            frames_before += count
            if source is not first:
                source.close()
                opened.remove(source)
        if audio_in is not None and audio_source is not None:
            duration_s = Fraction(frames_before) / fps
            for packet in audio_source.demux(audio_in):
                if packet.dts is None:
                    continue
                if packet.pts is not None and packet.pts * audio_in.time_base >= duration_s:
                    break
                packet.stream = audio_out
                container.mux(packet)
    finally:
        container.close()
        for handle in opened:
            handle.close()


def remove_work_folder(output: str | os.PathLike[str]) -> bool:
    """Delete the unfinished work of a job writing ``output``; True if there was some."""
    folder = work_folder(Path(output))
    if folder.exists():
        shutil.rmtree(folder)
        return True
    return False
