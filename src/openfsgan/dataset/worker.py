"""One dataset worker: loads the face models once and then makes items, one after another.

The same :class:`DatasetWorker` runs in a local pool process and as a Ray actor. It never
returns frames: :meth:`DatasetWorker.process` reads the inputs from disk, writes every output
into the dataset folder (atomically, metadata last) and returns a small record.

A fake is made by the public job API (:func:`openfsgan.jobs.run_swap`) once, to a lossless
intermediate, with a frame observer that writes the masks; the intermediate is then encoded at
each compression by the same chain as the real videos (:mod:`.encode`) and labelled again
(metadata tag and C2PA manifest bind the final bytes of each file).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import time
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from openfsgan import __version__
from openfsgan.dataset.encode import LosslessMaskWriter, encode_frames, reencode
from openfsgan.dataset.items import (
    METADATA_FORMAT,
    DatasetConfig,
    Item,
    ItemRecord,
    expected_files,
    is_complete,
    item_settings,
)
from openfsgan.dataset.layout import COMPRESSIONS, DatasetLayout
from openfsgan.dataset.methods import DATASET_METHODS
from openfsgan.io.atomic import atomic_output, write_text_atomic

if TYPE_CHECKING:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.inference import NeuralModels
    from openfsgan.types import Face, FrameFaces

log = logging.getLogger(__name__)

# a blend weight of at least one grey level (1/255) counts as manipulated
MASK_THRESHOLD = 1


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (Linux/macOS; 0 where unknown)."""
    try:
        import resource
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class MaskRecorder:
    """The frame observer of a fake: writes the binary and soft masks of every output frame.

    Called as ``observer(frame_index, output_rgb, alpha)`` once per output frame, in order;
    ``alpha`` is the frame-space blend weight (float32 in [0, 1]) or None on a frame the job
    left unchanged, whose masks are then all zero.
    """

    def __init__(self, mask_path: Path, alpha_path: Path, fps: Fraction) -> None:
        self.mask_path, self.alpha_path, self.fps = mask_path, alpha_path, fps
        self.unchanged: list[int] = []
        self.regions: dict[int, tuple[int, int, int, int]] = {}
        self.frames = 0
        self._writers: tuple[LosslessMaskWriter, LosslessMaskWriter] | None = None

    def __call__(self, index: int, rgb: np.ndarray, alpha: np.ndarray | None) -> None:
        if index != self.frames:
            raise RuntimeError(f"frame observer got frame {index}, expected {self.frames}")
        height, width = rgb.shape[:2]
        if self._writers is None:
            self._writers = (LosslessMaskWriter(self.mask_path, self.fps, width, height),
                             LosslessMaskWriter(self.alpha_path, self.fps, width, height))
        if alpha is None:
            soft = np.zeros((height, width), np.uint8)
        else:
            soft = np.clip(np.rint(np.asarray(alpha, np.float32) * 255), 0, 255).astype(np.uint8)
        binary = np.where(soft >= MASK_THRESHOLD, 255, 0).astype(np.uint8)
        self._writers[0].write(binary)
        self._writers[1].write(soft)
        ys, xs = np.nonzero(binary)
        if alpha is None or len(xs) == 0:
            self.unchanged.append(index)
        else:
            self.regions[index] = (int(xs.min()), int(ys.min()), int(xs.max()) + 1,
                                   int(ys.max()) + 1)
        self.frames += 1

    def close(self) -> None:
        if self._writers is not None:
            for writer in self._writers:
                writer.close()

    def abort(self) -> None:
        if self._writers is not None:
            for writer in self._writers:
                writer.abort()


def _face_in_region(frame_faces: FrameFaces | None, region: tuple[int, int, int, int]
                    ) -> Face | None:
    """The analysed face the swap replaced: the one whose box lies most inside the mask's
    bounding box (the mask covers the face and a margin)."""
    from openfsgan.types import BoundingBox

    if frame_faces is None or not frame_faces.faces:
        return None
    area = BoundingBox(*map(float, region))

    def inside(face: Face) -> float:
        box = face.box
        x0, y0 = max(box.x0, area.x0), max(box.y0, area.y0)
        x1, y1 = min(box.x1, area.x1), min(box.y1, area.y1)
        overlap = max(0.0, x1 - x0) * max(0.0, y1 - y0)
        return overlap / max(box.area, 1e-6)

    best = max(frame_faces.faces, key=inside)
    return best if inside(best) > 0.3 else None


def _frame_records(recorder: MaskRecorder, analysis: list[FrameFaces]
                   ) -> list[dict[str, Any]]:
    records = []
    for index in range(recorder.frames):
        region = recorder.regions.get(index)
        frame_faces = analysis[index] if index < len(analysis) else None
        face = _face_in_region(frame_faces, region) if region is not None else None
        record: dict[str, Any] = {"index": index, "swapped": region is not None,
                                  "mask_box": list(region) if region else None}
        if face is not None:
            data = face.to_dict()
            record.update(box=data["box"], landmarks=data["landmarks"], pose=data["pose"],
                          track_id=data["track_id"])
        records.append(record)
    return records


class DatasetWorker:
    """Makes items of one dataset; models load once, on the first item that needs them."""

    def __init__(self, root: str | os.PathLike[str], config: DatasetConfig) -> None:
        self.layout = DatasetLayout(Path(root))
        self.config = config
        self._analyzer: FaceAnalyzer | None = None
        self._models: NeuralModels | None = None
        self._hashes: dict[str, str] = {}
        self.name = f"{platform.node()}:{os.getpid()}"
        # the watermark is off by design in a dataset (docs/dataset.md): the labeler's warning
        # per item would only bury the progress bar; the CLI says it once
        logging.getLogger("openfsgan.provenance.labeler").setLevel(logging.ERROR)

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            from openfsgan.face.analyzer import FaceAnalyzer

            self._analyzer = FaceAnalyzer()
        return self._analyzer

    def models(self) -> NeuralModels:
        """The shipped generators, loaded on the first item with a neural stage, then kept."""
        if self._models is None:
            from openfsgan.inference import NeuralModels

            self._models = NeuralModels.load()
        return self._models

    def warm_up(self) -> str:
        """Load the models now (a pool worker does before its first item): the face
        analyser's, and the generators when a method of the build runs one."""
        self.analyzer.analyze_image(np.zeros((64, 64, 3), np.uint8))
        if any(DATASET_METHODS[m].swap_config().needs_models for m in self.config.methods):
            self.models()
        return self.name

    def process(self, item: Item, attempt: int = 1) -> dict[str, Any]:
        """Make ``item`` unless it is complete; a failure becomes a ``failed`` record.

        Returns:
            :meth:`ItemRecord.to_dict` (a plain dict, for any queue).
        """
        started = time.perf_counter()
        if is_complete(item, self.layout, self.config):
            return ItemRecord(item.key, "skipped", worker=self.name, attempts=attempt).to_dict()
        work = self.layout.work(item.key)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        try:
            if item.kind == "original":
                frames, swapped = self._original(item, work), 0
            else:
                frames, swapped = self._fake(item, work)
        except Exception as error:  # a broken input fails its item, never the run
            log.warning("%s failed: %s", item.key, error)
            return ItemRecord(item.key, "failed", reason=_reason(error), worker=self.name,
                              seconds=time.perf_counter() - started, attempts=attempt,
                              peak_rss_mb=peak_rss_mb()).to_dict()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        files = {role: self.layout.relative(path)
                 for role, path in expected_files(item, self.layout, self.config).items()}
        return ItemRecord(item.key, "done", frames=frames, frames_swapped=swapped,
                          seconds=time.perf_counter() - started, attempts=attempt,
                          worker=self.name, peak_rss_mb=peak_rss_mb(), files=files).to_dict()

    # ----------------------------------------------------------------------------- real videos

    def _original(self, item: Item, work: Path) -> int:
        """The real video through the fakes' chain: lossless intermediate, then each CRF."""
        from openfsgan.io.media import iter_frames, probe
        from openfsgan.io.paths import check_input_file

        check_input_file(item.target.path, "video")
        info = probe(item.target.path)
        intermediate = work / "lossless.mp4"
        frames = encode_frames(iter_frames(item.target.path), intermediate, info.fps,
                               info.width, info.height, crf=0, preset=self.config.preset,
                               audio_from=item.target.path if info.has_audio else None,
                               max_frames=self.config.max_frames)
        files = expected_files(item, self.layout, self.config)
        for compression in self.config.compressions:
            reencode(intermediate, files[compression], COMPRESSIONS[compression],
                     self.config.preset)
        self._write_metadata(item, {
            "kind": "original", "label": "real", "video": item.target.name,
            "identity": item.target.identity, "split": item.split,
            "input": str(item.target.path), "frames": frames, "width": info.width,
            "height": info.height, "fps": str(info.fps), "package_version": __version__,
            "encoder": self._encoder_settings(),
        })
        return frames

    # ----------------------------------------------------------------------------------- fakes

    def _fake(self, item: Item, work: Path) -> tuple[int, int]:
        from openfsgan.io.cache import analyze_cached
        from openfsgan.io.media import probe
        from openfsgan.io.paths import check_input_file
        from openfsgan.jobs import JobOptions, SwapRequest, make_labeler, run_swap

        assert item.source is not None and item.method is not None
        method = DATASET_METHODS[item.method]
        check_input_file(item.source.path, "source video")
        check_input_file(item.target.path, "target video")
        info = probe(item.target.path)
        # the target's analysis goes through the cache: the job then reads the same tracks,
        # and the metadata records the faces the job swapped
        analysis, _ = analyze_cached(item.target.path, self.analyzer)
        np.random.seed(self.config.seed)
        intermediate = work / "lossless.mp4"
        recorder = MaskRecorder(work / "mask.mp4", work / "alpha.mp4", info.fps)
        swap_config = method.swap_config()
        request = SwapRequest(item.source.path, item.target.path, intermediate,
                              method=method.preset, config=swap_config,
                              watermark=self.config.watermark,
                              watermark_profile=self.config.watermark_profile, overwrite=True,
                              max_frames=self.config.max_frames)
        options = JobOptions(crf=0, preset=self.config.preset, frame_observer=recorder)
        labeler = make_labeler(request)
        try:
            summary = run_swap(request, options=options, labeler=labeler,
                               analyzer=self.analyzer,
                               models=self.models() if swap_config.needs_models else None)
            recorder.close()
        except BaseException:
            recorder.abort()
            raise
        if recorder.frames != summary.frames_total:
            raise RuntimeError(f"masks for {recorder.frames} of {summary.frames_total} frames")
        files = expected_files(item, self.layout, self.config)
        for compression in self.config.compressions:
            with atomic_output(files[compression], suffix=".mp4") as tmp:
                reencode(intermediate, tmp, COMPRESSIONS[compression], self.config.preset)
                labeler.finalize(tmp, "video")
        for role, written in (("mask", recorder.mask_path), ("alpha", recorder.alpha_path)):
            files[role].parent.mkdir(parents=True, exist_ok=True)
            os.replace(written, files[role])
        swapped = summary.frames_total - len(recorder.unchanged)
        self._write_metadata(item, {
            "kind": "fake", "label": "fake", "method": item.method,
            "preset": method.preset, "stages": swap_config.stages,
            "source": item.source.name, "target": item.target.name,
            "source_identity": item.source.identity, "target_identity": item.target.identity,
            "source_input": str(item.source.path), "target_input": str(item.target.path),
            "split": item.split, "frames": summary.frames_total, "frames_swapped": swapped,
            "unchanged_frames": recorder.unchanged, "width": info.width, "height": info.height,
            "fps": str(info.fps), "seed": self.config.seed, "package_version": __version__,
            "watermark": self.config.watermark,
            "watermark_profile": request.watermark_profile if self.config.watermark else None,
            "run_id": labeler.run_id,
            "model_hashes": self._model_hashes(swap_config.stages),
            "configuration": summary.config or swap_config.to_dict(),
            "job": {"crf": options.crf, "preset": options.preset,
                    "segment_frames": options.segment_frames},
            "encoder": self._encoder_settings(),
            "per_frame": _frame_records(recorder, analysis),
        })
        return summary.frames_total, swapped

    # -------------------------------------------------------------------------------- metadata

    def _encoder_settings(self) -> dict[str, Any]:
        return {"codec": "libx264", "pix_fmt": "yuv420p (yuv444p for odd sizes)",
                "preset": self.config.preset,
                "crf": {c: COMPRESSIONS[c] for c in self.config.compressions},
                "chain": "decode -> H.264 CRF 0 intermediate -> H.264 at the CRF",
                "masks": "libx264rgb QP 0 (lossless)"}

    def _write_metadata(self, item: Item, body: dict[str, Any]) -> None:
        import json

        files = {}
        for role, path in expected_files(item, self.layout, self.config).items():
            files[role] = {"path": self.layout.relative(path), "bytes": path.stat().st_size}
            if role in COMPRESSIONS:
                files[role]["crf"] = COMPRESSIONS[role]
        data = {"format": METADATA_FORMAT, "key": item.key,
                "settings": item_settings(item, self.config), "files": files, **body}
        write_text_atomic(item.metadata_path(self.layout), json.dumps(data, indent=1) + "\n")

    def _model_hashes(self, stages: dict[str, str]) -> dict[str, str]:
        """SHA-256 of every model file the chosen stages run (hashed once per worker)."""
        paths = _model_files(stages)
        for path in paths.values():
            if str(path) not in self._hashes:
                self._hashes[str(path)] = _sha256(path)
        return {name: self._hashes[str(path)] for name, path in paths.items()}


def _model_files(stages: dict[str, str]) -> dict[str, Path]:
    """The face analyser's landmark model and the generator of each neural stage."""
    import face_recognition_models

    from openfsgan.inference.sessions import ONNX_FILE, shipped_model_dir

    files = {"landmarks_68": Path(face_recognition_models.pose_predictor_model_location())}
    files.update({stage: shipped_model_dir(stage) / ONNX_FILE
                  for stage, choice in stages.items() if choice == "neural"})
    return files


def _reason(error: BaseException) -> str:
    from openfsgan.errors import OpenFSGANError

    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, OpenFSGANError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
