"""``POST /api/verify``: the provenance report of an uploaded file; the file is not kept."""

from __future__ import annotations

from openfsgan.errors import InvalidInputError


def test_the_report_of_the_verifier_is_returned_and_the_file_removed(web, source_png):
    seen = []

    def verifier(path):
        seen.append((path.name, path.read_bytes() == source_png.read_bytes()))
        return {"watermark": {"status": "not found"}, "labelled": False}

    client = web.client(verifier=verifier)
    response = client.post("/api/verify",
                           files={"file": ("../../photo.png", source_png.read_bytes())})
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "photo.png", "kind": "image",
                               "report": {"watermark": {"status": "not found"},
                                          "labelled": False}}
    assert seen == [("media.png", True)]
    assert list(client.app.state.storage.scratch_dir.iterdir()) == []


def test_files_to_verify_are_checked_like_uploads(web, source_png):
    calls = []
    client = web.client(verifier=calls.append, max_upload_bytes=source_png.stat().st_size)
    for name, content, status in [("a.txt", b"text", 415), ("a.png", b"not png", 415),
                                  ("a.png", b"", 400), ("a.mp4", source_png.read_bytes(), 415),
                                  ("a.png", source_png.read_bytes() + b"x", 413)]:
        response = client.post("/api/verify", files={"file": (name, content)})
        assert response.status_code == status, (name, response.text)
    assert calls == []
    assert list(client.app.state.storage.scratch_dir.iterdir()) == []


def test_a_verifier_error_is_a_clean_400(web, source_png):
    def verifier(path):
        raise InvalidInputError("cannot read the labels")

    client = web.client(verifier=verifier)
    response = client.post("/api/verify", files={"file": ("a.png", source_png.read_bytes())})
    assert response.status_code == 400
    assert response.json() == {"error": "cannot read the labels"}


def test_a_swap_result_verifies_as_labelled_and_its_input_does_not(web, source_png, target_png):
    client = web.client()  # the library's runner and verifier
    job = web.wait(client, web.start_job(client, source_png, target_png)["id"],
                   {"done", "failed"}, timeout_s=120)
    assert job["status"] == "done", job["error"]
    result = client.get(job["result_url"]).content
    labelled = client.post("/api/verify", files={"file": ("result.png", result)}).json()
    assert labelled["report"]["labelled"] is True
    assert labelled["report"]["watermark"]["status"] == "found"
    assert "path" not in labelled["report"]  # no server paths reach the page
    plain = client.post("/api/verify",
                        files={"file": ("target.png", target_png.read_bytes())}).json()
    assert plain["report"]["labelled"] is False
    assert plain["report"]["watermark"]["status"] == "not found"
