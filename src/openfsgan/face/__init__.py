"""Face analysis: detection, tracking, 68 2D landmarks, 3D landmarks, head pose, alignment."""
