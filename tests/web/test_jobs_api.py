"""Job life cycle through the HTTP API: queue order, progress, cancel, delete, failures, restart.

The queue's behaviour is tested with a runner that copies the target (deterministic and
instant); ``test_real_swap_*`` runs the library's classic swap on two small astronaut photos.
"""

from __future__ import annotations

import threading

import pytest

from openfsgan.errors import NoFaceError


def test_job_runs_reports_progress_and_serves_its_result(web, source_png, target_png):
    runner = web.FakeRunner(steps=4)
    client = web.client(runner=runner)
    job = web.start_job(client, source_png, target_png, label="synthetic", source_face=0)
    assert job["status"] in ("queued", "running")
    assert job["source_name"] == "source.png" and job["target_name"] == "target.png"
    done = web.wait(client, job["id"], {"done"})
    assert (done["done"], done["total"], done["fraction"]) == (4, 4, 1.0)
    assert done["summary"]["frames"] == 4
    spec = runner.calls[0]
    assert (spec.method, spec.mode, spec.watermark, spec.label) == ("classic", "swap", True,
                                                                     "synthetic")
    assert spec.source_face == 0 and spec.target_face is None and not spec.resume
    result = client.get(done["result_url"])
    assert result.status_code == 200 and result.headers["content-type"] == "image/png"
    assert result.content == (client.app.state.storage.job_dir(job["id"]) / "result.png"
                              ).read_bytes()
    attachment = client.get(done["result_url"], params={"download": 1})
    assert attachment.headers["content-disposition"].startswith("attachment")
    assert "target-swap.png" in attachment.headers["content-disposition"]
    for role in ("source", "target"):
        assert client.get(done[f"{role}_preview_url"]).status_code == 200
    partial = client.get(done["result_url"], headers={"range": "bytes=0-7"})
    assert partial.status_code == 206 and partial.content == result.content[:8]


def test_jobs_queue_and_run_one_at_a_time_in_order(web, source_png, target_png):
    gate = threading.Event()
    runner = web.FakeRunner(steps=2, gate=gate)
    client = web.client(runner=runner)
    first = web.start_job(client, source_png, target_png)
    assert runner.started.wait(10)
    second = web.start_job(client, source_png, target_png)
    third = web.start_job(client, source_png, target_png)
    running = web.wait(client, first["id"], {"running"})
    assert running["done"] == 1 and running["total"] == 2
    assert client.get(f"/api/jobs/{second['id']}").json()["status"] == "queued"
    listed = [job["id"] for job in client.get("/api/jobs").json()["jobs"]]
    assert listed == [third["id"], second["id"], first["id"]]  # newest first
    gate.set()
    for job in (first, second, third):
        web.wait(client, job["id"], {"done"})
    assert runner.max_running == 1
    assert [call.output for call in runner.calls] == [
        str(client.app.state.storage.job_dir(job["id"]) / "result.png")
        for job in (first, second, third)]


def test_cancel_a_running_job_and_a_queued_one(web, source_png, target_png):
    gate = threading.Event()
    runner = web.FakeRunner(steps=3, gate=gate)
    client = web.client(runner=runner)
    running = web.start_job(client, source_png, target_png)
    assert runner.started.wait(10)
    queued = web.start_job(client, source_png, target_png)
    cancelled = client.post(f"/api/jobs/{queued['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    response = client.post(f"/api/jobs/{running['id']}/cancel").json()
    assert response["status"] in ("running", "cancelled")
    stopped = web.wait(client, running["id"], {"cancelled", "done", "failed"})
    assert stopped["status"] == "cancelled" and stopped["result_url"] is None
    assert len(runner.calls) == 1  # the queued job never ran
    assert client.get(f"/api/jobs/{running['id']}/result").status_code == 404


def test_a_running_job_cannot_be_deleted_a_finished_one_is_removed_with_its_files(web, source_png,
                                                                                  target_png):
    gate = threading.Event()
    client = web.client(runner=web.FakeRunner(steps=2, gate=gate))
    job = web.start_job(client, source_png, target_png)
    web.wait(client, job["id"], {"running"})
    response = client.delete(f"/api/jobs/{job['id']}")
    assert response.status_code == 409 and "cancel it first" in response.json()["error"]
    gate.set()
    web.wait(client, job["id"], {"done"})
    folder = client.app.state.storage.job_dir(job["id"])
    assert (folder / "result.png").is_file()
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 200
    assert not folder.exists()
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404
    assert client.get("/api/jobs").json()["jobs"] == []


def test_failures_are_reported_as_one_line(web, source_png, target_png):
    client = web.client(runner=web.FakeRunner(fail_with=NoFaceError("no face found in source")))
    job = web.wait(client, web.start_job(client, source_png, target_png)["id"], {"failed"})
    assert job["error"] == "no face found in source"
    client = web.client(runner=web.FakeRunner(fail_with=ZeroDivisionError("division by zero")))
    job = web.wait(client, web.start_job(client, source_png, target_png)["id"], {"failed"})
    assert job["error"] == "internal error: ZeroDivisionError: division by zero"


@pytest.mark.parametrize(("change", "status", "fragment"), [
    ({"method": "magic"}, 400, "unknown method"),
    ({"source_face": 3}, 400, "no face with track id 3"),
    ({"target_upload": "f" * 32}, 404, "no such upload"),
    ({"source_upload": "../../etc"}, 422, "source_upload"),
    ({"label": "x" * 81}, 422, "label"),
    ({"max_frames": 0}, 422, "max_frames"),
    ({"mode": "morph"}, 422, "mode"),
    ({"shell": "rm -rf /"}, 422, "shell"),
])
def test_invalid_job_requests_are_refused(web, source_png, target_png, change, status, fragment):
    client = web.client(runner=web.FakeRunner())
    body = {"source_upload": web.upload(client, source_png).json()["id"],
            "target_upload": web.upload(client, target_png).json()["id"], **change}
    response = client.post("/api/jobs", json=body)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]
    assert client.get("/api/jobs").json()["jobs"] == []
    assert list(client.app.state.storage.jobs_dir.iterdir()) == []


def test_restart_lists_finished_jobs_and_resumes_the_interrupted_one(web, tmp_path, source_png,
                                                                     target_png):
    data = tmp_path / "data"
    gate = threading.Event()
    client = web.client(data_dir=data, runner=web.FakeRunner(steps=2))
    finished = web.wait(client, web.start_job(client, source_png, target_png)["id"], {"done"})
    web.stop(client)
    client = web.client(data_dir=data, runner=web.FakeRunner(steps=3, gate=gate))
    interrupted = web.start_job(client, source_png, target_png)
    web.wait(client, interrupted["id"], {"running"})
    web.stop(client)  # shutdown while the job runs: it is left to resume

    runner = web.FakeRunner(steps=3)
    client = web.client(data_dir=data, runner=runner)
    resumed = web.wait(client, interrupted["id"], {"done"})
    assert resumed["resumes"] == 1
    assert runner.calls[0].resume is True
    jobs = {job["id"]: job for job in client.get("/api/jobs").json()["jobs"]}
    assert jobs[finished["id"]]["status"] == "done"
    assert client.get(jobs[finished["id"]]["result_url"]).status_code == 200


def test_real_swap_of_two_astronaut_photos(web, source_png, target_png):
    from openfsgan.io.media import read_image

    client = web.client()  # the library's own runner: openfsgan.jobs.run_swap
    job = web.start_job(client, source_png, target_png)
    done = web.wait(client, job["id"], {"done", "failed"}, timeout_s=120)
    assert done["status"] == "done", done["error"]
    output = client.app.state.storage.job_dir(job["id"]) / "result.png"
    result, target = read_image(output), read_image(target_png)
    assert result.shape == target.shape
    assert (result != target).any()


def test_robust_watermark_profile_reaches_the_request(web, source_png, target_png):
    runner = web.FakeRunner(steps=1)
    client = web.client(runner=runner)
    job = web.start_job(client, source_png, target_png, watermark_profile="robust")
    web.wait(client, job["id"], {"done"})
    spec = runner.calls[0]
    assert spec.watermark_profile == "robust"
    assert spec.to_swap_request().watermark_profile == "robust"
    source_id = web.upload(client, source_png).json()["id"]
    target_id = web.upload(client, target_png).json()["id"]
    refused = client.post("/api/jobs", json={"source_upload": source_id,
                                             "target_upload": target_id,
                                             "watermark_profile": "loud"})
    assert refused.status_code == 422
