"""Training data: prepared face datasets (aligned crops, landmarks, poses, pseudo-masks)."""
