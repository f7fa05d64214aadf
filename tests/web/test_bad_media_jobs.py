"""Media the swap cannot use fail their job with the one-line reason, never a server error."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize(("side", "reason"), [(1, "too small to hold a face: 1x1 px"),
                                              (2, "too small to hold a face: 2x2 px"),
                                              (64, "no face found in the target photo")])
def test_a_target_photo_without_a_usable_face_fails_its_job(web, tmp_path, source_png, side,
                                                            reason):
    from openfsgan.io.media import write_image

    # a 1x1 target used to end in an OpenCV assertion inside the labeller
    target = write_image(tmp_path / "tiny.png", np.full((side, side, 3), 100, np.uint8))
    client = web.client()
    job = web.wait(client, web.start_job(client, source_png, target)["id"], {"done", "failed"},
                   timeout_s=120)
    assert job["status"] == "failed" and reason in job["error"], job
    assert "\n" not in job["error"] and job["result_url"] is None
