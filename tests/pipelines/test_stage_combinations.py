"""Every combination of stage implementations runs, in swap and in reenact mode, on a short
synthetic clip: output size, frame count, the face changed (and, for a swap, the rest of the
frame did not); plus the configuration tree (presets, YAML, overrides, bad names and keys)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from openfsgan.errors import ConfigError
from openfsgan.face.analyzer import FaceAnalyzer
from openfsgan.io.media import VideoWriter, write_image
from openfsgan.jobs import JobOptions, NullLabeler, SwapRequest, run_swap, work_folder
from openfsgan.pipelines.config import (
    METHOD_STAGES,
    STAGE_CHOICES,
    SwapConfig,
    build_stages,
    resolve_config,
)
from openfsgan.stages import STAGE_IMPLEMENTATIONS

WIDTH, HEIGHT, FRAMES = 320, 240, 3
COMBINATIONS = [dict(zip(STAGE_CHOICES, choice, strict=True))
                for choice in itertools.product(*STAGE_CHOICES.values())]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from matplotlib import cbook
    from PIL import Image

    from openfsgan.benchmarking import astronaut_frame

    folder = tmp_path_factory.mktemp("combinations")
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        hopper = np.asarray(Image.open(handle).convert("RGB"))
    # the astronaut moves and turns over the clip: a driver whose motion shows
    frames = [astronaut_frame(WIDTH, HEIGHT, i, FRAMES, mirror=True, face_fraction=0.9)
              for i in range(FRAMES)]
    clip = folder / "clip.mp4"
    with VideoWriter(clip, 25, WIDTH, HEIGHT, preset="ultrafast") as writer:
        for frame in frames:
            writer.write(frame)
    from openfsgan.io.media import iter_frames

    decoded = [frame.rgb for frame in iter_frames(clip)]  # what the job reads
    return {"source": write_image(folder / "hopper.png", hopper), "clip": clip,
            "frames": decoded, "hopper": hopper}  # type: ignore[dict-item]


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


def _run(media: dict, analyzer: FaceAnalyzer, out: Path, mode: str,
         stages: dict[str, str]) -> tuple[list[tuple[int, np.ndarray, np.ndarray | None]], dict]:
    observed: list[tuple[int, np.ndarray, np.ndarray | None]] = []
    config = resolve_config("classic", **stages)
    summary = run_swap(
        SwapRequest(media["source"], media["clip"], out, mode=mode, watermark=False,
                    config=config),
        options=JobOptions(segment_frames=2, preset="ultrafast", use_cache=False,
                           frame_observer=lambda i, rgb, alpha: observed.append((i, rgb, alpha))),
        labeler=NullLabeler(), analyzer=analyzer)
    assert summary.frames_total == FRAMES and summary.frames_swapped == FRAMES
    assert summary.config == config.to_dict()
    return observed, summary.config


def _face_box(analyzer: FaceAnalyzer, rgb: np.ndarray) -> tuple[slice, slice]:
    box = analyzer.analyze_image(rgb).largest().box  # type: ignore[union-attr]
    return (slice(int(box.y0 + 0.3 * box.height), int(box.y1 - 0.1 * box.height)),
            slice(int(box.x0 + 0.2 * box.width), int(box.x1 - 0.2 * box.width)))


@pytest.mark.parametrize("stages", COMBINATIONS, ids=lambda s: "-".join(s.values()))
def test_every_combination_swaps(media: dict, analyzer: FaceAnalyzer, tmp_path: Path,
                                 stages: dict[str, str]) -> None:
    from openfsgan.io.media import probe

    out = tmp_path / "out.mp4"
    observed, _ = _run(media, analyzer, out, "swap", stages)
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (WIDTH, HEIGHT, FRAMES)
    assert [index for index, _, _ in observed] == list(range(FRAMES))
    for index, rgb, alpha in observed:
        target = media["frames"][index]
        assert rgb.shape == target.shape and rgb.dtype == np.uint8 and alpha is not None
        inner = _face_box(analyzer, target)
        # Grace Hopper's face replaces the astronaut's; far from it nothing moved
        assert np.abs(rgb.astype(int) - target)[inner].mean() > 6
        assert np.array_equal(rgb[alpha == 0], target[alpha == 0])
        assert np.array_equal(rgb[:12, :12], target[:12, :12])


@pytest.mark.parametrize("stages", [*COMBINATIONS[::5], METHOD_STAGES["neural"]],
                         ids=lambda s: "-".join(s.values()))
def test_combinations_reenact(media: dict, analyzer: FaceAnalyzer, tmp_path: Path,
                              stages: dict[str, str]) -> None:
    """Reenact mode runs its reenactment stage whatever the other choices (recorded only)."""
    out = tmp_path / "out.mp4"
    observed, config = _run(media, analyzer, out, "reenact", stages)
    assert config["blending"] == stages["blending"]
    hopper = media["hopper"]
    assert [index for index, _, _ in observed] == list(range(FRAMES))
    assert all(rgb.shape == hopper.shape for _, rgb, _ in observed)
    # the driver moved between its first and last frame: so did the driven face
    last = observed[-1][1]
    assert np.abs(last.astype(int) - hopper)[_face_box(analyzer, hopper)].mean() > 3
    assert np.array_equal(last[:12, :12], hopper[:12, :12])


def test_reenactment_stage_decides_how_reenact_mode_drives(media: dict, analyzer: FaceAnalyzer,
                                                           tmp_path: Path) -> None:
    warp, _ = _run(media, analyzer, tmp_path / "warp.mp4", "reenact",
                   {"reenactment": "warp", "blending": "neural"})
    generator, _ = _run(media, analyzer, tmp_path / "gr.mp4", "reenact",
                        {"reenactment": "neural", "blending": "neural"})
    other_blend, _ = _run(media, analyzer, tmp_path / "warp2.mp4", "reenact",
                          {"reenactment": "warp", "blending": "alpha"})
    assert not np.array_equal(warp[-1][1], generator[-1][1])
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(warp, other_blend, strict=True))


def test_stages_are_what_the_configuration_names() -> None:
    for stages in COMBINATIONS:
        if "neural" in stages.values():
            continue
        built = build_stages(resolve_config(**stages), lambda: pytest.fail("no models needed"))
        assert built.names() == stages
    loaded: list[int] = []

    def models() -> object:
        from openfsgan.inference import NeuralModels

        loaded.append(1)
        return NeuralModels.load(threads=1)

    built = build_stages(SwapConfig.preset("neural"), models)  # type: ignore[arg-type]
    assert built.names() == METHOD_STAGES["neural"] and loaded == [1]  # loaded once


def test_light_stage_list_matches_the_pipeline() -> None:
    assert STAGE_IMPLEMENTATIONS == STAGE_CHOICES


def test_presets_yaml_and_flags(tmp_path: Path) -> None:
    assert resolve_config().stages == METHOD_STAGES["classic"]
    assert resolve_config("neural").stages == METHOD_STAGES["neural"]
    yaml_file = tmp_path / "swap.yaml"
    yaml_file.write_text("method: neural\nblending: alpha\nappearance:\n  max_color_gain: 1.5\n"
                         "classic:\n  poisson_cycles: 3\n", encoding="utf-8")
    from_file = resolve_config(config_file=yaml_file)
    assert from_file.method == "neural" and from_file.blending == "alpha"
    assert from_file.reenactment == "neural" and from_file.appearance.max_color_gain == 1.5
    assert from_file.classic.poisson_cycles == 3 and from_file.classic.crop_size == 256
    # flags override the file; --method overrides its method
    flagged = resolve_config("classic", config_file=yaml_file, blending="neural")
    assert flagged.stages == {**METHOD_STAGES["classic"], "blending": "neural"}
    assert flagged.appearance.max_color_gain == 1.5
    # the resolved configuration round-trips through its dict and YAML
    assert SwapConfig.from_dict(flagged.to_dict()) == flagged
    flagged.to_yaml(tmp_path / "saved.yaml")
    assert resolve_config(config_file=tmp_path / "saved.yaml") == flagged
    assert "custom" in flagged.describe() and "classic" in resolve_config().describe()


def test_a_fine_tuned_g_r_gets_the_full_identity_strength_by_default() -> None:
    """``--finetune``: G_r tuned on the source takes the source's whole shape (measured: no
    pose bend), unless a flag or file sets the strength; the mesh warp is unaffected; eval's
    ``--finetune`` resolves the same configuration as swap's."""
    from openfsgan.evaluation.runner import EvalConfig
    from openfsgan.pipelines.config import (
        FINETUNED_IDENTITY_STRENGTH,
        IDENTITY_STRENGTH_BY_REENACTMENT,
    )

    tuned = {"finetune": {"steps": 20}}
    untuned = IDENTITY_STRENGTH_BY_REENACTMENT["neural"]
    assert untuned != FINETUNED_IDENTITY_STRENGTH
    assert resolve_config("neural", config=tuned).appearance.identity_strength == \
        FINETUNED_IDENTITY_STRENGTH
    assert resolve_config("neural", config={"finetune": {"steps": 0}}
                          ).appearance.identity_strength == untuned
    explicit = {**tuned, "appearance": {"identity_strength": 0.3}}
    assert resolve_config("neural", config=explicit).appearance.identity_strength == 0.3
    assert resolve_config("classic", config=tuned).appearance.identity_strength == \
        IDENTITY_STRENGTH_BY_REENACTMENT["warp"]
    evaluated = EvalConfig(methods=("neural",), finetune_steps=20).swap_config("neural")
    assert evaluated == resolve_config("neural", config=tuned)


def test_the_default_identity_strength_follows_the_reenactment_stage(tmp_path: Path) -> None:
    from openfsgan.pipelines.config import IDENTITY_STRENGTH_BY_REENACTMENT

    strengths = IDENTITY_STRENGTH_BY_REENACTMENT
    assert strengths["warp"] == 1.0 and strengths["neural"] < 1.0
    assert resolve_config().appearance.identity_strength == strengths["warp"]
    assert resolve_config("neural").appearance.identity_strength == strengths["neural"]
    # the stage decides, not the preset it started from
    assert resolve_config("classic", reenactment="neural").appearance.identity_strength == \
        strengths["neural"]
    assert resolve_config("neural", reenactment="warp").appearance.identity_strength == 1.0
    # a setting in a file or mapping wins, and other appearance settings stay
    yaml_file = tmp_path / "strength.yaml"
    yaml_file.write_text("appearance:\n  identity_strength: 0.8\n", encoding="utf-8")
    assert resolve_config("neural", config_file=yaml_file).appearance.identity_strength == 0.8
    mixed = resolve_config("neural", {"appearance": {"max_color_gain": 1.3}})
    assert mixed.appearance.identity_strength == strengths["neural"]
    assert mixed.appearance.max_color_gain == 1.3
    # the resolved value is recorded, so a saved configuration replays the same swap
    assert SwapConfig.from_dict(resolve_config("neural").to_dict()).appearance \
        .identity_strength == strengths["neural"]
    # a library request without a configuration gets the same defaults as the command line
    from openfsgan.jobs import SwapRequest

    request = SwapRequest(tmp_path / "s.png", tmp_path / "t.mp4", tmp_path / "o.mp4",
                          method="neural")
    assert request.resolved_config() == resolve_config("neural")
    assert request.resolved_config().appearance.identity_strength == strengths["neural"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"blending": "feather"}, "unknown blending 'feather'; valid choices: poisson, neural, alpha"),
    ({"reenactment": "gan"}, "valid choices: warp, neural"),
    ({"method": "fsgan"}, "unknown method 'fsgan'; valid choices: classic, neural"),
    ({"config": {"blendng": "neural"}}, "unknown option(s) blendng; valid keys: method,"),
    ({"config": {"segmentation": "unet"}}, "valid choices: landmarks, neural"),
    ({"config": {"classic": {"poisson_cycle": 3}}}, "SwapConfig.classic: ClassicConfig: "
                                                    "unknown option(s) poisson_cycle"),
    ({"config": {"neural": {"reenactment_steps": 0}}}, "reenactment_steps must be in [1, 8]"),
])
def test_bad_names_and_keys_fail_with_the_valid_choices(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_config(**kwargs)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_work_folder_holds_the_resolved_configuration(media: dict, analyzer: FaceAnalyzer,
                                                          tmp_path: Path) -> None:
    import threading

    from openfsgan.jobs import JobCancelled

    out = tmp_path / "cut.mp4"
    config = resolve_config("classic", blending="alpha")
    cancel = threading.Event()
    with pytest.raises(JobCancelled):
        run_swap(SwapRequest(media["source"], media["clip"], out, watermark=False,
                             config=config),
                 options=JobOptions(segment_frames=1, preset="ultrafast", use_cache=False),
                 labeler=NullLabeler(), analyzer=analyzer, cancel=cancel,
                 progress=lambda done, total: cancel.set() if done == 1 else None)
    saved = work_folder(out) / "config.yaml"
    assert resolve_config(config_file=saved) == config
    # a resume with another configuration is refused, not mixed into the same video
    from openfsgan.errors import OutputError

    with pytest.raises(OutputError, match="changed"):
        run_swap(SwapRequest(media["source"], media["clip"], out, watermark=False, resume=True,
                             config=resolve_config("classic")),
                 options=JobOptions(segment_frames=1, preset="ultrafast", use_cache=False),
                 labeler=NullLabeler(), analyzer=analyzer)


def test_a_request_whose_method_and_configuration_disagree_is_refused(media: dict,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "never.png"
    with pytest.raises(ConfigError, match="differ"):
        run_swap(SwapRequest(media["source"], media["source"], out, method="classic",
                             config=resolve_config("neural")), labeler=NullLabeler())
    assert not out.exists()


def test_the_generators_resample_another_stages_crop_to_their_own(media: dict,
                                                                  analyzer: FaceAnalyzer) -> None:
    from openfsgan.face.align import estimate_alignment, transform_points
    from openfsgan.pipelines.classic import MeshWarpReenactor
    from openfsgan.pipelines.neural import network_frame
    from openfsgan.pipelines.swap import align_target

    frame = media["frames"][0]
    face = analyzer.analyze_image(frame).largest()
    assert face is not None
    warp_crop = align_target(frame, face, MeshWarpReenactor())  # 256 px, margin 0.15
    mapped = network_frame(warp_crop, 128)
    assert not mapped.same and network_frame(warp_crop, 128) is mapped  # made once
    own = estimate_alignment(face.landmarks, 128)
    np.testing.assert_allclose(mapped.points, transform_points(face.landmarks, own.matrix))
    # the swap's crop brought to the generators' equals their crop cut from the frame ...
    resampled = mapped.to_network_crop(warp_crop.image.rgb).astype(int)
    inner = (slice(16, 112), slice(16, 112))
    assert np.abs(resampled - mapped.target.rgb)[inner].mean() < 4
    # ... and back again, the swap's crop (blurred by the round trip only)
    back = mapped.from_network_crop(mapped.target.rgb).astype(int)
    assert back.shape == warp_crop.image.rgb.shape
    assert np.abs(back - warp_crop.image.rgb)[64:192, 64:192].mean() < 8
    # G_r's own crop needs no resampling
    from openfsgan.face.align import warp_to_crop
    from openfsgan.pipelines.stages import CropImage, TargetCrop

    same = TargetCrop(frame, face, own, CropImage(rgb=warp_to_crop(frame, own)),
                      transform_points(face.landmarks, own.matrix))
    assert network_frame(same, 128).same
    assert network_frame(same, 128).to_network_crop(same.image.rgb) is same.image.rgb
