"""Uploads through the HTTP API: accepted media, and every kind of bad upload refused cleanly."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest


def test_info_lists_methods_limits_and_sets_security_headers(web):
    client = web.client(max_upload_bytes=1234)
    response = client.get("/api/info")
    assert response.status_code == 200
    info = response.json()
    assert info["methods"] == ["classic"]
    assert info["max_upload_bytes"] == 1234
    assert ".png" in info["image_extensions"] and ".mp4" in info["video_extensions"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_page_and_static_files_are_served(web):
    client = web.client()
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="/static/app.js"' in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_photo_upload_reports_kind_size_and_one_face_with_thumbnail(web, source_png):
    client = web.client()
    response = web.upload(client, source_png)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "image" and (body["width"], body["height"]) == (240, 240)
    assert body["name"] == "source.png"
    assert len(body["faces"]) == 1 and body["faces"][0]["track_id"] == 0
    preview = client.get(body["preview_url"])
    thumb = client.get(body["faces"][0]["thumbnail_url"])
    for image in (preview, thumb):
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert image.content[:2] == b"\xff\xd8"
    assert client.get(f"/api/uploads/{body['id']}").json()["faces"] == body["faces"]


def test_two_faces_give_two_thumbnails_left_to_right(web, two_faces_png):
    body = web.upload(web.client(), two_faces_png).json()
    boxes = [face["box"] for face in body["faces"]]
    assert len(boxes) == 2
    assert boxes[0][0] < boxes[1][0]
    assert {face["track_id"] for face in body["faces"]} == {0, 1}


def test_video_upload_reports_frames_and_the_tracked_face(web, face_mp4):
    body = web.upload(web.client(), face_mp4).json()
    assert body["kind"] == "video"
    assert body["frame_count"] == 8 and body["fps"] == pytest.approx(12)
    assert len(body["faces"]) == 1


def test_photo_without_a_face_is_accepted_with_no_faces(web, tmp_path):
    from openfsgan.io.media import write_image

    path = tmp_path / "gradient.png"
    write_image(path, np.tile(np.arange(128, dtype=np.uint8)[None, :, None], (96, 1, 3)))
    body = web.upload(web.client(), path).json()
    assert body["faces"] == []


@pytest.mark.parametrize("name", ["notes.txt", "run.sh", "page.html", "photo.svg", "noext",
                                  "../../etc/passwd", "..\\..\\windows\\win.ini", ""])
def test_names_without_an_accepted_extension_are_refused(web, source_png, name):
    client = web.client()
    response = web.upload(client, source_png, name=name)
    assert response.status_code in (400, 415), response.text
    assert "error" in response.json()
    assert list((client.app.state.storage.uploads_dir).iterdir()) == []


def test_traversal_in_an_accepted_name_is_stored_under_a_server_name(web, source_png, tmp_path):
    client = web.client()
    body = web.upload(client, source_png, name="../../../../escape.png").json()
    assert body["name"] == "escape.png"
    folder = client.app.state.storage.upload_dir(body["id"])
    assert sorted(p.name for p in folder.iterdir()) == ["faces", "media.png", "meta.json",
                                                        "preview.jpg"]
    assert not any(tmp_path.parent.rglob("escape.png"))


@pytest.mark.parametrize(("name", "content"), [
    ("fake.png", b"this is not an image at all" * 10),
    ("fake.mp4", b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50),
    ("script.jpg", b"<script>alert(1)</script>"),
])
def test_content_that_is_not_the_named_media_is_refused(web, source_png, name, content):
    client = web.client()
    response = web.upload(client, source_png, name=name, content=content)
    assert response.status_code == 415, response.text
    assert list(client.app.state.storage.uploads_dir.iterdir()) == []


def test_an_image_named_as_a_video_is_refused(web, source_png):
    response = web.upload(web.client(), source_png, name="clip.mp4")
    assert response.status_code == 415
    assert "image" in response.json()["error"]


def test_truncated_image_is_refused(web, source_png):
    data = source_png.read_bytes()
    response = web.upload(web.client(), source_png, content=data[: len(data) // 3])
    assert response.status_code == 415, response.text


def test_empty_file_is_refused(web, source_png):
    response = web.upload(web.client(), source_png, content=b"")
    assert response.status_code == 400
    assert "empty" in response.json()["error"]


def test_file_over_the_upload_limit_is_refused(web, source_png):
    size = source_png.stat().st_size
    client = web.client(max_upload_bytes=size - 1)
    response = web.upload(client, source_png)
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert list(client.app.state.storage.uploads_dir.iterdir()) == []
    # well over the limit: cut off by the request size guard before the form is parsed
    response = web.upload(client, source_png, content=b"\x89PNG" + b"\0" * (size + 200_000))
    assert response.status_code == 413


def test_body_streamed_without_length_is_cut_off_at_the_limit(web):
    client = web.client(max_upload_bytes=1000)

    def chunks():
        yield (b"--b\r\nContent-Disposition: form-data; name=\"file\"; "
               b"filename=\"a.png\"\r\n\r\n")
        for _ in range(200):
            yield b"\0" * 1024

    response = client.post("/api/uploads", content=chunks(),
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413


def test_image_over_the_pixel_limit_is_refused(web, huge_png):
    response = web.upload(web.client(), huge_png)
    assert response.status_code == 413, response.text


def test_request_without_a_file_field_is_refused(web):
    client = web.client()
    response = client.post("/api/uploads", files={"other": ("a.png", io.BytesIO(b"x"))})
    assert response.status_code == 400
    response = client.post("/api/uploads", content=b"raw", headers={"content-type": "image/png"})
    assert response.status_code == 400


@pytest.mark.parametrize("path", [
    "/api/uploads/..%2F..%2Fetc/preview.jpg",
    "/api/uploads/../../etc/passwd",
    "/api/uploads/0123/preview.jpg",
    "/api/uploads/" + "a" * 32 + "/preview.jpg",
    "/api/jobs/..%2Fuploads/result",
    "/api/jobs/" + "0" * 32 + "/source.jpg",
])
def test_ids_in_urls_cannot_name_other_paths(web, path):
    response = web.client().get(path)
    assert response.status_code == 404


def test_face_thumbnail_numbers_are_checked(web, source_png):
    client = web.client()
    body = web.upload(client, source_png).json()
    assert client.get(f"/api/uploads/{body['id']}/faces/7.jpg").status_code == 404
    assert client.get(f"/api/uploads/{body['id']}/faces/-1.jpg").status_code == 404


def test_upload_can_be_deleted(web, source_png):
    client = web.client()
    body = web.upload(client, source_png).json()
    assert client.delete(f"/api/uploads/{body['id']}").status_code == 200
    assert client.get(f"/api/uploads/{body['id']}").status_code == 404


def test_foreign_host_header_is_refused(web):
    client = web.client()
    response = client.get("/api/info", headers={"host": "attacker.example:7860"})
    assert response.status_code == 400


def test_cross_origin_writes_are_refused_but_same_origin_allowed(web, source_png):
    client = web.client()
    files = {"file": ("a.png", source_png.read_bytes())}
    foreign = client.post("/api/uploads", files=files, headers={"origin": "http://evil.example"})
    assert foreign.status_code == 403
    same = client.post("/api/uploads", files=files, headers={"origin": "http://127.0.0.1:7860"})
    assert same.status_code == 201


def test_uploads_older_than_the_age_limit_are_pruned_at_start(web, source_png, tmp_path: Path):
    import os

    client = web.client(data_dir=tmp_path / "d")
    body = web.upload(client, source_png).json()
    folder = client.app.state.storage.upload_dir(body["id"])
    os.utime(folder, (1, 1))
    fresh = web.client(data_dir=tmp_path / "d", upload_max_age_s=3600)
    assert fresh.get(f"/api/uploads/{body['id']}").status_code == 404
