"""Swap and reenactment jobs: the I/O layer shared by the CLI, the web UI and the evaluation.

:func:`run_swap` takes a :class:`SwapRequest` (source, target, output and options), reads the
inputs, runs the frame pipeline (:mod:`openfsgan.pipelines`) and writes the output, and returns
a :class:`JobSummary`.

* SOURCE: a photo, a folder of photos or a video. Every view of the chosen source face goes into
  the appearance map (near-duplicate poses fused, sharpest kept). Video sources are analysed
  through the analysis cache.
* TARGET: a photo or a video. The output keeps its resolution, frame count, fps and audio.
  Frames without the chosen face pass through unchanged and are counted.
* Video is streamed end to end (decode -> analyse -> swap -> encode, one frame at a time), so
  memory stays flat for any length.
* Resumable: finished frames are encoded in segments of ``JobOptions.segment_frames`` frames into
  a hidden work folder beside the output (``.<output name>.openfsgan-work/``), with a small JSON
  state written after each segment. An interrupted job (Ctrl-C, kill, cancel) continues with
  ``resume=True`` from the first unfinished segment. At the end the segments are joined by
  remuxing their H.264 packets (no re-encoding) with the target's audio into a temporary file
  that is renamed onto the output; the final path never holds a partial file.
* Provenance: every frame goes through :meth:`OutputLabeler.label_frame` before it is encoded,
  and the complete file through :meth:`OutputLabeler.finalize` before it is renamed into place.

Modules, each importing only those above it:

* :mod:`.request`: the request, options, summary, labeler hook and the request checks.
* :mod:`.threads`: the reader and writer threads of a video job.
* :mod:`.resume`: the resumable work folder and the final join of its segments.
* :mod:`.sources`: face analysis, the target face selector and the prepared source face.
* :mod:`.processors`: what happens to one target frame, per mode, with the configured stages.
* :mod:`.run`: :func:`run_swap`, which ties them together.

This package re-exports the names used outside it; the rest is reached through its module. No
module uses another's private (underscored) names.

The configuration of a job (:class:`SwapConfig`: stage choices and every setting) is
``SwapRequest.config``, or the ``method`` preset when None; :func:`resolve_config` builds one
from a preset, a YAML file and stage choices. ``JobSummary.config`` and the output's metadata
carry the resolved one.
"""

from openfsgan.jobs.request import (
    FrameObserver,
    JobCancelled,
    JobOptions,
    JobSummary,
    NullLabeler,
    SwapRequest,
)
from openfsgan.jobs.resume import work_folder
from openfsgan.jobs.run import make_labeler, run_swap
from openfsgan.jobs.sources import load_source_appearance
from openfsgan.pipelines.config import METHODS, SwapConfig, resolve_config

__all__ = [
    "METHODS",
    "FrameObserver",
    "JobCancelled",
    "JobOptions",
    "JobSummary",
    "NullLabeler",
    "SwapConfig",
    "SwapRequest",
    "load_source_appearance",
    "make_labeler",
    "resolve_config",
    "run_swap",
    "work_folder",
]
