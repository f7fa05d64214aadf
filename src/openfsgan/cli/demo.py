"""``openfsgan demo``: two people swapped both ways, on built-in material, with no downloads.

The two people are scikit-image's astronaut photo and matplotlib's public-domain portrait of
Grace Hopper; both libraries ship them, so nothing is fetched and no files of yours are read.
From each photo the demo synthesises a short moving clip (the photo drifting, rolling, zooming
and turning a little, like a head in a video), then runs six jobs through the public job API
(:class:`openfsgan.jobs.SwapRequest` and :func:`openfsgan.jobs.run_swap`), each writing a
labelled output (watermark, metadata tag and C2PA manifest, the default):

* each person's photo swapped onto the other's photo;
* each person's photo swapped onto the other's clip;
* each person's photo reenacted, driven by the other's clip.

For every job it writes a side-by-side PNG (source | target | output) and prints an identity
check: the dlib face descriptor's distance from the output face to the source person and to
the target person, so that a reader sees the swap carried the source's identity.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEMO_FRAMES = 60
DEMO_FPS = 24
DEMO_SIZE = (480, 360)
MOTION_PERIOD_S = 2.5
# face box height in the synthetic clips, as a fraction of the frame height
CLIP_FACE_FRACTION = 0.34
COMPARE_HEIGHT = 300  # height of each image in the side-by-side PNGs
LABEL = "openfsgan demo: synthetic"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="swap and reenact two people on built-in example material",
        description="Swaps scikit-image's astronaut and matplotlib's Grace Hopper both ways "
                    "(photo onto photo, photo onto a synthetic moving clip of the other) and "
                    "reenacts each driven by the other's clip, with the public job API. "
                    "Nothing is downloaded and no files of yours are read. Writes the labelled "
                    "outputs, a side-by-side PNG per job and prints an identity check per job.")
    parser.add_argument("-o", "--output-dir", default="demo-output",
                        help="folder for the results (default ./demo-output)")
    parser.add_argument("--frames", type=int, default=DEMO_FRAMES,
                        help=f"length of each synthetic clip in frames, at {DEMO_FPS} fps "
                             f"(default {DEMO_FRAMES})")
    parser.set_defaults(handler=run)


# --------------------------------------------------------------------------- the material

@dataclass(frozen=True)
class DemoPerson:
    """One of the demo's two people.

    Attributes:
        slug: file-name part (``astronaut``).
        title: how the printout names the person.
        credit: where the photo comes from.
        photo: ``uint8 [H, W, 3]`` RGB photo.
        face_center: ``(x, y)`` of the face in the photo, pixels.
        face_height: height of the face box in the photo, pixels.
    """

    slug: str
    title: str
    credit: str
    photo: np.ndarray
    face_center: tuple[float, float]
    face_height: float


def demo_people() -> tuple[DemoPerson, DemoPerson]:
    """The astronaut and Grace Hopper, with their faces located once by the face analyser."""
    import matplotlib.cbook
    from skimage import data

    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.io.media import read_image

    hopper = read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    photos = (("astronaut", "the astronaut", "scikit-image's data.astronaut()",
               data.astronaut()),
              ("grace_hopper", "Grace Hopper", "matplotlib's sample grace_hopper.jpg", hopper))
    analyzer = FaceAnalyzer()
    people = []
    for slug, title, credit, photo in photos:
        face = analyzer.analyze_image(photo).largest()
        if face is None:  # the shipped photos always have one; a broken install may not
            from openfsgan.errors import NoFaceError

            raise NoFaceError(f"no face found on the demo photo of {title}")
        box = face.box
        people.append(DemoPerson(slug, title, credit, photo,
                                 ((box.x0 + box.x1) / 2.0, (box.y0 + box.y1) / 2.0),
                                 float(box.y1 - box.y0)))
    return people[0], people[1]


def clip_motion(index: int) -> tuple[float, float, float, float, float]:
    """Head motion of frame ``index``: ``(dx, dy, roll_deg, zoom, turn)``.

    ``dx, dy`` are fractions of the frame size, ``turn`` in [-1, 1] how far the face is turned
    sideways (a perspective squeeze of one side). One smooth loop every ``MOTION_PERIOD_S``
    seconds, whatever the clip's length (so that a short clip moves as gently as a long one and
    the tracker follows it), with the components out of phase so that the face keeps moving.
    """
    phase = 2.0 * math.pi * index / (DEMO_FPS * MOTION_PERIOD_S)
    return (0.06 * math.sin(phase), 0.03 * math.sin(2.0 * phase), 7.0 * math.sin(phase + 1.0),
            1.0 + 0.08 * math.sin(phase + 2.0), math.sin(phase + 0.5))


def demo_frame(person: DemoPerson, index: int, width: int = DEMO_SIZE[0],
               height: int = DEMO_SIZE[1]) -> np.ndarray:
    """Frame ``index`` of ``person``'s synthetic clip (``uint8 [height, width, 3]``): the photo
    with its face centred at ``CLIP_FACE_FRACTION`` of the frame height, moved by
    :func:`clip_motion`."""
    import cv2

    dx, dy, roll_deg, zoom, turn = clip_motion(index)
    scale = zoom * CLIP_FACE_FRACTION * height / person.face_height
    center = (width / 2.0 + dx * width, height * 0.4 + dy * height)
    # photo -> frame: rotate and scale about the face, then move the face to ``center``
    affine = cv2.getRotationMatrix2D(person.face_center, roll_deg, scale)
    affine[:, 2] += np.array(center) - np.array(person.face_center)
    # a small sideways turn: the side turning away shrinks vertically (a perspective squeeze
    # about the face, +-4 % at the face's edge)
    half = 0.5 * CLIP_FACE_FRACTION * height * zoom
    squeeze = 0.04 * turn
    cx, cy = center
    quad_from = np.array([[cx - half, cy - half], [cx + half, cy - half],
                          [cx + half, cy + half], [cx - half, cy + half]], np.float32)
    quad_to = np.array([[cx - half, cy - half * (1 + squeeze)],
                        [cx + half, cy - half * (1 - squeeze)],
                        [cx + half, cy + half * (1 - squeeze)],
                        [cx - half, cy + half * (1 + squeeze)]], np.float32)
    homography = cv2.getPerspectiveTransform(quad_from, quad_to) @ np.vstack([affine, [0, 0, 1]])
    size = (width, height)
    frame = cv2.warpPerspective(person.photo, homography, size, flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.full(person.photo.shape[:2], 255, np.uint8), homography,
                                 size, flags=cv2.INTER_NEAREST) > 0
    # where the moved photo leaves the frame: the photo stretched over it, blurred and dimmed,
    # so that no second face appears there (a mirrored border would add one)
    backdrop = cv2.GaussianBlur(cv2.resize(person.photo, size), (0, 0), 12) * 0.7
    return np.where(inside[:, :, None], frame, backdrop.astype(np.uint8))


def _write_clip(path: Path, person: DemoPerson, frames: int) -> None:
    from openfsgan.io.media import VideoWriter

    with VideoWriter(path, DEMO_FPS, DEMO_SIZE[0], DEMO_SIZE[1]) as writer:
        for index in range(frames):
            writer.write(demo_frame(person, index))


def demo_analyzer() -> Any:
    """The face analyser of the demo's jobs: the default, with detection on every frame.

    The tracker between detections drops Grace Hopper's face on a few frames of her clip (the
    68-point predictor flickers on her glasses, which reads as a lost face), and a dropped frame
    passes through unswapped; on a 480x360 clip detecting every frame costs about 20 ms.
    """
    from dataclasses import replace

    from openfsgan.face.analyzer import AnalyzerConfig, FaceAnalyzer
    from openfsgan.face.track import TrackerConfig

    return FaceAnalyzer(AnalyzerConfig(tracker=replace(TrackerConfig(), detect_every=1)))


def _write_overlay(clip: Path, overlay: Path, analyzer: Any) -> int:
    """The face analysis of ``clip`` drawn on it (landmarks, track id, head pose); returns
    the number of frames with a face. The analysis goes into the analysis cache, where the
    jobs on this clip find it."""
    from openfsgan.face.draw import draw_frame
    from openfsgan.io.cache import analyze_cached
    from openfsgan.io.media import VideoWriter, iter_frames, probe

    analysis, _ = analyze_cached(clip, analyzer)
    info = probe(clip)
    with VideoWriter(overlay, info.fps, info.width, info.height) as writer:
        for frame in iter_frames(clip):
            writer.write(draw_frame(frame.rgb, analysis[frame.index]))
    return sum(1 for faces in analysis if faces.faces)


# --------------------------------------------------------------------------- the jobs

@dataclass(frozen=True)
class DemoJob:
    """One demo job: ``source`` person's photo onto (or driven by) ``target`` person's media.

    Attributes:
        mode: ``"swap"`` or ``"reenact"``.
        source, target: the two people.
        target_kind: ``"photo"`` or ``"clip"``.
    """

    mode: str
    source: DemoPerson
    target: DemoPerson
    target_kind: str

    @property
    def name(self) -> str:
        if self.mode == "swap":
            return f"swap_{self.source.slug}_onto_{self.target.slug}_{self.target_kind}"
        return f"reenact_{self.source.slug}_by_{self.target.slug}_{self.target_kind}"

    @property
    def description(self) -> str:
        if self.mode == "swap":
            return f"{self.source.title} swapped onto {self.target.title}'s {self.target_kind}"
        return f"{self.source.title}'s photo driven by {self.target.title}'s {self.target_kind}"


def demo_jobs(first: DemoPerson, second: DemoPerson) -> list[DemoJob]:
    """Every job of the demo: both ways for each kind."""
    jobs = []
    for mode, kind in (("swap", "photo"), ("swap", "clip"), ("reenact", "clip")):
        jobs += [DemoJob(mode, first, second, kind), DemoJob(mode, second, first, kind)]
    return jobs


@dataclass(frozen=True)
class IdentityCheck:
    """Face-descriptor distances (dlib ResNet, Euclidean; same person below about 0.6) from
    the output face to the source and the target person, averaged over ``frames`` frames."""

    to_source: float
    to_target: float
    frames: int

    @property
    def carried(self) -> bool:
        """The output is nearer the source person than the target person."""
        return self.to_source < self.to_target


class _Describer:
    """Face descriptors of the largest face on frames (analyser and network loaded once)."""

    def __init__(self, analyzer: Any) -> None:
        from openfsgan.metrics.identity import FaceDescriptor

        self.analyzer = analyzer
        self.network = FaceDescriptor()

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        face = self.analyzer.analyze_image(rgb).largest()
        return None if face is None else self.network.describe(rgb, face.landmarks)


def _sample_indices(frames: int) -> list[int]:
    """Frames shown in a clip's side-by-side PNG and described by the identity check."""
    return sorted({0, frames // 2, frames - 1})


def _frames_at(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    from openfsgan.io.media import iter_frames, read_image

    if path.suffix.lower() not in {".mp4", ".m4v", ".mov"}:
        return {0: read_image(path)}
    wanted = set(indices)
    found = {}
    for frame in iter_frames(path):
        if frame.index in wanted:
            found[frame.index] = frame.rgb
        if frame.index >= max(wanted):
            break
    return found


def identity_check(describe: _Describer, source_photo: np.ndarray,
                   targets: dict[int, np.ndarray], outputs: dict[int, np.ndarray]
                   ) -> IdentityCheck:
    """Mean descriptor distance of the output faces to the source photo's face and to the
    target frames' faces (each output frame against the target frame it was made from)."""
    source = describe(source_photo)
    to_source, to_target = [], []
    for index, output in outputs.items():
        found, target = describe(output), describe(targets[index])
        if source is None or found is None or target is None:
            continue
        to_source.append(float(np.linalg.norm(found - source)))
        to_target.append(float(np.linalg.norm(found - target)))
    if not to_source:
        return IdentityCheck(math.nan, math.nan, 0)
    return IdentityCheck(float(np.mean(to_source)), float(np.mean(to_target)), len(to_source))


# --------------------------------------------------------------------------- the pictures

def _titled(image: np.ndarray, title: str, height: int) -> np.ndarray:
    """``image`` scaled to ``height`` with ``title`` on a bar above it."""
    import cv2

    width = max(1, round(image.shape[1] * height / image.shape[0]))
    scaled = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    bar = np.full((28, width, 3), 255, np.uint8)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.55
    text_width = cv2.getTextSize(title, font, scale, 1)[0][0]
    scale *= min(1.0, (width - 12) / max(text_width, 1))  # shrink a long title to fit the image
    cv2.putText(bar, title, (6, 20), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, scaled], axis=0)


def side_by_side(source: np.ndarray, targets: dict[int, np.ndarray],
                 outputs: dict[int, np.ndarray], titles: tuple[str, str, str],
                 height: int = COMPARE_HEIGHT) -> np.ndarray:
    """One row per frame in ``outputs``: source | target frame | output frame (``uint8``)."""
    rows = []
    for index in sorted(outputs):
        suffix = f", frame {index}" if len(outputs) > 1 else ""
        cells = [_titled(source, titles[0], height),
                 _titled(targets[index], titles[1] + suffix, height),
                 _titled(outputs[index], titles[2] + suffix, height)]
        gap = np.full((cells[0].shape[0], 8, 3), 255, np.uint8)
        rows.append(np.concatenate([cells[0], gap, cells[1], gap, cells[2]], axis=1))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 8), (0, width - row.shape[1]), (0, 0)), constant_values=255)
            for row in rows]
    return np.concatenate(rows, axis=0)


# --------------------------------------------------------------------------- the command

@dataclass(frozen=True)
class DemoResult:
    """What one demo job wrote and how its identity check came out."""

    job: DemoJob
    output: Path
    compare_png: Path
    frames_changed: int
    frames_total: int
    identity: IdentityCheck


def _run_job(job: DemoJob, inputs: dict[tuple[str, str], Path], folder: Path, frames: int,
             analyzer: Any, describe: _Describer) -> DemoResult:
    from openfsgan.jobs import SwapRequest, run_swap

    source = inputs[(job.source.slug, "photo")]
    target = inputs[(job.target.slug, job.target_kind)]
    output = folder / f"{job.name}{'.png' if job.target_kind == 'photo' else '.mp4'}"
    request = SwapRequest(source, target, output, mode=job.mode, overwrite=True, label=LABEL)
    summary = run_swap(request, analyzer=analyzer)
    indices = _sample_indices(frames) if job.target_kind == "clip" else [0]
    targets, outputs = _frames_at(target, indices), _frames_at(output, indices)
    check = identity_check(describe, job.source.photo, targets, outputs)
    verb = "swapped" if job.mode == "swap" else "driven"
    titles = (f"source: {job.source.title}", f"target: {job.target.title}",
              f"output: {job.source.title} {verb}")
    png = folder / f"{job.name}_compare.png"
    _write_labelled_png(png, side_by_side(job.source.photo, targets, outputs, titles), request)
    return DemoResult(job, output, png, summary.frames_swapped, summary.frames_total, check)


def _write_labelled_png(path: Path, rgb: np.ndarray, request: Any) -> None:
    """Write ``rgb`` labelled like the job's own output (it shows that output): watermark,
    metadata tag and C2PA manifest, atomically."""
    from dataclasses import replace

    from openfsgan.io.atomic import atomic_output
    from openfsgan.io.media import write_image
    from openfsgan.jobs import make_labeler

    labeler = make_labeler(replace(request, output=path, label=None))
    with atomic_output(path) as tmp:
        write_image(tmp, labeler.label_frame(rgb, 0))
        labeler.finalize(tmp, "image")


def _identity_line(result: DemoResult) -> str:
    check, job = result.identity, result.job
    if check.frames == 0:
        return "identity: no face found on the output to describe"
    verdict = (f"nearer {job.source.title} (the source)" if check.carried
               else f"NOT nearer the source: looks like {job.target.title}")
    return (f"identity: distance to source {check.to_source:.3f}, to target "
            f"{check.to_target:.3f} -> {verdict}")


def run(args: argparse.Namespace) -> int:
    import time

    from openfsgan.errors import ConfigError, OutputError
    from openfsgan.io.media import write_image

    if not 8 <= args.frames <= 600:
        raise ConfigError(f"--frames must be in [8, 600], got {args.frames}")
    folder = Path(args.output_dir)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--output-dir is a file, expected a folder: {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    first, second = demo_people()
    inputs: dict[tuple[str, str], Path] = {}
    for person in (first, second):
        inputs[(person.slug, "photo")] = folder / f"{person.slug}.png"
        write_image(inputs[(person.slug, "photo")], person.photo)
        inputs[(person.slug, "clip")] = folder / f"{person.slug}_clip.mp4"
        _write_clip(inputs[(person.slug, "clip")], person, args.frames)

    analyzer = demo_analyzer()
    tracked = {person.slug: _write_overlay(inputs[(person.slug, "clip")],
                                           folder / f"{person.slug}_clip_analysis.mp4", analyzer)
               for person in (first, second)}
    describe = _Describer(analyzer)
    if not args.quiet:
        print(f"writing the demo into {folder.resolve()}")
    results = []
    for job in demo_jobs(first, second):
        results.append(_run_job(job, inputs, folder, args.frames, analyzer, describe))
        if not args.quiet:
            _print_result(results[-1])
    if not args.quiet:
        print(f"demo written to {folder.resolve()} in {time.perf_counter() - started:.0f} s; "
              "its inputs:")
        for person in (first, second):
            print(f"  {person.slug}.png: {person.title} ({person.credit})")
            print(f"  {person.slug}_clip.mp4: a {args.frames}-frame synthetic clip made from "
                  "that photo (moving, rolling, zooming, turning a little); "
                  f"{person.slug}_clip_analysis.mp4: its face analysis (face found on "
                  f"{tracked[person.slug]} frames)")
        print("  every swap and reenactment output and its side-by-side PNG is watermarked, "
              "tagged and C2PA-signed as synthetic (check one: openfsgan verify FILE)")
    return 0


def _print_result(result: DemoResult) -> None:
    frames = ("" if result.job.target_kind == "photo"
              else f", {result.frames_changed}/{result.frames_total} frames")
    print(f"{result.job.description}{frames}")
    print(f"  {result.output.name} and {result.compare_png.name} (source | target | output)")
    print(f"  {_identity_line(result)}")
