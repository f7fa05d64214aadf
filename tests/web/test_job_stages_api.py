"""The web UI's per-stage options: listed by /api/info, taken by POST /api/jobs (stage choices
and configuration options), refused before anything is written when a name or key is wrong,
saved in the job's folder, and run by the real swap."""

from __future__ import annotations

import pytest

from openfsgan.pipelines.config import METHOD_STAGES, resolve_config
from openfsgan.stages import STAGE_IMPLEMENTATIONS


def test_info_lists_the_stages_and_the_presets(web) -> None:
    info = web.client(runner=web.FakeRunner(), methods=("classic", "neural")).get(
        "/api/info").json()
    assert info["stages"] == {stage: list(choices)
                              for stage, choices in STAGE_IMPLEMENTATIONS.items()}
    assert info["presets"] == METHOD_STAGES


def test_a_job_carries_its_resolved_configuration(web, source_png, target_png) -> None:
    runner = web.FakeRunner()
    client = web.client(runner=runner)
    job = web.start_job(client, source_png, target_png, blending="alpha",
                        options={"appearance": {"max_color_gain": 1.4}})
    web.wait(client, job["id"], {"done"})
    expected = resolve_config("classic", config={"appearance": {"max_color_gain": 1.4}},
                              blending="alpha")
    assert job["stages"] == {**METHOD_STAGES["classic"], "blending": "alpha"}
    assert runner.calls[0].config == expected.to_dict()
    assert runner.calls[0].to_swap_request().resolved_config() == expected
    saved = client.app.state.storage.job_dir(job["id"]) / "config.yaml"
    assert resolve_config(config_file=saved) == expected


@pytest.mark.parametrize(("change", "fragment"), [
    ({"blending": "feather"}, "valid choices: poisson, neural, alpha"),
    ({"reenactment": "gan"}, "valid choices: warp, neural"),
    ({"options": {"blendng": "neural"}}, "unknown option(s) blendng"),
    ({"options": {"classic": {"crop_size": 8}}}, "crop_size must be in [64, 1024]"),
])
def test_bad_stage_or_option_is_refused_and_nothing_written(web, source_png, target_png,
                                                            change, fragment) -> None:
    client = web.client(runner=web.FakeRunner())
    body = {"source_upload": web.upload(client, source_png).json()["id"],
            "target_upload": web.upload(client, target_png).json()["id"], **change}
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]
    assert client.get("/api/jobs").json()["jobs"] == []
    assert list(client.app.state.storage.jobs_dir.iterdir()) == []


def test_real_swap_with_chosen_stages(web, source_png, target_png) -> None:
    from openfsgan.io.media import read_image

    client = web.client()  # the library's own runner
    job = web.start_job(client, source_png, target_png, blending="alpha",
                        segmentation="landmarks")
    done = web.wait(client, job["id"], {"done", "failed"}, timeout_s=120)
    assert done["status"] == "done", done["error"]
    assert done["summary"]["config"]["blending"] == "alpha"
    output = client.app.state.storage.job_dir(job["id"]) / "result.png"
    assert (read_image(output) != read_image(target_png)).any()
