"""The generic 3D face template: 68 points in the iBUG 300-W order, in the canonical face frame.

Frame: x towards the image's right on a frontal face (the subject's left), y down, z away from
the camera (right-handed, like the camera frame), origin at the centroid; units are about
millimetres (the outer eye corners, points 36 and 45, are 90 apart).

Origin: built by ``scripts/build_face_template.py`` from dlib 68-point landmark tracks of 20
talking-head videos in the shared research data (1,824 frames): a Tomasi-Kanade factorisation of
the video with the most head rotation gave the starting shape, refined by rigid structure from
motion (alternating least squares over scaled-orthographic cameras of every frame) and made
left/right symmetric. The RMS reprojection residual is 2.8 units on faces normalised to an RMS
radius of 50 (the rest is expression and identity, which a rigid template cannot explain);
starting from a different video's factorisation changed the result by 1.6 units RMS. Only these
numbers are derived from the data; no image or crop of it is stored.

Command: ``python scripts/build_face_template.py --landmarks-npz /tmp/landmarks.npz
3DDFA/demo@obama/obama.mp4 AniPortrait/configs/inference/head_pose_temp/pose_ref_video.mp4
LivePortrait/assets/examples/driving/*.mp4 fsgan/docs/examples/shinzo_abe.mp4
LIA/data/vox/driving1.mp4 LIA/data/vox/driving2.mp4 video-retalking/examples/face/*.mp4``
(run inside ``../shared/data/faces``).
"""

from __future__ import annotations

import numpy as np

FACE_TEMPLATE_68 = np.array([
    [ -71.78,  -31.15,   53.85],
    [ -70.41,  -12.58,   52.08],
    [ -67.40,    5.88,   52.21],
    [ -63.29,   23.75,   51.29],
    [ -56.64,   40.13,   46.67],
    [ -46.14,   54.26,   39.07],
    [ -32.62,   65.66,   30.31],
    [ -17.24,   74.53,   21.89],
    [  -0.00,   77.27,   19.00],
    [  17.24,   74.53,   21.89],
    [  32.62,   65.66,   30.31],
    [  46.14,   54.26,   39.07],
    [  56.64,   40.13,   46.67],
    [  63.29,   23.75,   51.29],
    [  67.40,    5.88,   52.21],
    [  70.41,  -12.58,   52.08],
    [  71.78,  -31.15,   53.85],
    [ -59.90,  -51.45,    1.60],
    [ -51.03,  -61.02,   -7.41],
    [ -38.36,  -64.77,  -14.96],
    [ -25.20,  -64.03,  -21.77],
    [ -12.78,  -59.50,  -26.33],
    [  12.78,  -59.50,  -26.33],
    [  25.20,  -64.03,  -21.77],
    [  38.36,  -64.77,  -14.96],
    [  51.03,  -61.02,   -7.41],
    [  59.90,  -51.45,    1.60],
    [  -0.00,  -42.91,  -24.91],
    [  -0.00,  -31.37,  -30.55],
    [  -0.00,  -20.10,  -36.71],
    [  -0.00,   -8.38,  -42.37],
    [ -13.85,    3.05,  -23.36],
    [  -7.09,    4.94,  -26.34],
    [  -0.00,    6.57,  -28.41],
    [   7.09,    4.94,  -26.34],
    [  13.85,    3.05,  -23.36],
    [ -44.97,  -37.78,   -4.68],
    [ -37.02,  -42.31,  -10.74],
    [ -27.95,  -42.40,  -12.35],
    [ -19.81,  -36.86,  -10.48],
    [ -28.41,  -35.20,  -11.13],
    [ -37.55,  -35.07,   -9.42],
    [  19.81,  -36.86,  -10.48],
    [  27.95,  -42.40,  -12.35],
    [  37.02,  -42.31,  -10.74],
    [  44.97,  -37.78,   -4.68],
    [  37.55,  -35.07,   -9.42],
    [  28.41,  -35.20,  -11.13],
    [ -26.38,   30.89,    3.49],
    [ -16.71,   23.58,  -12.75],
    [  -7.01,   19.73,  -21.37],
    [  -0.00,   21.45,  -22.24],
    [   7.01,   19.73,  -21.37],
    [  16.71,   23.58,  -12.75],
    [  26.38,   30.89,    3.49],
    [  17.20,   39.70,   -2.75],
    [   7.64,   43.39,   -7.78],
    [  -0.00,   44.11,   -8.48],
    [  -7.64,   43.39,   -7.78],
    [ -17.20,   39.70,   -2.75],
    [ -21.94,   30.81,    1.04],
    [  -7.10,   26.80,  -18.12],
    [  -0.00,   27.29,  -19.49],
    [   7.10,   26.80,  -18.12],
    [  21.94,   30.81,    1.04],
    [   7.23,   33.11,   -9.48],
    [  -0.00,   33.89,  -10.37],
    [  -7.23,   33.11,   -9.48],
], dtype=np.float64)
"""``[68, 3]`` generic face shape (see the module docstring)."""
FACE_TEMPLATE_68.flags.writeable = False
